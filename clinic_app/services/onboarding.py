"""Provisioning a clinic, all or nothing.

The tenant is inserted first with status `provisioning` (the unique
subdomain index settles races: one insert wins, the other gets
SubdomainTaken). Roles, admin profile, admin user, settings and the starter lab catalogue follow
inside the tenant's context; any failure deletes everything written under
the new tenant id and then the tenant itself. A process killed midway leaves
a `provisioning` tenant that never resolves and is reclaimed by the next
signup for that subdomain after PROVISIONING_TIMEOUT.

The signup wizard's rules and state live here too: `subdomain_problem`,
`Wizard` (answers in Redis between steps) and `create_clinic_from_wizard`
(provision, then queue the welcome email).
"""
import json
import logging
import re
import secrets
from datetime import timedelta
from zoneinfo import ZoneInfo

from mongoengine import NotUniqueError
from mongoengine.queryset.visitor import Q
from redis.exceptions import RedisError

from .. import clock
from ..clock import as_utc
from ..extensions import redis_conn
from ..hosts import RESERVED_SUBDOMAINS, resolver
from ..models import AdminProfile, Role, Settings, Tenant, User
from ..models import all_documents
from ..permissions import DEFAULT_ROLES, RESOURCES, ROLE_LEVELS
from ..tenancy import TenantDocument, tenant_context
from ..web import canonical_url
from .labs.catalogue import load_starter as load_lab_catalogue
from .notifications import queue_email, render_email
from .passwords import hash_password
from .tenants import new_tenant

log = logging.getLogger(__name__)
PROVISIONING_TIMEOUT = timedelta(minutes=10)


class SubdomainTaken(Exception):
    """Another clinic has (or is just now creating) this subdomain."""


