"""The clinic's settings; the clinic name is the tenant's name too (header, emails)."""
from pymongo import UpdateOne

from ..hosts import resolver
from ..models import Dispense, Invoice, LabOrder, LabTest, Medicine, Payment, PriceItem, Settings, StockBatch, Tenant
from ..money import decimals, rescale
from ..tenancy import current_tenant, current_tenant_id
from . import audit
from .billing.numbering import transaction
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
    if values.get("currency", old_currency) != old_currency and _charged():
        raise _stays(old_currency)
    changes = audit.apply_values(settings, values, SETTINGS_FIELDS, recorded=_change)
    if not changes:
        return changes
    if "currency" in changes:
        # The currency and every price it scales change in one transaction, or neither does.
        rescaled = transaction(lambda session: _switch_currency(session, settings.pk, old_currency, settings.currency))
        if rescaled:
            changes["prices_rescaled"] = rescaled
    settings.save()
    if "clinic_name" in changes:
        tenant = current_tenant()
        Tenant.objects(pk=tenant.pk).update(set__name=settings.clinic_name)
        tenant.name = settings.clinic_name
        resolver().invalidate(tenant.subdomain)
    audit.record("settings.update", target=settings, changes=changes)
    return changes


def _charged(session=None):
    return any(m._get_collection().find_one({"tenantId": current_tenant_id()}, {"_id": 1}, session=session)
               for m in CHARGED)


def _stays(currency):
    return FieldRefused(f"The currency stays {currency} once patients have been charged: invoices, payments, "
                        "dispenses and lab orders are recorded in it.", field="currency")


def _switch_currency(session, settings_id, old, new):
    """In `session`'s transaction: the settings' currency becomes `new` and every price and cost keeps its
    amount as typed (50.00 USD -> 50 JPY); returns how many were rescaled. Refused if a patient was charged
    meanwhile (checked again inside the transaction)."""
    if _charged(session):
        raise _stays(old)
    tenant_id = current_tenant_id()
    Settings._get_collection().update_one({"_id": settings_id, "tenantId": tenant_id}, {"$set": {"currency": new}},
                                          session=session)
    if decimals(old) == decimals(new):
        return 0
    count = 0
    for model, field in PRICED:
        name = model._fields[field].db_field
        coll = model._get_collection()
        writes = [UpdateOne({"_id": doc["_id"], "tenantId": tenant_id}, {"$set": {name: rescale(doc[name], old, new)}})
                  for doc in coll.find({name: {"$gt": 0}, "tenantId": tenant_id}, {name: 1}, session=session)]
        if writes:
            coll.bulk_write(writes, ordered=False, session=session)
            count += len(writes)
    return count
