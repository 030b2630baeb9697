"""The base of every form the app posts: Flask-WTF's FlaskForm, reading web forms only.

FlaskForm feeds a JSON request body to the fields (`ImmutableMultiDict(request.get_json())`),
so a JSON number, list, null or object sent to a page's form endpoint reached
the fields as non-strings, or crashed building the dict: a 500. Pages take
web forms; the JSON API is /api/v1 (pydantic bodies). So a JSON body sent to
a form is refused up front with 415, before any field or view code sees it.
"""
from flask import request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from werkzeug.exceptions import UnsupportedMediaType
from wtforms import StringField
from wtforms.validators import StopValidation, ValidationError

from .money import MoneyError, format_money, read_money

SEND_A_FORM = ("This address takes a web form (application/x-www-form-urlencoded or multipart/form-data), "
               "not JSON. The JSON API is under /api/v1/.")


class AppForm(FlaskForm):
    """Every posted form's base class (a test checks that each FlaskForm inherits it)."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            if formdata is _Auto and request and request.method in ("POST", "PUT", "PATCH", "DELETE") \
                    and request.is_json:
                raise UnsupportedMediaType(SEND_A_FORM)
            return super().wrap_formdata(form, formdata)

    def focus(self, default):
        """The field that gets `autofocus`: the first one with an error (form order), else `default`. A form
        htmx swaps back in with an error must not send the cursor to its first field: htmx focuses the
        autofocus field after the swap, and what the person types next would land there."""
        return next((f.name for f in self if f.errors), default)


def stop_if_unparsed(form, field):
    """Validator: stop at the field's parse error ("Enter a whole number."); a range message after it would
    only confuse."""
    if field.process_errors:
        raise StopValidation()


def strip_text(value):
    """Field filter: surrounding white space off a typed string (other values as they are)."""
    return value.strip() if isinstance(value, str) else value


class MoneyField(StringField):
    """An amount typed in major units ("12.50") read into integer minor units of `currency` (the view sets
    it to the clinic's currency)."""

    currency = "USD"

    def minor(self):
        return read_money(self.data or "0", self.currency)


def money_amount(minimum=0, maximum=None):
    """Validator for a MoneyField: a readable amount of at least `minimum` (and at most `maximum`) minor units."""
    def check(form, field):
        try:
            value = field.minor()
        except MoneyError as exc:
            raise ValidationError(str(exc)) from None
        if value < minimum:
            raise ValidationError("Enter an amount above zero." if minimum else "The amount cannot be negative.")
        if maximum is not None and value > maximum:
            raise ValidationError(f"At most {format_money(maximum, field.currency)}.")
    return check
