"""The demo clinic that `make run` seeds."""
from ..models import Tenant
from .tenants import create_tenant

DEMO_SUBDOMAIN = "demo"


def seed_demo():
    """Create the demo clinic unless it exists; returns (tenant, created)."""
    tenant = Tenant.objects(subdomain=DEMO_SUBDOMAIN).first()
    if tenant is not None:
        return tenant, False
    tenant = create_tenant("Demo Clinic", DEMO_SUBDOMAIN, timezone="America/New_York", currency="USD")
    return tenant, True
