"""Provisioning a clinic, all or nothing.

The tenant is inserted first with status `provisioning` (the unique
subdomain index settles races: one insert wins, the other gets
SubdomainTaken). Roles, admin profile, admin user and settings follow
inside the tenant's context; any failure deletes everything written under
the new tenant id and then the tenant itself. A process killed midway leaves
a `provisioning` tenant that never resolves and is reclaimed by the next
signup for that subdomain after PROVISIONING_TIMEOUT.
"""
import logging
from datetime import timedelta

from mongoengine import NotUniqueError

from .. import clock
from ..models import AdminProfile, Role, Settings, Tenant, User
from ..models import all_documents
from ..permissions import DEFAULT_ROLES, ROLE_LEVELS
from ..tenancy import TenantDocument, tenant_context
from .passwords import hash_password
from .tenants import new_tenant

log = logging.getLogger(__name__)
PROVISIONING_TIMEOUT = timedelta(minutes=10)


class SubdomainTaken(Exception):
    """Another clinic has (or is just now creating) this subdomain."""


def create_default_roles():
    return {
        name: Role(name=name, level=ROLE_LEVELS[name], permissions=perms, system=True).save()
        for name, perms in DEFAULT_ROLES.items()
    }


def _reclaim_stale(subdomain):
    cutoff = clock.now() - PROVISIONING_TIMEOUT
    stale = Tenant.objects(subdomain=subdomain, status="provisioning", created_at__lt=cutoff).first()
    if stale is not None:
        log.warning("reclaiming half-created clinic %s", subdomain)
        purge_tenant(stale)


def purge_tenant(tenant):
    """Delete a tenant and every document it owns (compensation for a failed creation)."""
    for doc in all_documents():
        if issubclass(doc, TenantDocument):
            doc.all_tenants().filter(tenant_id=tenant.pk).delete()
    Tenant.objects(pk=tenant.pk).delete()


def provision_clinic(*, name, subdomain, admin_name, admin_email, password=None, password_hash=None,
                     timezone="UTC", currency="USD", date_format="YYYY-MM-DD"):
    """Create a clinic on a 7-day trial with roles, its admin and settings; returns (tenant, admin)."""
    _reclaim_stale(subdomain)
    tenant = new_tenant(name, subdomain)
    tenant.status = "provisioning"
    try:
        tenant.save()
    except NotUniqueError as exc:
        raise SubdomainTaken(subdomain) from exc
    try:
        with tenant_context(tenant):
            roles = create_default_roles()
            email = admin_email.strip().lower()
            profile = AdminProfile(name=admin_name, email=email).save()
            admin = User(
                email=email,
                name=admin_name,
                password_hash=password_hash or hash_password(password),
                role=roles["Admin"],
                admin_profile=profile,
                status="active",
                password_changed_at=clock.now(),
            ).save()
            Settings(clinic_name=name, timezone=timezone, currency=currency, date_format=date_format).save()
        Tenant.objects(pk=tenant.pk, status="provisioning").update(set__status="active")
        tenant.reload()
    except BaseException:
        log.exception("creating clinic %s failed; removing what was written", subdomain)
        purge_tenant(tenant)
        raise
    return tenant, admin
