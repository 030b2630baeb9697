"""The clinic's settings; the clinic name is the tenant's name too (header, emails)."""
from ..hosts import resolver
from ..models import Dispense, Invoice, LabOrder, LabTest, Medicine, Payment, PriceItem, Settings, StockBatch, Tenant
from ..money import decimals, rescale
from ..tenancy import current_tenant
from . import audit
from .errors import FieldRefused
from .staff import _change

# What patients were charged or billed in: once one exists, the currency stays (reports add amounts up in it).
CHARGED = (Invoice, Payment, Dispense, LabOrder)
# The clinic's own prices and costs, in minor units of its currency: a corrected currency keeps them as typed.
PRICED = ((PriceItem, "price"), (Medicine, "sale_price"), (LabTest, "price"), (StockBatch, "unit_cost"))


SETTINGS_FIELDS = ("clinic_name", "timezone", "currency", "date_format", "idle_timeout_minutes", "slot_minutes",
                   "allow_double_booking", "work_day_start", "work_day_end", "working_days", "reminder_leads",
                   "quiet_start", "quiet_end", "expiry_window_days", "address", "phone", "invoice_prefix",
                   "credit_note_prefix", "invoice_yearly_reset", "tax_rates", "default_tax_rate", "invoice_footer")


def update_settings(values):
    """Apply `values` (field -> value) to the clinic's settings; returns the changes (may be empty).

    The clinic name is the tenant's name too (header, emails).
    """
    settings = Settings.current()
    old_currency = settings.currency
    if values.get("currency", old_currency) != old_currency and any(m.objects.first() for m in CHARGED):
        raise FieldRefused(f"The currency stays {old_currency} once patients have been charged: invoices, "
                           "payments, dispenses and lab orders are recorded in it.", field="currency")
    changes = audit.apply_values(settings, values, SETTINGS_FIELDS, recorded=_change)
    if not changes:
        return changes
    settings.save()
    if "currency" in changes and decimals(old_currency) != decimals(settings.currency):
        changes["prices_rescaled"] = _rescale_prices(old_currency, settings.currency)
    if "clinic_name" in changes:
        tenant = current_tenant()
        Tenant.objects(pk=tenant.pk).update(set__name=settings.clinic_name)
        tenant.name = settings.clinic_name
        resolver().invalidate(tenant.subdomain)
    audit.record("settings.update", target=settings, changes=changes)
    return changes


def _rescale_prices(old, new):
    """Keep every price and cost as typed in the corrected currency (50.00 USD -> 50 JPY); returns how many."""
    count = 0
    for model, field in PRICED:
        for doc in model.objects(**{f"{field}__gt": 0}).only(field):
            model.objects(pk=doc.pk).update_one(**{f"set__{field}": rescale(getattr(doc, field), old, new)})
            count += 1
    return count
