"""Paying for the subscription: providers, and the one handler every provider reaches.

A provider starts a checkout (`create_checkout` -> a URL to send the browser
to) and later proves that a payment happened: Stripe with a signed webhook,
the sandbox with an HMAC-signed callback from its local checkout page. Both
end in `payment_succeeded(...)`, which is idempotent: the payment is recorded
under a unique (tenant, provider, provider_ref) index in the same transaction
that extends the subscription, so a replayed webhook or callback fails to
insert and changes nothing.

A payment buys PLAN_DAYS from the later of now and the current expiry. It
reactivates a clinic in grace or suspended *by date* at once; it does NOT lift
an operator's suspension (tenant.status stays as the operator set it).
"""
import hashlib
import hmac
import logging
import re
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import mongoengine
from bson import ObjectId
from bson.errors import InvalidId
from flask import current_app, has_app_context
from pymongo.errors import DuplicateKeyError

from .. import clock
from ..clock import as_utc
from ..hosts import resolver
from ..models import AdminProfile, OutboundMessage, SubscriptionPayment, Tenant
from ..money import format_money
from ..tenancy import tenant_context
from ..web import canonical_url
from . import audit
from .notifications import queue_email, render_email

log = logging.getLogger(__name__)

PLAN = "monthly"
PLAN_DAYS = 30


class PaymentError(Exception):
    """Base class of payment problems."""


class InvalidPayment(PaymentError):
    """A callback or webhook not to be trusted or not applicable: bad or missing signature,
    stale timestamp, malformed fields, or a clinic that does not exist. Nothing was changed."""


class PaymentsUnavailable(PaymentError):
    """The provider cannot take a payment now (not configured, unreachable)."""


@dataclass(frozen=True)
class Checkout:
    url: str  # where to send the browser
    ref: str  # the provider's id for this checkout (becomes the payment's provider_ref)


@dataclass(frozen=True)
class PaymentEvent:
    """A verified 'this was paid' from a provider, ready for payment_succeeded()."""

    tenant_id: ObjectId
    provider: str
    provider_ref: str
    amount_cents: int
    currency: str
    paid_at: datetime
    event_id: str | None = None
    subdomain: str | None = None  # when the provider names the clinic's subdomain too

    def handle(self, paid_by=None):
        return payment_succeeded(self.tenant_id, self.provider, self.provider_ref, self.amount_cents,
                                 self.currency, self.paid_at, event_id=self.event_id,
                                 subdomain=self.subdomain, paid_by=paid_by)


@dataclass(frozen=True)
class Outcome:
    status: str  # "paid" or "duplicate"
    payment: SubscriptionPayment
    tenant: Tenant


class PaymentProvider(ABC):
    """What the subscription page needs from a payment provider."""

    name = None

    @abstractmethod
    def create_checkout(self, tenant, *, amount_cents, currency, success_url, cancel_url):
        """Start paying `amount_cents` for `tenant`; returns a Checkout. Raises PaymentsUnavailable."""


# -- the sandbox ----------------------------------------------------------------

