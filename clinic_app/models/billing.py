"""What a clinic paid the platform for its subscription (not the clinic's own patient invoices)."""
from mongoengine import DateTimeField, IntField, ObjectIdField, StringField

from .. import clock
from ..config import PAYMENT_PROVIDERS
from ..money import format_money
from ..tenancy import TenantDocument


class SubscriptionPayment(TenantDocument):
    """One successful payment. The unique (tenant, provider, provider_ref) index makes a
    replayed webhook or callback fail to insert, which is how replays are recognised."""

    meta = {
        "collection": "subscription_payments",
        "indexes": [
            {"fields": ["tenant_id", "provider", "provider_ref"], "unique": True},
            {"fields": ["tenant_id", "-recorded_at"]},
        ],
    }

    provider = StringField(required=True, choices=PAYMENT_PROVIDERS)
    # The provider's id of what was paid: a Stripe Checkout Session id, a sandbox session id.
    provider_ref = StringField(db_field="providerRef", required=True, max_length=200)
    event_id = StringField(db_field="eventId", max_length=200)  # Stripe's event id, for support
    plan = StringField(required=True, default="monthly")
    amount_cents = IntField(db_field="amountCents", required=True, min_value=0)
    currency = StringField(required=True, min_length=3, max_length=3)
    paid_at = DateTimeField(db_field="paidAt", required=True)  # as the provider reports it
    recorded_at = DateTimeField(db_field="recordedAt", required=True, default=lambda: clock.now())
    # The subscription before and after this payment: it covers period_start -> period_end.
    previous_expires_at = DateTimeField(db_field="previousExpiresAt", required=True)
    period_start = DateTimeField(db_field="periodStart", required=True)
    period_end = DateTimeField(db_field="periodEnd", required=True)
    paid_by_id = ObjectIdField(db_field="paidById")  # the signed-in user, when there was one

    @property
    def amount_display(self):
        return format_money(self.amount_cents, self.currency)
