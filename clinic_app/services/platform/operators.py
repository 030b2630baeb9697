"""Platform operators: accounts (created from the CLI), sign-in and their server-side sessions."""
import secrets
from datetime import timedelta

from mongoengine import NotUniqueError

from ... import clock
from ...clock import as_utc
from ...models.platform import Operator, OperatorSession
from ...models.users import token_hash
from ..passwords import check_password, hash_password, password_problem

SESSION_LIFETIME = timedelta(hours=12)
SEEN_WRITE_INTERVAL = timedelta(minutes=1)


class OperatorProblem(ValueError):
    """An operator cannot be created (duplicate email, weak password, bad input)."""


def create_operator(email, name, password):
    """Create an operator. Raises OperatorProblem."""
    email = (email or "").strip().lower()
    name = (name or "").strip()
    if "@" not in email or len(email) > 320:
        raise OperatorProblem("Enter a valid email address.")
    if not name:
        raise OperatorProblem("A name is required.")
    problem = password_problem(password, (email, name))
    if problem:
        raise OperatorProblem(problem)
    try:
        return Operator(email=email, name=name, password_hash=hash_password(password)).save()
    except NotUniqueError:
        raise OperatorProblem(f"an operator with the email {email} already exists") from None


def set_operator_active(email, active):
    """Enable or disable an operator; disabling revokes their sessions at once. Raises OperatorProblem."""
    operator = Operator.objects(email=(email or "").strip().lower()).first()
    if operator is None:
        raise OperatorProblem(f"no operator with the email {email}")
    Operator.objects(pk=operator.pk).update(set__active=active)
    if not active:
        OperatorSession.objects(operator_id=operator.pk, revoked_at=None).update(set__revoked_at=clock.now())
    return operator


def set_operator_password(email, password):
    """Change an operator's password (NIST rules) and revoke their sessions. Raises OperatorProblem."""
    operator = Operator.objects(email=(email or "").strip().lower()).first()
    if operator is None:
        raise OperatorProblem(f"no operator with the email {email}")
    problem = password_problem(password, (operator.email, operator.name))
    if problem:
        raise OperatorProblem(problem)
    Operator.objects(pk=operator.pk).update(set__password_hash=hash_password(password))
    OperatorSession.objects(operator_id=operator.pk, revoked_at=None).update(set__revoked_at=clock.now())
    return operator


def authenticate_operator(email, password):
    """The active operator with these credentials, or None (the same answer for every failure)."""
    if not isinstance(email, str) or not isinstance(password, str):
        return None
    operator = Operator.objects(email=email.strip().lower()).first()
    ok = check_password(password, operator.password_hash if operator else None)
    if operator is None or not ok or not operator.active:
        return None
    return operator


def start_operator_session(operator, ip=None, user_agent=""):
    """A new server-side session (12 h, absolute); returns the plain token for the cookie."""
    now = clock.now()
    token = secrets.token_urlsafe(32)
    OperatorSession(token_hash=token_hash(token), operator_id=operator.pk, created_at=now, last_seen_at=now,
                    expires_at=now + SESSION_LIFETIME, ip=ip, user_agent=(user_agent or "")[:300]).save()
    Operator.objects(pk=operator.pk).update(set__last_login_at=now)
    return token


def load_operator_session(token):
    """(operator, session) for a valid, unrevoked, unexpired token of an active operator, else None."""
    if not isinstance(token, str) or not token:
        return None
    now = clock.now()
    record = OperatorSession.objects(token_hash=token_hash(token), revoked_at=None).first()
    if record is None or now >= as_utc(record.expires_at):
        return None
    operator = Operator.objects(pk=record.operator_id, active=True).first()
    if operator is None:
        return None
    if now - as_utc(record.last_seen_at) > SEEN_WRITE_INTERVAL:
        OperatorSession.objects(pk=record.pk).update(set__last_seen_at=now)
    return operator, record


def end_operator_session(record):
    OperatorSession.objects(pk=record.pk, revoked_at=None).update(set__revoked_at=clock.now())
