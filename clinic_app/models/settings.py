"""Per-clinic settings: one document per tenant."""
from zoneinfo import available_timezones

from mongoengine import BooleanField, DictField, IntField, ListField, NotUniqueError, StringField, ValidationError

from ..tenancy import TenantDocument, current_tenant

DATE_FORMATS = {
    "YYYY-MM-DD": "%Y-%m-%d",
    "DD/MM/YYYY": "%d/%m/%Y",
    "MM/DD/YYYY": "%m/%d/%Y",
    "DD.MM.YYYY": "%d.%m.%Y",
}
# Any ISO 4217 code Babel knows works (money.py reads its decimals from CLDR): KWD and BHD have three.
CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "INR", "NGN", "KES", "ZAR", "BRL", "MXN", "JPY", "CHF", "AED",
              "KWD", "BHD")


HHMM = r"^(?:[01]\d|2[0-3]):[0-5]\d$"
PREFIX = r"^[A-Z0-9]{1,10}$"
WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)  # ISO: Monday = 1


def _valid_timezone(value):
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
    # Opening hours, clinic-local wall time "HH:MM"; the calendar's rows and booking checks use them.
    work_day_start = StringField(db_field="workDayStart", default="08:00", regex=HHMM)
    work_day_end = StringField(db_field="workDayEnd", default="18:00", regex=HHMM)
    # ISO weekdays the clinic is open; every day by default, so nothing is refused until a clinic says so.
    working_days = ListField(IntField(choices=WEEKDAYS), db_field="workingDays", default=lambda: list(WEEKDAYS))
    # Appointment reminders to patients: minutes before the start, and quiet hours (clinic-local).
    reminder_leads = ListField(IntField(min_value=10, max_value=14 * 24 * 60), db_field="reminderLeads",
                               default=lambda: [24 * 60, 2 * 60], max_length=4)
    quiet_start = StringField(db_field="quietStart", default="21:00", regex=HHMM)
    quiet_end = StringField(db_field="quietEnd", default="08:00", regex=HHMM)
    # Pharmacy: batches expiring within this many days are listed (and counted on the dashboard).
    expiry_window_days = IntField(db_field="expiryWindowDays", default=90, min_value=1, max_value=730)
    # Printed on invoices, receipts and prescriptions.
    address = StringField(max_length=400)
    phone = StringField(max_length=40)
    # Billing: number series "{prefix}-{year}-{n:06d}" (restarting each clinic-local year unless
    # told not to), tax rates [{"name": "VAT", "rate": 2000}] in basis points, and the invoice footer.
    invoice_prefix = StringField(db_field="invoicePrefix", default="INV", regex=PREFIX)
    credit_note_prefix = StringField(db_field="creditNotePrefix", default="CN", regex=PREFIX)
    invoice_yearly_reset = BooleanField(db_field="invoiceYearlyReset", default=True)
    tax_rates = ListField(DictField(), db_field="taxRates", default=list, max_length=10)
    default_tax_rate = IntField(db_field="defaultTaxRate", default=0, min_value=0, max_value=10000)
    invoice_footer = StringField(db_field="invoiceFooter", max_length=1000)

    def clean(self):
        if (self.work_day_start or "08:00") >= (self.work_day_end or "18:00"):
            raise ValidationError("The working day must end after it starts.", field_name="work_day_end")
        for entry in self.tax_rates or []:
            if set(entry) != {"name", "rate"} or not isinstance(entry["rate"], int) or not 0 <= entry["rate"] <= 10000:
                raise ValidationError("Each tax rate is a name and a rate in basis points.", field_name="tax_rates")

    @classmethod
    def current(cls):
        """This clinic's settings, created with defaults on first use.

        One atomic upsert ($setOnInsert of every default), so two first requests at once
        both get the same document; should both still insert (a server that does not
        retry an upsert on the unique tenant index) or get no document back, they read the winner's.
        """
        found = cls.objects.first()
        if found is not None:
            return found
        defaults = cls(clinic_name=current_tenant().name).to_mongo().to_dict()
        defaults.pop("_id", None)
        defaults.pop("tenantId", None)  # comes from the scoped filter
        try:
            made = cls.objects.modify(upsert=True, new=True, __raw__={"$setOnInsert": defaults})
        except NotUniqueError:
            made = None
        # SecantusDB can answer a racing upsert with no document (as for Counter.next): it exists, read it.
        return made if made is not None else cls.objects.get()

    def tax_names(self):
        """{rate in basis points: name} of the clinic's tax rates."""
        return {entry["rate"]: entry["name"] for entry in self.tax_rates or []}

    def format_date(self, value):
        return value.strftime(DATE_FORMATS[self.date_format]) if value else ""
