"""Laboratory forms: order, collect, cancel, review, amend; the catalogue's test and panel forms."""
from wtforms import (
    BooleanField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ...forms import AppForm
from ...models.labs import AGE_UNITS, PRIORITIES, RANGE_SEXES, RESULT_TYPES, SPECIMENS
from ...money import MoneyError, major_str, to_minor
from ...services.labs.flags import BadValue, parse_number


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        pass  # unknown ids are dropped by the catalogue service (other clinics' ids are simply not found)


class OrderForm(AppForm):
    patient_id = HiddenField()
    visit_id = HiddenField()
    panels = MultiCheckbox("Panels", choices=[])
    tests = MultiCheckbox("Single tests", choices=[])
    priority = SelectField("Priority", choices=[SelectChoice(p, p.capitalize()) for p in PRIORITIES], default="routine")
    note = TextAreaField("Clinical note", validators=[Optional(), Length(max=1000)], render_kw={"rows": 2},
                         description="Why the tests are needed; shown to the lab and on the report.")

    def validate_tests(self, field):
        if not field.data and not self.panels.data:
            raise ValidationError("Pick at least one test or panel.")


class CollectForm(AppForm):
    label = StringField("Specimen id / barcode", validators=[Optional(), Length(max=60)],
                        render_kw={"autocomplete": "off"})
    note = StringField("Collection note", validators=[Optional(), Length(max=500)])


class CancelForm(AppForm):
    reason = StringField("Reason for cancelling", validators=[
        DataRequired(message="Give the reason for cancelling."), Length(max=500)])


class ReviewForm(AppForm):
    comment = TextAreaField("Review comment", validators=[Optional(), Length(max=1000)], render_kw={"rows": 2})


class EmptyForm(AppForm):
    """CSRF only: the results form's inputs are named per test and read by the view."""


class AmendForm(AppForm):
    value = StringField("Corrected value", validators=[DataRequired(message="Enter the corrected value.")])
    reason = TextAreaField("Reason for the correction", render_kw={"rows": 2}, validators=[
        DataRequired(message="Give the reason for the correction."), Length(max=500)])


# -- catalogue ------------------------------------------------------------------------


def _split(text):
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _float(label):
    return StringField(label, validators=[Optional()], render_kw={"inputmode": "decimal", "autocomplete": "off",
                                                                 "size": 6})


class RangeForm(AppForm):
    class Meta(AppForm.Meta):
        csrf = False  # a sub-form: the outer form carries the token

    sex = SelectField("Sex", choices=[SelectChoice(s, s) for s in RANGE_SEXES], default="any")
    age_min = IntegerField("Age from", validators=[Optional(), NumberRange(min=0)], render_kw={"size": 3})
    age_max = IntegerField("Age to", validators=[Optional(), NumberRange(min=0)], render_kw={"size": 3})
    age_unit = SelectField("Unit", choices=[SelectChoice(u, u) for u in AGE_UNITS], default="years")
    low = _float("Low")
    high = _float("High")
    critical_low = _float("Critical low")
    critical_high = _float("Critical high")

    LIMITS = ("low", "high", "critical_low", "critical_high")
    ORDER = ("critical_low", "low", "high", "critical_high")  # how the limits must rise
    MAX_AGE = {"days": 366 * 150, "months": 12 * 150, "years": 150}

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        self.limits = {}
        for name in self.LIMITS:
            try:
                number = parse_number(self[name].data or "")
            except BadValue as exc:
                self[name].errors.append(str(exc))
                ok = False
            else:
                self.limits[name] = None if number is None else float(number)
        top = self.MAX_AGE.get(self.age_unit.data, 150)
        for name in ("age_min", "age_max"):
            if self[name].data is not None and self[name].data > top:
                self[name].errors.append(f"At most {top} {self.age_unit.data}.")
                ok = False
        if ok and None not in (self.age_min.data, self.age_max.data) and self.age_min.data > self.age_max.data:
            self.age_max.errors.append("Must not be below the age it starts from.")
            ok = False
        if ok:
            ok = self._limits_rise()
        return ok

    def _limits_rise(self):
        """Critical low ≤ low ≤ high ≤ critical high (missing limits skipped); the error goes beside the limit."""
        given = [(n, self.limits[n]) for n in self.ORDER if self.limits.get(n) is not None]
        for (before, low), (name, value) in zip(given, given[1:]):
            if value < low:
                self[name].errors.append(f"Must not be below {self[before].label.text.lower()} ({low:g}).")
                return False
        return True

    def is_blank(self):
        return all(not (self[n].data or "").strip() for n in self.LIMITS) and \
            self.age_min.data is None and self.age_max.data is None

    def values(self):
        return {"sex": self.sex.data, "age_min": self.age_min.data, "age_max": self.age_max.data,
                "age_unit": self.age_unit.data, **{n: self.limits.get(n) for n in self.LIMITS}}


def _num(x):
    return "" if x is None else f"{x:g}"


class LabTestForm(AppForm):
    code = StringField("Code", validators=[DataRequired(message="Give the test a short code."), Length(max=30)])
    name = StringField("Name", validators=[DataRequired(message="Give the test a name."), Length(max=120)])
    loinc = StringField("LOINC code", validators=[Optional(), Length(max=20)], description="Optional, e.g. 2823-3")
    specimen = SelectField("Specimen", choices=[SelectChoice(s, s) for s in SPECIMENS], default="blood")
    result_type = SelectField("Result type", choices=[SelectChoice(t, t) for t in RESULT_TYPES], default="numeric")
    unit = StringField("Unit", validators=[Optional(), Length(max=30)])
    decimals = IntegerField("Decimals", default=1, validators=[Optional(), NumberRange(min=0, max=4)])
    choices = StringField("Choices", validators=[Optional(), Length(max=600)],
                          description="Choice results: the options, separated by commas.")
    normal_choices = StringField("Normal choices", validators=[Optional(), Length(max=600)],
                                 description="Those that are normal; any other choice is flagged abnormal.")
    price = StringField("Price", validators=[Optional()], description="For billing, in the clinic's currency.")
    active = BooleanField("Offered for ordering", default=True)
    ranges = FieldList(FormField(RangeForm), min_entries=1)

    def __init__(self, *args, currency="USD", **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def validate_price(self, field):
        try:
            self.price_minor = to_minor(field.data or "0", self.currency)
        except MoneyError as exc:
            raise ValidationError(str(exc)) from None
        if self.price_minor < 0:
            raise ValidationError("The price cannot be negative.")

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        # Here, not in validate_choices: Optional() stops a field's own validators when it is empty.
        choices = _split(self.choices.data)
        if len(choices) > 20 or any(len(c) > 60 for c in choices):
            self.choices.errors.append("At most 20 choices of up to 60 characters each.")
            ok = False
        if self.result_type.data == "choice":
            if not choices:
                self.choices.errors.append("A choice result needs its choices, separated by commas.")
                ok = False
            else:
                unknown = set(_split(self.normal_choices.data)) - set(_split(self.choices.data))
                if unknown:
                    self.normal_choices.errors.append(f"Not among the choices: {', '.join(sorted(unknown))}.")
                    ok = False
        return ok

    def values(self):
        return {"code": self.code.data.strip().upper(), "name": self.name.data.strip(),
                "loinc": (self.loinc.data or "").strip() or None, "specimen": self.specimen.data,
                "result_type": self.result_type.data, "unit": (self.unit.data or "").strip() or None,
                "decimals": self.decimals.data if self.decimals.data is not None else 0,
                "choices": _split(self.choices.data), "normal_choices": _split(self.normal_choices.data),
                "price": self.price_minor, "active": bool(self.active.data)}

    def range_values(self):
        return [entry.form.values() for entry in self.ranges if not entry.form.is_blank()]

    @classmethod
    def for_test(cls, test, currency, **kwargs):
        data = {f: getattr(test, f) for f in ("code", "name", "loinc", "specimen", "result_type", "unit",
                                              "decimals", "active")}
        data.update(choices=", ".join(test.choices or []), normal_choices=", ".join(test.normal_choices or []),
                    price=major_str(test.price or 0, currency),
                    ranges=[{"sex": r.sex, "age_min": r.age_min, "age_max": r.age_max, "age_unit": r.age_unit,
                             **{n: _num(getattr(r, n)) for n in RangeForm.LIMITS}} for r in test.ranges])
        form = cls(data=data, currency=currency, **kwargs)
        return form


class PanelForm(AppForm):
    code = StringField("Code", validators=[DataRequired(message="Give the panel a short code."), Length(max=30)])
    name = StringField("Name", validators=[DataRequired(message="Give the panel a name."), Length(max=120)])
    tests = MultiCheckbox("Tests", choices=[])
    active = BooleanField("Offered for ordering", default=True)

    def validate_tests(self, field):
        if not field.data:
            raise ValidationError("Pick at least one test.")
