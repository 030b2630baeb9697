"""Per-clinic settings: one document per tenant."""
from zoneinfo import available_timezones

from mongoengine import IntField, StringField, BooleanField

from ..tenancy import TenantDocument, current_tenant

DATE_FORMATS = {
    "YYYY-MM-DD": "%Y-%m-%d",
    "DD/MM/YYYY": "%d/%m/%Y",
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD.MM.YYYY": "%d.%m.%Y",
}
CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "INR", "NGN", "KES", "ZAR", "BRL", "MXN", "JPY", "CHF", "AED")


def _valid_timezone(value):
    from mongoengine import ValidationError

    if value not in available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone")


class Settings(TenantDocument):
    meta = {
        "collection": "settings",
        "indexes": [{"fields": ["tenant_id"], "unique": True}],
    }

    clinic_name = StringField(db_field="clinicName", required=True, max_length=120)
    timezone = StringField(required=True, default="UTC", validation=_valid_timezone)
    currency = StringField(required=True, default="USD", choices=CURRENCIES)
    date_format = StringField(db_field="dateFormat", required=True, default="YYYY-MM-DD", choices=tuple(DATE_FORMATS))
    idle_timeout_minutes = IntField(db_field="idleTimeoutMinutes", default=60, min_value=5, max_value=24 * 60)
    slot_minutes = IntField(db_field="slotMinutes", default=15, min_value=5, max_value=240)
    allow_double_booking = BooleanField(db_field="allowDoubleBooking", default=False)

    @classmethod
    def current(cls):
        """This clinic's settings, created with defaults on first use."""
        found = cls.objects.first()
        if found is None:
            found = cls(clinic_name=current_tenant().name)
            found.save()
        return found

    def format_date(self, value):
        return value.strftime(DATE_FORMATS[self.date_format]) if value else ""
