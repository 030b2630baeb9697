"""Billing forms: invoice lines, void, credit note, payment, refund, credit, price list items.

Amounts are typed in major units ("12.50") and read into integer minor units of the clinic's
currency; percentages as "10" or "8.25" and read into basis points.
"""
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ...forms import AppForm, MoneyField, money_amount, strip_text
from ...models.invoicing import PAYMENT_METHODS, PRICE_KINDS
from ...money import MoneyError, format_money, major_str, read_money
from ...services.billing.totals import MAX_AMOUNT, TotalsError, parse_rate, rate_label

def _amount(minimum, maximum=MAX_AMOUNT):
    return money_amount(minimum, maximum)


def tax_choices(settings):
    """The clinic's tax rates for a <select>: value = basis points."""
    choices = [SelectChoice("0", "No tax (0%)")]
    choices += [SelectChoice(str(t["rate"]), f"{t['name']} ({rate_label(t['rate'])})")
                for t in settings.tax_rates or []]
    return choices


def _whole(label, minimum=1, maximum=100_000):
    return IntegerField(label, default=1, invalid_value_message="Enter a whole number.", validators=[
        InputRequired(message="Enter a number."),
        NumberRange(min=minimum, max=maximum, message=f"Enter a whole number from {minimum} to {maximum}.")],
        render_kw={"inputmode": "numeric", "autocomplete": "off"})


DISCOUNTS = [SelectChoice("", "No discount"), SelectChoice("amount", "Amount off"),
             SelectChoice("percent", "Percent off")]


class LineForm(AppForm):
    """A hand-made line: a price list item (its name and price unless typed) or free text."""

    price_item_id = SelectField("From the price list", choices=[], validate_choice=False)
    description = StringField("Description", filters=[strip_text], validators=[Optional(), Length(max=250)])
    quantity = _whole("Quantity")
    unit_price = MoneyField("Unit price", validators=[Optional(), _amount(0)], render_kw={"inputmode": "decimal"})
    discount_kind = SelectField("Discount", choices=DISCOUNTS, default="")
    discount_value = StringField("Discount amount or %", filters=[strip_text], validators=[Optional()],
                                 render_kw={"inputmode": "decimal", "autocomplete": "off"})
    tax_rate = SelectField("Tax", choices=[], validate_choice=False)

    # A new line's tax is the price list item's unless another is chosen (the select always sends a
    # value, so "0" cannot mean "the item's rate"); a free-text line without a choice has none.
    ITEM_RATE = SelectChoice("", "As on the price list (free text: no tax)")

    def setup(self, settings, items=()):
        self.unit_price.currency = settings.currency
        self.tax_rate.choices = ([self.ITEM_RATE] if self.ITEM_RATE else []) + tax_choices(settings)
        self.price_item_id.choices = [SelectChoice("", "— free text —")] + [
            SelectChoice(str(i.pk), f"{i.name} ({i.code})") for i in items]
        self._items = {str(i.pk): i for i in items}
        self._currency = settings.currency
        return self

    @property
    def item(self):
        return self._items.get(self.price_item_id.data or "")

    def validate_price_item_id(self, field):
        if field.data and field.data not in self._items:
            raise ValidationError("Choose an item from the list.")

    def validate_description(self, field):
        if not field.data and self.item is None:
            raise ValidationError("Choose an item from the price list or describe the line.")

    def validate_tax_rate(self, field):
        if (field.data or "") not in {c.value for c in self.tax_rate.choices}:
            raise ValidationError("Choose a tax rate from the list.")

    def discount(self):
        """(kind, value) with value in minor units (amount) or basis points (percent)."""
        kind = self.discount_kind.data or None
        if kind is None or not self.discount_value.data:
            return None, 0
        if kind == "amount":
            return kind, read_money(self.discount_value.data, self._currency)
        return kind, parse_rate(self.discount_value.data)

    def validate_discount_value(self, field):
        if field.data and not self.discount_kind.data:
            raise ValidationError("Choose “Amount off” or “Percent off” for this discount.")
        try:
            kind, value = self.discount()
        except (MoneyError, TotalsError) as exc:
            raise ValidationError(str(exc)) from None
        if value < 0:
            raise ValidationError("A discount cannot be negative.")
        if kind == "amount" and value > MAX_AMOUNT:
            raise ValidationError(f"At most {format_money(MAX_AMOUNT, self._currency)}.")

    def values(self):
        """Keyword arguments of services.billing.invoices.make_line."""
        item = self.item
        kind, value = self.discount()
        price = self.unit_price.minor() if self.unit_price.data else (item.price if item else 0)
        if self.tax_rate.data:
            tax = int(self.tax_rate.data)
        else:
            tax = (item.tax_rate or 0) if item is not None else 0
        return {"description": self.description.data or (item.name if item else ""), "quantity": self.quantity.data,
                "unit_price": price, "tax_rate": tax, "discount_kind": kind, "discount_value": value,
                "kind": "service" if item is not None else "other", "code": item.code if item else None,
                "price_item_id": item.pk if item else None}


