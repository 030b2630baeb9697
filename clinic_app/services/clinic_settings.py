"""The clinic's settings; the clinic name is the tenant's name too (header, emails)."""
from ..hosts import resolver
from ..models import Settings, Tenant
from ..tenancy import current_tenant
from . import audit
from .staff import _change


SETTINGS_FIELDS = ("clinic_name", "timezone", "currency", "date_format", "idle_timeout_minutes", "slot_minutes",
                   "allow_double_booking", "work_day_start", "work_day_end", "working_days", "reminder_leads",
                   "quiet_start", "quiet_end", "expiry_window_days", "address", "phone", "invoice_prefix",
                   "credit_note_prefix", "invoice_yearly_reset", "tax_rates", "default_tax_rate", "invoice_footer")


def update_settings(values):
    """Apply `values` (field -> value) to the clinic's settings; returns the changes (may be empty).

    The clinic name is the tenant's name too (header, emails).
    """
    settings = Settings.current()
    changes = audit.apply_values(settings, values, SETTINGS_FIELDS, recorded=_change)
    if not changes:
        return changes
    settings.save()
    if "clinic_name" in changes:
        tenant = current_tenant()
        Tenant.objects(pk=tenant.pk).update(set__name=settings.clinic_name)
        tenant.name = settings.clinic_name
        resolver().invalidate(tenant.subdomain)
    audit.record("settings.update", target=settings, changes=changes)
    return changes
