"""Creating clinics (the CLI and the demo seed; onboarding builds on it)."""
from .. import clock
from ..models import Settings, Subscription, Tenant
from ..tenancy import tenant_context
from .subscription import trial_expiry


def new_tenant(name, subdomain, now=None):
    """An unsaved Tenant on a fresh 7-day trial."""
    now = now or clock.now()
    return Tenant(
        name=name,
        subdomain=subdomain,
        status="active",
        created_at=now,
        subscription=Subscription(plan="trial", status="active", started_at=now, expires_at=trial_expiry(now)),
    )


def create_tenant(name, subdomain, *, timezone="UTC", currency="USD", date_format="YYYY-MM-DD"):
    """Create a clinic with its settings; returns the Tenant."""
    tenant = new_tenant(name, subdomain).save()
    with tenant_context(tenant):
        Settings(clinic_name=name, timezone=timezone, currency=currency, date_format=date_format).save()
    return tenant
