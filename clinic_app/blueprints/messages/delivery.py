"""A message's delivery in the words a clinic's staff read: where it is, what happens next, and why.

`failed` in the outbox also covers a message whose automatic retries are still
to come; staff see that as "Retrying (attempt 2 of 6, next at 09:31)". The raw
SMTP error (codes, server paths) stays in the outbox document, and reaches the
platform operator through the Jobs page of the operator console; an Admin sees
a plain reason instead.
"""
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from redis.exceptions import RedisError
from rq.registry import ScheduledJobRegistry

from ... import clock
from ...extensions import get_queue
from ...localtime import local_time, to_local
from ...services.notifications import GAVE_UP, UNKNOWN_OUTCOME, max_attempts

UNREACHABLE = "The mail server could not be reached."
REFUSED = "The mail server did not accept the message."
# Exception class named in `last_error` ("attempt 2: SMTPDataError: ...") -> what it means.
REASONS = {
    "SMTPRecipientsRefused": "The recipient's mail server refused this address. Check that it is spelled right.",
    "SMTPSenderRefused": "The mail server refused our sender address. This is on our side: support has been told.",
    "SMTPAuthenticationError": "The mail server refused our sign-in. This is on our side: support has been told.",
    "SMTPNotSupportedError": "The mail server refused our connection settings. This is on our side.",
    "SMTPDataError": REFUSED,
    "SMTPResponseException": REFUSED,
    "SMTPHeloError": REFUSED,
    "SMTPException": REFUSED,
    "SMTPConnectError": UNREACHABLE,
    "SMTPServerDisconnected": UNREACHABLE,
    "ConnectionRefusedError": UNREACHABLE,
    "ConnectionResetError": UNREACHABLE,
    "ConnectionError": UNREACHABLE,
    "TimeoutError": "The mail server did not answer in time.",
    "timeout": "The mail server did not answer in time.",
    "gaierror": UNREACHABLE,
    "OSError": UNREACHABLE,
    "SSLError": "A secure connection to the mail server could not be made.",
}
_ERROR_CLASS = re.compile(r"(?:^|attempt \d+: )(\w+):")

LABELS = {"queued": "Queued", "sending": "Sending", "sent": "Sent", "retrying": "Retrying", "failed": "Failed",
          "cancelled": "Cancelled"}


@dataclass
class Delivery:
    state: str  # queued, sending, sent, retrying, failed, cancelled
    detail: str  # "attempt 2 of 6, next at 09:31", or ""
    reason: str  # plain words, or ""

    @property
    def label(self):
        return LABELS[self.state]


def plain_reason(message):
    """Why `message` is not (or may not be) delivered, without codes or server paths; '' when fine."""
    note = message.last_error or ""
    if not note:
        return ""
    if note.startswith(GAVE_UP):
        return ("Sending stopped twice before the mail server answered. It was not sent again automatically, "
                "in case it arrived after all; support can send it again.")
    found = _ERROR_CLASS.search(note)
    if found:
        return REASONS.get(found.group(1), REFUSED)
    if note.startswith(UNKNOWN_OUTCOME):
        if message.status == "sent":
            return "Sending was interrupted once, so this message may have arrived twice."
        return "Sending was interrupted; it may have arrived, so it is sent once more."
    if note.startswith("Retried by hand"):
        return "Sent again by support."
    return REFUSED


def next_attempts(messages):
    """{message id: UTC datetime} of the automatic retries RQ has scheduled, in one Redis round trip.

    An empty answer (Redis down, or the retry lost) is fine: the outbox sweep re-enqueues within minutes.
    """
    waiting = [m for m in messages if m.status == "failed"]
    if not waiting:
        return {}
    try:
        queue = get_queue()
        key = ScheduledJobRegistry(queue=queue).key
        pipe = queue.connection.pipeline(transaction=False)
        for m in waiting:
            pipe.zscore(key, f"email-{m.pk}")
        scores = pipe.execute()
    except RedisError:
        return {}
    return {m.pk: datetime.fromtimestamp(score, tz=timezone.utc)
            for m, score in zip(waiting, scores) if score}


def _when(at, now):
    same_day = to_local(at).date() == to_local(now).date()
    return local_time(at, with_date=not same_day)


def describe(message, next_at=None, limit=None, now=None):
    """The Delivery of one message (`next_at`: its scheduled retry, when known)."""
    limit = limit or max_attempts()
    attempts = message.attempts or 0
    reason = plain_reason(message)
    if message.status == "failed":
        if attempts < limit and not (message.last_error or "").startswith(GAVE_UP):
            when = f"next at {_when(next_at, now or clock.now())}" if next_at else "next one within a few minutes"
            return Delivery("retrying", f"attempt {attempts + 1} of {limit}, {when}", reason)
        return Delivery("failed", f"after {attempts} attempt{'' if attempts == 1 else 's'}", reason)
    if message.status == "queued" and attempts:
        detail = f"attempt {attempts + 1} of {limit}" if attempts < limit else "one more attempt"
        return Delivery("queued", detail, reason)
    if message.status == "sending":
        return Delivery("sending", f"attempt {attempts} of {limit}" if attempts <= limit else "", reason)
    if message.status == "sent":
        return Delivery("sent", f"after {attempts} attempts" if attempts > 1 else "", reason)
    return Delivery(message.status, "", reason if message.status != "cancelled" else "")


def describe_page(messages):
    """{message id: Delivery} for a page of messages (one Redis round trip for the retry times)."""
    limit, now, scheduled = max_attempts(), clock.now(), next_attempts(messages)
    return {m.pk: describe(m, scheduled.get(m.pk), limit, now) for m in messages}
