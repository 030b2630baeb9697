"""The demo clinic that `make run` seeds: one user per default role."""
from flask import current_app

from ..models import Role, Tenant, User
from ..tenancy import tenant_context
from .onboarding import provision_clinic
from .passwords import hash_password

DEMO_SUBDOMAIN = "demo"
DEMO_STAFF = [
    ("Doctor", "Dr. Grace Okafor", "doctor@demo.clinic"),
    ("Nurse", "Sam Rivera", "nurse@demo.clinic"),
    ("Receptionist", "Lee Chen", "reception@demo.clinic"),
    ("Accountant", "Priya Shah", "accounts@demo.clinic"),
    ("Medical Representative", "Tom Berg", "rep@demo.clinic"),
]


def seed_demo():
    """Create the demo clinic unless it exists; returns (tenant, created)."""
    tenant = Tenant.objects(subdomain=DEMO_SUBDOMAIN).first()
    if tenant is not None:
        return tenant, False
    password = current_app.config["DEMO_PASSWORD"]
    tenant, _ = provision_clinic(
        name="Demo Clinic", subdomain=DEMO_SUBDOMAIN, admin_name="Alex Admin", admin_email="admin@demo.clinic",
        password_hash=hash_password(password), timezone="America/New_York", currency="USD",
        date_format="MM/DD/YYYY",
    )
    with tenant_context(tenant):
        hashed = hash_password(password)
        for role_name, name, email in DEMO_STAFF:
            User(email=email, name=name, password_hash=hashed, role=Role.objects.get(name=role_name)).save()
    return tenant, True


def demo_logins():
    return [("Admin", "admin@demo.clinic")] + [(role, email) for role, _, email in DEMO_STAFF]
