"""Catalogue and stock forms."""
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ...forms import AppForm, MoneyField, money_amount, stop_if_unparsed, strip_text
from ...localtime import parse_local_date
from ...money import major_str
from ...models.pharmacy import ADJUST_REASONS, FORMS, UNITS
from ...services.pharmacy.stock import today as stock_today


MAX_UNITS = 10_000_000
# Medicines rarely keep more than five years; ten catches a mistyped year (2205 for 2025) without refusing real stock.
MAX_SHELF_YEARS = 10


def _whole(label, minimum=0, **kw):
    return IntegerField(label, invalid_value_message="Enter a whole number.", validators=[
        InputRequired(message="Enter a number."), stop_if_unparsed, NumberRange(min=minimum, max=MAX_UNITS,
                                                              message=f"Enter a whole number from {minimum} to {MAX_UNITS:,}.")],
        render_kw={"inputmode": "numeric", "autocomplete": "off"}, **kw)


class MedicineForm(AppForm):
    name = StringField("Name", filters=[strip_text], validators=[DataRequired(message="Enter the medicine's name."),
                                                            Length(max=120)])
    generic_name = StringField("Generic name", filters=[strip_text], validators=[Optional(), Length(max=120)],
                               description="The active ingredient, e.g. amoxicillin: used by the allergy check.")
    form = SelectField("Form", choices=[SelectChoice(f, f.capitalize()) for f in FORMS])
    strength = StringField("Strength", filters=[strip_text], validators=[Optional(), Length(max=60)],
                           description="e.g. 500 mg, 125 mg/5 ml")
    dispensing_unit = SelectField("Dispensing unit", choices=[SelectChoice(u) for u in UNITS],
                                  description="What one unit of stock is: quantities are counted in it.")
    pack_size = _whole("Pack size", 1, description="Units in one pack, e.g. 21 capsules or 100 ml")
    sale_price = MoneyField("Sale price per unit", validators=[money_amount(0)], render_kw={"inputmode": "decimal"})
    reorder_level = _whole("Reorder level", 0, description="Listed as low stock at or below this many units.")

    @classmethod
    def for_medicine(cls, medicine, currency):
        """The edit form: what was posted, else the medicine's values with its price as typed ("12.50")."""
        form = cls(obj=medicine)
        form.sale_price.currency = currency
        # Not posted (a GET, or a POST without the field) means as it is: obj= gave the field the stored
        # integer minor units, which read_money cannot read (a 500 before).
        if not form.sale_price.raw_data:
            form.sale_price.data = major_str(medicine.sale_price or 0, currency)
        return form

    def values(self):
        return {"name": self.name.data, "generic_name": self.generic_name.data or None, "form": self.form.data,
                "strength": self.strength.data or None, "dispensing_unit": self.dispensing_unit.data,
                "pack_size": self.pack_size.data, "sale_price": self.sale_price.minor(),
                "reorder_level": self.reorder_level.data}


class ReceiveForm(AppForm):
    lot = StringField("Lot number", filters=[strip_text], validators=[
        DataRequired(message="Enter the lot number."), Length(max=40, message="At most 40 characters.")])
    expiry = StringField("Expiry date", filters=[strip_text], validators=[DataRequired(message="Enter the expiry date.")])
    quantity = _whole("Quantity received", 1)
    unit_cost = MoneyField("Unit cost", validators=[money_amount(0)], render_kw={"inputmode": "decimal"})
    supplier = StringField("Supplier", filters=[strip_text], validators=[Optional(), Length(max=120)])

    def validate_expiry(self, field):
        self.expiry_date = parse_local_date(field.data)
        if self.expiry_date is None:
            raise ValidationError("Enter the date in the clinic's format or as YYYY-MM-DD.")
        today = stock_today()
        if self.expiry_date < today:
            raise ValidationError("This lot has already expired: expired stock cannot be received.")
        if self.expiry_date > today.replace(year=today.year + MAX_SHELF_YEARS, day=min(today.day, 28)):
            raise ValidationError(f"That is more than {MAX_SHELF_YEARS} years away: check the year.")


class AdjustForm(AppForm):
    direction = SelectField("Change", choices=[SelectChoice("remove", "Remove units"),
                                               SelectChoice("add", "Add units")])
    quantity = _whole("Quantity", 1)
    reason = SelectField("Reason", choices=[SelectChoice(k, v) for k, v in ADJUST_REASONS.items()])
    note = TextAreaField("Note", filters=[strip_text], validators=[Optional(), Length(max=300)],
                         render_kw={"rows": 2}, description="Required when the reason is “other”.")

    def validate_note(self, field):
        if self.reason.data == "other" and not field.data:
            raise ValidationError("Say why when the reason is “other”.")

    def delta(self):
        return self.quantity.data if self.direction.data == "add" else -self.quantity.data