_SESSION = re.compile(r"^sbx_[A-Za-z0-9_-]{16,64}$")
_DIGITS = re.compile(r"^[0-9]{1,12}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class SandboxProvider(PaymentProvider):
    """A local checkout page for development and demos: no money moves.

    The checkout URL and the page's "Pay" form carry tenant, session, amount,
    currency and timestamp with an HMAC-SHA256 over them (SANDBOX_PAYMENT_SECRET);
    the callback accepts them for MAX_AGE after the checkout started.
    """

    name = "sandbox"
    MAX_AGE = timedelta(hours=1)
    CLOCK_SKEW = timedelta(minutes=5)
    FIELDS = ("tenant", "session", "amount", "currency", "ts")
    CHECKOUT_PATH = "/sandbox-pay/checkout"

    def __init__(self, secret):
        if not secret:
            raise PaymentsUnavailable("the sandbox has no signing secret (SANDBOX_PAYMENT_SECRET)")
        self._secret = secret.encode()

    def sign(self, fields):
        """Hex HMAC-SHA256 over the fields in FIELDS order (none may contain '|': the verifier checks)."""
        message = "|".join(["sandbox-v1", *(str(fields[k]) for k in self.FIELDS)])
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def signed_fields(self, tenant, amount_cents, currency, now=None):
        fields = {
            "tenant": str(tenant.pk),
            "session": "sbx_" + secrets.token_urlsafe(18),
            "amount": str(int(amount_cents)),
            "currency": currency.upper(),
            "ts": str(int((now or clock.now()).timestamp())),
        }
        fields["sig"] = self.sign(fields)
        return fields

    def create_checkout(self, tenant, *, amount_cents, currency, success_url=None, cancel_url=None):
        # Where to go afterwards is fixed (the callback, then /subscription): URLs in an
        # unsigned query would make an open redirect.
        fields = self.signed_fields(tenant, amount_cents, currency)
        return Checkout(url=canonical_url(tenant, f"{self.CHECKOUT_PATH}?{urlencode(fields)}"), ref=fields["session"])

    def verify(self, values, now=None):
        """The PaymentEvent these signed `values` (a request's args or form) describe.

        Raises InvalidPayment for missing or malformed fields, a wrong signature
        (compared in constant time) or a timestamp outside MAX_AGE.
        """
        fields = {k: values.get(k) for k in (*self.FIELDS, "sig")}
        if not all(isinstance(v, str) for v in fields.values()):
            raise InvalidPayment("The payment link is incomplete.")
        checks = {"session": _SESSION, "amount": _DIGITS, "currency": _CURRENCY, "ts": _DIGITS, "sig": _HEX64}
        if any(not rx.match(fields[k]) for k, rx in checks.items()):
            raise InvalidPayment("The payment link is malformed.")
        try:
            tenant_id = ObjectId(fields["tenant"])
        except InvalidId:
            raise InvalidPayment("The payment link is malformed.") from None
        if not hmac.compare_digest(self.sign(fields), fields["sig"]):
            raise InvalidPayment("The payment link's signature is not valid.")
        issued = datetime.fromtimestamp(int(fields["ts"]), timezone.utc)
        now = now or clock.now()
        if issued > now + self.CLOCK_SKEW or now - issued > self.MAX_AGE:
            raise InvalidPayment("This checkout has expired. Start again from the subscription page.")
        return PaymentEvent(tenant_id=tenant_id, provider=self.name, provider_ref=fields["session"],
                            amount_cents=int(fields["amount"]), currency=fields["currency"], paid_at=now)


# -- Stripe ---------------------------------------------------------------------

# checkout.session.completed with payment_status "paid" for cards; the async
# event for methods that settle later (the completed event then says "unpaid").
STRIPE_PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


class StripeProvider(PaymentProvider):
    """Stripe Checkout (one payment per 30 days, mode=payment) and its signed webhook.

    Its methods import `stripe` themselves: the SDK takes ~0.1 s to import and only
    this provider needs it (development, the tests and the sandbox never load it).
    """

    name = "stripe"
    # Stripe's own default: a signature older than this is refused (replay window),
    # measured on the machine's wall clock, as Stripe stamps it, not the app clock.
    TOLERANCE_SECONDS = 300

    def __init__(self, secret_key="", webhook_secret="", price_id="", api_base=None):
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.price_id = price_id
        self.api_base = api_base  # tests point this at a local fake server

    def _client(self):
        import stripe  # lazy: see the class docstring

        if not self.secret_key:
            raise PaymentsUnavailable("Card payments are not configured (STRIPE_SECRET_KEY).")
        base = {"api": self.api_base} if self.api_base else None
        return stripe.StripeClient(self.secret_key, base_addresses=base, max_network_retries=2)

    def create_checkout(self, tenant, *, amount_cents, currency, success_url, cancel_url):
        import stripe  # lazy: see the class docstring

        if self.price_id:
            item = {"price": self.price_id, "quantity": 1}
        else:
            item = {"quantity": 1, "price_data": {
                "currency": currency.lower(), "unit_amount": int(amount_cents),
                "product_data": {"name": f"Monthly plan ({PLAN_DAYS} days)"},
            }}
        names = {"tenant_id": str(tenant.pk), "subdomain": tenant.subdomain}
        params = {
            "mode": "payment",
            "line_items": [item],
            "client_reference_id": str(tenant.pk),
            "metadata": names,
            "payment_intent_data": {"metadata": names},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        try:
            session = self._client().v1.checkout.sessions.create(params=params)
        except stripe.StripeError as exc:
            log.error("Stripe refused or could not create a checkout for %s: %s", tenant.subdomain, exc)
            raise PaymentsUnavailable("The card payment service is not answering. Please try again shortly.") from exc
        return Checkout(url=session.url, ref=session.id)

    def parse_webhook(self, payload, sig_header):
        """The PaymentEvent of a verified webhook body, or None for an event we do not act on.

        Raises InvalidPayment for a missing, wrong or stale signature and for a
        paid checkout that does not name exactly one clinic.
        """
        import stripe  # lazy: see the class docstring

        if not self.webhook_secret:
            raise PaymentsUnavailable("STRIPE_WEBHOOK_SECRET is not set")
        try:
            event = stripe.Webhook.construct_event(payload, sig_header, self.webhook_secret,
                                                   tolerance=self.TOLERANCE_SECONDS)
        except stripe.SignatureVerificationError as exc:
            raise InvalidPayment(f"signature: {exc.user_message or exc}") from None
        except ValueError:  # not JSON, or not an event
            raise InvalidPayment("the body is not a Stripe event") from None
        event = event.to_dict()
        if event.get("type") not in STRIPE_PAID_EVENTS:
            return None
        session = (event.get("data") or {}).get("object") or {}
        if session.get("object") != "checkout.session" or session.get("payment_status") not in ("paid", "no_payment_required"):
            return None
        tenant_id, subdomain = _named_clinic(session)
        ref, amount, currency = session.get("id"), session.get("amount_total"), session.get("currency")
        if not isinstance(ref, str) or not ref or len(ref) > 200:
            raise InvalidPayment("the checkout session has no id")
        if not isinstance(amount, int) or not isinstance(currency, str) or not _CURRENCY.match(currency.upper()):
            raise InvalidPayment("the checkout session has no amount")
        created = event.get("created")
        paid_at = datetime.fromtimestamp(created, timezone.utc) if isinstance(created, int) else clock.now()
        return PaymentEvent(tenant_id=tenant_id, provider=self.name, provider_ref=ref, amount_cents=amount,
                            currency=currency.upper(), paid_at=paid_at, event_id=event.get("id"),
                            subdomain=subdomain)


def _named_clinic(session):
    """(tenant id, subdomain or None) that a checkout session names; InvalidPayment unless exactly one."""
    metadata = session.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InvalidPayment("the checkout's metadata is not an object")
    subdomain = metadata.get("subdomain")
    named = [v for v in (session.get("client_reference_id"), metadata.get("tenant_id")) if v]
    if not all(isinstance(v, str) for v in named) or (subdomain is not None and not isinstance(subdomain, str)):
        raise InvalidPayment("the checkout names its clinic in an unexpected form")
    if len(set(named)) != 1:
        raise InvalidPayment("the checkout does not name exactly one clinic")
    value = named[0]
    try:
        return ObjectId(value), subdomain
    except InvalidId:
        raise InvalidPayment("the checkout names no valid clinic id") from None


# -- choosing a provider, starting a checkout -------------------------------------------


def get_provider(name=None):
    """The configured provider (PAYMENT_PROVIDER), or the one called `name`."""
    cfg = current_app.config
    name = name or cfg["PAYMENT_PROVIDER"]
    if name == "sandbox":
        return SandboxProvider(cfg["SANDBOX_PAYMENT_SECRET"])
    if name == "stripe":
        return StripeProvider(cfg["STRIPE_SECRET_KEY"], cfg["STRIPE_WEBHOOK_SECRET"], cfg["STRIPE_PRICE_MONTHLY"])
    raise PaymentsUnavailable(f"unknown payment provider {name!r}")


def price():
    """(amount in cents, currency) of the monthly plan."""
    cfg = current_app.config
    return cfg["MONTHLY_PRICE_CENTS"], cfg["MONTHLY_PRICE_CURRENCY"]


def start_checkout(tenant):
    """Create a checkout for the monthly plan with the configured provider. Raises PaymentsUnavailable."""
    if tenant.status == "inactive":
        raise PaymentsUnavailable("This clinic has been closed by the platform operator; it cannot be renewed here.")
    provider = get_provider()
    amount, currency = price()
    started = provider.create_checkout(
        tenant, amount_cents=amount, currency=currency,
        success_url=canonical_url(tenant, "/subscription?checkout=done"),
        cancel_url=canonical_url(tenant, "/subscription?checkout=cancelled"),
    )
    audit.record("subscription.checkout_started", target=tenant,
                 changes={"provider": provider.name, "reference": started.ref,
                          "amount": format_money(amount, currency)})
    return started


def renewal_preview(tenant, now=None):
    """The expiry a payment made now would give."""
    now = now or clock.now()
    return max(now, as_utc(tenant.subscription.expires_at)) + timedelta(days=PLAN_DAYS)


# -- the handler ------------------------------------------------------------------------


class _ExpiryMoved(Exception):
    """Another payment changed expires_at between our read and our write: read again."""


def payment_succeeded(tenant_id, provider, provider_ref, amount_cents, currency, paid_at, *,
                      event_id=None, subdomain=None, paid_by=None):
    """Record a payment and extend the clinic's subscription, once per (provider, provider_ref).

    Returns Outcome("paid"|"duplicate", payment, tenant). A replay changes
    nothing. Raises InvalidPayment when the clinic does not exist (or its
    subdomain is not the one the provider named).
    """
    tenant = _payable_tenant(tenant_id, subdomain)
    with tenant_context(tenant):
        now = clock.now()
        payment = SubscriptionPayment(
            tenant_id=tenant.pk, provider=provider, provider_ref=provider_ref, event_id=event_id, plan=PLAN,
            amount_cents=int(amount_cents), currency=currency.upper(), paid_at=paid_at, recorded_at=now,
            paid_by_id=getattr(paid_by, "pk", None) if getattr(paid_by, "is_authenticated", False) else None,
        )
        try:
            previous = _record_and_extend(tenant, payment, now)
        except DuplicateKeyError:
            existing = SubscriptionPayment.objects.get(provider=provider, provider_ref=provider_ref)
            _send_receipt(tenant, existing)  # idempotent: only writes one if a crash lost it
            log.info("payment %s/%s for %s was already recorded", provider, provider_ref, tenant.subdomain)
            return Outcome("duplicate", existing, tenant)
        if has_app_context():
            resolver().invalidate(tenant.subdomain)
        tenant.reload()
        payment = SubscriptionPayment.objects.get(provider=provider, provider_ref=provider_ref)
        audit.record("subscription.paid", target=payment, actor=paid_by if payment.paid_by_id else None, changes={
            "provider": provider, "reference": provider_ref,
            "amount": format_money(payment.amount_cents, payment.currency),
            "expires_at": {"from": previous.isoformat(), "to": as_utc(payment.period_end).isoformat()},
        })
        _send_receipt(tenant, payment)
        return Outcome("paid", payment, tenant)


def _payable_tenant(tenant_id, subdomain=None):
    if isinstance(tenant_id, str):
        try:
            tenant_id = ObjectId(tenant_id)
        except InvalidId:
            raise InvalidPayment("no such clinic") from None
    if not isinstance(tenant_id, ObjectId):
        raise InvalidPayment("no such clinic")
    tenant = Tenant.objects(pk=tenant_id, status__ne="provisioning").first()
    if tenant is None:
        raise InvalidPayment(f"no clinic has id {tenant_id}")
    if subdomain is not None and subdomain != tenant.subdomain:
        raise InvalidPayment(f"clinic {tenant_id} is not at {subdomain!r}")
    return tenant


def _record_and_extend(tenant, payment, now, attempts=5):
    """Insert the payment and move expires_at in one transaction; returns the previous expiry.

    Raises DuplicateKeyError for a payment already recorded (the transaction
    is rolled back, so nothing changed).
    """
    client = mongoengine.get_connection()
    tenants = Tenant._get_collection()
    payments = SubscriptionPayment._get_collection()
    days = timedelta(days=PLAN_DAYS)

    def apply(session):
        current = tenants.find_one({"_id": tenant.pk}, {"subscription.expiresAt": 1}, session=session)
        previous = as_utc(current["subscription"]["expiresAt"])
        payment.previous_expires_at = previous
        payment.period_start = max(now, previous)
        payment.period_end = payment.period_start + days
        payment.validate()
        payments.insert_one(payment.to_mongo().to_dict(), session=session)
        moved = tenants.update_one(
            {"_id": tenant.pk, "subscription.expiresAt": previous},
            {"$set": {"subscription.plan": PLAN, "subscription.status": "active",
                      "subscription.expiresAt": payment.period_end}},
            session=session,
        )
        if moved.matched_count != 1:
            raise _ExpiryMoved()
        return previous

    for attempt in range(attempts):
        try:
            with client.start_session() as session:
                return session.with_transaction(apply)
        except _ExpiryMoved:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _billing_contact(tenant):
    profile = AdminProfile.objects(status="active").order_by("id").first()
    return profile.email if profile else None


def _send_receipt(tenant, payment):
    """Queue the receipt (outbox key receipt:<provider>:<ref>: once per payment). Never raises."""
    key = f"receipt:{payment.provider}:{payment.provider_ref}"
    try:
        if OutboundMessage.objects(key=key).only("id").first() is not None:
            return
        to = _billing_contact(tenant)
        if not to:
            log.warning("no billing contact for %s: receipt %s not sent", tenant.subdomain, key)
            return
        amount = format_money(payment.amount_cents, payment.currency)
        text, html = render_email("receipt", clinic=tenant, payment=payment, amount=amount,
                                  period_start=as_utc(payment.period_start), period_end=as_utc(payment.period_end),
                                  subscription_url=canonical_url(tenant, "/subscription"))
        queue_email(key=key, kind="receipt", to=to, subject=f"Receipt: {tenant.name} subscription, {amount}",
                    text_body=text, html_body=html)
    except Exception:
        log.exception("could not queue receipt %s for %s", key, tenant.subdomain)