class LineEditForm(LineForm):
    """Changing a draft line (sourced lines: discount and tax only; the view disables the rest)."""

    ITEM_RATE = None  # the line has its own rate, shown as chosen
    description = StringField("Description", filters=[strip_text], validators=[
        DataRequired(message="Describe the line."), Length(max=250)])

    def validate_description(self, field):
        """Nothing more than DataRequired above: an edited line keeps a description of its own."""

    def validate_price_item_id(self, field):
        """Not on the edit page (a line keeps the item it was made from): whatever is sent is dropped."""
        field.data = ""


class ReasonForm(AppForm):
    reason = TextAreaField("Reason", filters=[strip_text], render_kw={"rows": 2}, validators=[
        DataRequired(message="Give the reason."), Length(max=500)])


class CreditNoteForm(ReasonForm):
    mode = SelectField("Credit", choices=[SelectChoice("full", "Everything left on the invoice"),
                                          SelectChoice("lines", "Chosen quantities of chosen lines")], default="full")


class PaymentForm(AppForm):
    amount = MoneyField("Amount", validators=[DataRequired(message="Enter the amount."), _amount(1)],
                        render_kw={"inputmode": "decimal", "autocomplete": "off"})
    method = SelectField("Method", choices=[SelectChoice(k, v) for k, v in PAYMENT_METHODS.items()],
                         invalid_choice_message="Choose how it was paid.")
    reference = StringField("Reference", filters=[strip_text], validators=[Optional(), Length(max=120)],
                            description="Card slip, transfer reference, receipt book number")


class RefundForm(ReasonForm):
    payment_id = SelectField("Payment refunded", choices=[], invalid_choice_message="Choose a payment.")
    amount = MoneyField("Amount", validators=[DataRequired(message="Enter the amount."), _amount(1)],
                        render_kw={"inputmode": "decimal", "autocomplete": "off"})
    to = SelectField("Refund", choices=[SelectChoice("method", "By the payment's method"),
                                        SelectChoice("credit", "To the patient's credit")], default="method")


class CreditForm(AppForm):
    amount = MoneyField("Credit to use", validators=[DataRequired(message="Enter the amount."), _amount(1)],
                        render_kw={"inputmode": "decimal", "autocomplete": "off"})


class EmptyForm(AppForm):
    """A POST with only its CSRF token (finalise, delete a draft, email a receipt)."""

    next = HiddenField()


class PriceItemForm(AppForm):
    code = StringField("Code", filters=[strip_text], validators=[DataRequired(message="Enter a short code, e.g. CONS."),
                                                            Length(max=30)])
    name = StringField("Name", filters=[strip_text], validators=[DataRequired(message="Enter the name."),
                                                            Length(max=120)])
    kind = SelectField("Kind", choices=[SelectChoice(k, v) for k, v in PRICE_KINDS.items()])
    price = MoneyField("Price", validators=[DataRequired(message="Enter the price."), _amount(0)],
                       render_kw={"inputmode": "decimal"})
    tax_rate = SelectField("Tax", choices=[], invalid_choice_message="Choose a tax rate from the list.")
    visit_default = BooleanField("Bill visits with this consultation unless another is chosen")

    @classmethod
    def for_item(cls, item, settings):
        """The edit form: what was posted, else the item's values with its price as typed ("12.50")."""
        form = cls(obj=item)
        # Not posted (a GET, or a POST without the field) means as it is: obj= gave the price field the stored
        # integer minor units, which read_money cannot read (a 500 before).
        if not form.price.raw_data:
            form.price.data = major_str(item.price, settings.currency)
        if not form.is_submitted():
            form.tax_rate.data = str(item.tax_rate or 0)
        return form.setup(settings)

    def setup(self, settings):
        self.price.currency = settings.currency
        self.tax_rate.choices = tax_choices(settings)
        if self.tax_rate.data is None:
            self.tax_rate.data = str(settings.default_tax_rate or 0)
        return self

    def values(self):
        return {"code": self.code.data, "name": self.name.data, "kind": self.kind.data, "price": self.price.minor(),
                "tax_rate": int(self.tax_rate.data or 0), "visit_default": self.visit_default.data}