def create_default_roles():
    return {
        name: Role(name=name, level=ROLE_LEVELS[name], permissions=perms, system=True,
                    offered=list(RESOURCES)).save()
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
            load_lab_catalogue(actor=admin)  # the starter lab catalogue, editable by the clinic
        Tenant.objects(pk=tenant.pk, status="provisioning").update(set__status="active")
        tenant.reload()
    except BaseException:
        log.exception("creating clinic %s failed; removing what was written", subdomain)
        purge_tenant(tenant)
        raise
    return tenant, admin


# -- the signup wizard ---------------------------------------------------------
#
# Everything below serves the apex wizard (/tenant-onboard): the rules a
# clinic's address must follow, the answers kept between steps, and the final
# create-and-welcome.

SUBDOMAIN_MIN = 3
SUBDOMAIN_MAX = 63
_SUBDOMAIN_CHAR = re.compile(r"[a-z0-9-]")
_CHAR_NAMES = {" ": "the space", "_": "the underscore (_)", ".": "the dot (.)"}


def subdomain_format_problem(value):
    """Why `value` cannot be a clinic address by its form alone (no database), or None.

    DNS label rules, lower case only (upper case is refused, not folded, so the
    address people type is the address they get), 3-63 characters of
    a-z 0-9 and "-", no hyphen at either end, no "xn--" (punycode can imitate
    other names) nor any other "--" in positions 3-4, and not a reserved name.
    """
    if not value:
        return "Choose an address for your clinic."
    if any(c.isupper() for c in value):
        lowered = value.lower()
        if subdomain_format_problem(lowered) is None:
            return f"Use lower-case letters only: “{lowered}”."
        return "Use lower-case letters only."
    bad = next((c for c in value if not _SUBDOMAIN_CHAR.fullmatch(c)), None)
    if bad is not None:
        name = _CHAR_NAMES.get(bad, f"“{bad}”")
        return f"Remove {name}: use only letters a–z, digits 0–9 and hyphens (-)."
    if len(value) < SUBDOMAIN_MIN:
        return f"Use at least {SUBDOMAIN_MIN} characters."
    if len(value) > SUBDOMAIN_MAX:
        return f"Use at most {SUBDOMAIN_MAX} characters (this one has {len(value)})."
    if value.startswith("-") or value.endswith("-"):
        return "Start and end with a letter or a digit, not a hyphen."
    if value.startswith("xn--"):
        return ("Addresses starting with “xn--” are not allowed: they encode other alphabets "
                "and can imitate other names.")
    if value[2:4] == "--":
        return "Two hyphens in the 3rd and 4th places are reserved in web addresses. Move or remove one."
    if value in RESERVED_SUBDOMAINS:
        return f"“{value}” is reserved. Choose another address."
    return None


def subdomain_taken(value):
    """True when a clinic has this subdomain, in any status, even one being created right now.

    The one exception is a creation abandoned more than PROVISIONING_TIMEOUT
    ago (a crashed process): provision_clinic reclaims that, so it is free.
    """
    live = Q(status__ne="provisioning") | Q(created_at__gte=clock.now() - PROVISIONING_TIMEOUT)
    return Tenant.objects(Q(subdomain=value) & live).only("id").first() is not None


def taken_message(value, just=False):
    if just:
        return f"“{value}” was just taken by another clinic. Choose another address."
    return f"“{value}” is already taken. Choose another address."


def subdomain_problem(value, just_taken=False):
    """Why `value` cannot be a new clinic's address (format, reserved, taken), or None.

    `just_taken` words the taken message for the final check, where the address
    was free a moment ago.
    """
    problem = subdomain_format_problem(value)
    if problem is None and subdomain_taken(value):
        problem = taken_message(value, just=just_taken)
    return problem


def password_inputs(admin_email, clinic_name, subdomain, admin_name):
    """The details a new admin's password must not be built from (`password_problem`'s user_inputs)."""
    return ((admin_email or "").strip().lower(), clinic_name or "", subdomain or "", admin_name or "")


WIZARD_TTL = timedelta(hours=1)
WIZARD_STEPS = {
    "clinic": ("name", "subdomain"),
    "admin": ("admin_name", "admin_email", "password_hash"),
    "settings": ("timezone", "currency", "date_format"),
}


class Wizard:
    """A signup in progress: its answers, kept in Redis for WIZARD_TTL after the last save.

    Holds the bcrypt hash of the admin password, never the password, and the
    details that password was checked against (a later change to them means
    it must be checked, so typed, again).
    """

    def __init__(self, wizard_id=None, answers=None):
        self.id = wizard_id or secrets.token_urlsafe(24)
        self.answers = dict(answers or {})
        self.expired = False  # set by the view when the browser's wizard had expired

    @staticmethod
    def key(wizard_id):
        return f"onboard:wizard:{wizard_id}"

    @classmethod
    def load(cls, wizard_id):
        """The saved wizard, or None when there is none or it expired."""
        if not isinstance(wizard_id, str) or not wizard_id:
            return None
        raw = redis_conn().get(cls.key(wizard_id))
        return cls(wizard_id, json.loads(raw)) if raw else None

    def save(self):
        redis_conn().set(self.key(self.id), json.dumps(self.answers), ex=WIZARD_TTL)

    def delete(self):
        redis_conn().delete(self.key(self.id))

    def get(self, name, default=None):
        return self.answers.get(name, default)

    def update(self, **answers):
        self.answers.update(answers)

    def set_password(self, password, checked_against):
        self.answers["password_hash"] = hash_password(password)
        self.answers["password_checked_against"] = list(checked_against)

    def password_checked_for(self, inputs):
        """True when a password is stored and was checked against exactly these details."""
        return bool(self.get("password_hash")) and self.get("password_checked_against") == list(inputs)

    def first_missing(self, before=None):
        """The first step (up to `before`, else all) whose answers are incomplete, or None."""
        for step, fields in WIZARD_STEPS.items():
            if step == before:
                return None
            if not all(self.get(f) for f in fields):
                return step
        return None


class ProvisioningFailed(Exception):
    """Creating the clinic failed for a reason other than its subdomain; nothing was kept."""


def create_clinic_from_wizard(wizard):
    """Create the clinic from a completed, re-checked wizard, welcome its admin, forget the wizard.

    Returns (tenant, admin). Raises SubdomainTaken (another signup won the
    address) or ProvisioningFailed (anything else; provision_clinic removed
    what it wrote). The wizard is kept on failure, so the user can retry.
    """
    answers = wizard.answers
    try:
        tenant, admin = provision_clinic(
            name=answers["name"], subdomain=answers["subdomain"], admin_name=answers["admin_name"],
            admin_email=answers["admin_email"], password_hash=answers["password_hash"],
            timezone=answers["timezone"], currency=answers["currency"], date_format=answers["date_format"],
        )
    except SubdomainTaken:
        raise
    except Exception as exc:
        raise ProvisioningFailed(answers["subdomain"]) from exc
    # Only hits are cached, but a clinic once purged under this name may linger on this node.
    resolver().invalidate(tenant.subdomain)
    try:
        send_welcome(tenant, admin)
    except Exception:
        # The clinic exists and its admin can sign in; a missing email must not undo that.
        log.exception("could not queue the welcome email for %s", tenant.subdomain)
    try:
        wizard.delete()
    except RedisError:
        log.warning("could not delete the wizard of %s; it expires within %s", tenant.subdomain, WIZARD_TTL)
    return tenant, admin


def send_welcome(tenant, admin):
    """Queue the welcome email to the clinic's first admin (once per clinic: outbox key "welcome")."""
    login_url = canonical_url(tenant, "/login")
    with tenant_context(tenant):
        settings = Settings.current()
        ends = as_utc(tenant.subscription.expires_at).astimezone(ZoneInfo(settings.timezone))
        text, html = render_email("welcome", clinic=tenant, admin=admin, login_url=login_url,
                                  trial_ends=settings.format_date(ends))
        return queue_email(key="welcome", kind="welcome", to=admin.email,
                           subject=f"Welcome to clinic_app: {tenant.name} is ready",
                           text_body=text, html_body=html)
