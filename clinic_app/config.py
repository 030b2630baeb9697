"""Settings from the environment, in one place, with development defaults.

Nothing here runs at import time: `load_config()` reads the environment when
`create_app()` asks for it, so tests and the worker can pass overrides.
"""
import hashlib
import hmac
import os
import secrets
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bool(value, default=False):
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env, name, default):
    raw = env.get(name)
    return int(raw) if raw not in (None, "") else default


def _write_concern_w(value):
    """MONGODB_W: "majority" (default), a tag set name, or a number of nodes (never 0: unacknowledged)."""
    value = (value or "majority").strip()
    if value.isdigit():
        if int(value) < 1:
            raise RuntimeError("MONGODB_W must be at least 1: unacknowledged writes can be lost silently")
        return int(value)
    return value


def _intervals(value):
    """'requeue_unsent=2,dispatch_reminders=5' -> {"requeue_unsent": 2, ...}."""
    out = {}
    for part in (value or "").split(","):
        name, _, seconds = part.partition("=")
        if name.strip():
            out[name.strip()] = int(seconds)
    return out


# The one list of payment providers (services/payments.py implements them; models/billing.py stores the name).
PAYMENT_PROVIDERS = ("sandbox", "stripe")


def _payment_provider(value, production):
    """sandbox in development, stripe in production, unless PAYMENT_PROVIDER says otherwise."""
    value = (value or ("stripe" if production else "sandbox")).strip().lower()
    if value not in PAYMENT_PROVIDERS:
        raise RuntimeError(f"PAYMENT_PROVIDER must be one of {', '.join(PAYMENT_PROVIDERS)}, not {value!r}")
    return value


def _derived_secret(secret_key, purpose):
    """A separate key for `purpose`, so one HMAC key is never used for two jobs."""
    return hmac.new(secret_key.encode(), f"clinic_app:{purpose}".encode(), hashlib.sha256).hexdigest()


def _dev_secret_key(var_dir):
    """A per-checkout random key kept under var/, so dev sessions survive restarts."""
    path = Path(var_dir) / "dev-secret-key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        return key


def load_config(env=None, **overrides):
    """Build the Flask config mapping from `env` (default: os.environ)."""
    env = os.environ if env is None else env
    clinic_env = env.get("CLINIC_ENV", "development")
    production = clinic_env == "production"
    var_dir = env.get("VAR_DIR", str(ROOT / "var"))

    secret = env.get("SECRET_KEY")
    if not secret:
        if production:
            raise RuntimeError("SECRET_KEY must be set when CLINIC_ENV=production")
        secret = overrides.get("SECRET_KEY") or _dev_secret_key(var_dir)

    cfg = {
        "CLINIC_ENV": clinic_env,
        "TESTING": clinic_env == "test",
        "SECRET_KEY": secret,
        "VAR_DIR": var_dir,
        # Tenancy and URLs
        "BASE_DOMAIN": env.get("BASE_DOMAIN", "localhost").lower(),
        "PREFERRED_URL_SCHEME": env.get("URL_SCHEME", "https" if production else "http"),
        "PUBLIC_PORT": env.get("PUBLIC_PORT", "" if production else "5000"),
        "TENANT_CACHE_SECONDS": float(env.get("TENANT_CACHE_SECONDS", "5")),
        "TRUST_PROXY_HOPS": _int(env, "TRUST_PROXY_HOPS", 0),
        # Services
        "MONGODB_URI": env.get("MONGODB_URI", "mongodb://127.0.0.1:27017/clinic_app"),
        "MONGODB_TIMEOUT_MS": _int(env, "MONGODB_TIMEOUT_MS", 3000),
        # One deadline for ALL of a request's MongoDB work (resilience.py); default MONGODB_TIMEOUT_MS.
        "MONGODB_REQUEST_BUDGET_MS": _int(env, "MONGODB_REQUEST_BUDGET_MS", 0) or None,
        # Durable writes: acknowledged only once journaled (and on a majority of a replica set).
        "MONGODB_WRITE_CONCERN": _write_concern_w(env.get("MONGODB_W")),
        "MONGODB_JOURNAL": _bool(env.get("MONGODB_JOURNAL"), True),
        "REDIS_URL": env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        # Longest wait between reconnection attempts of the worker and cron while Redis is away.
        "REDIS_RETRY_MAX_SECONDS": float(env.get("REDIS_RETRY_MAX_SECONDS") or 30),
        # Interval jobs of clinic_app/cron.py, "name=seconds,..." to override SCHEDULE (tests, ops).
        "CRON_INTERVALS": _intervals(env.get("CRON_INTERVALS")),
        "RQ_QUEUE": env.get("RQ_QUEUE", "clinic_app"),
        "RQ_ASYNC": _bool(env.get("RQ_ASYNC"), True),
        "SMTP_HOST": env.get("SMTP_HOST", "127.0.0.1"),
        "SMTP_PORT": _int(env, "SMTP_PORT", 1025),
        "SMTP_USER": env.get("SMTP_USER", ""),
        "SMTP_PASSWORD": env.get("SMTP_PASSWORD", ""),
        "SMTP_TLS": env.get("SMTP_TLS", "none"),  # none | starttls | ssl
        "SMTP_TIMEOUT": float(env.get("SMTP_TIMEOUT", "10")),
        "MAIL_FROM": env.get("MAIL_FROM", "clinic_app <no-reply@localhost>"),
        # Sessions and security
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production or _bool(env.get("SESSION_COOKIE_SECURE")),
        "SESSION_COOKIE_DOMAIN": None,  # host-only: never shared across subdomains
        "SESSION_COOKIE_NAME": "clinic_session",
        "SESSION_LIFETIME_DAYS": _int(env, "SESSION_LIFETIME_DAYS", 7),
        "HSTS": production,
        # The token is bound to the session (7 days at most); a shorter limit
        # would break boosted pages, whose <body> hx-headers are never re-rendered.
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_ENABLED": _bool(env.get("WTF_CSRF_ENABLED"), True),
        "BCRYPT_ROUNDS": _int(env, "BCRYPT_ROUNDS", 12),
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        # Rate limits (the `limits` library, moving windows in Redis)
        "RATELIMIT_ENABLED": _bool(env.get("RATELIMIT_ENABLED"), True),
        "LOGIN_LIMIT_ACCOUNT": env.get("LOGIN_LIMIT_ACCOUNT", "5 per 15 minutes"),
        "LOGIN_LIMIT_IP": env.get("LOGIN_LIMIT_IP", "30 per 15 minutes"),
        "ONBOARD_LIMIT_IP": env.get("ONBOARD_LIMIT_IP", "10 per hour"),
        "ONBOARD_CHECK_LIMIT_IP": env.get("ONBOARD_CHECK_LIMIT_IP", "120 per minute"),
        "FORGOT_LIMIT_IP": env.get("FORGOT_LIMIT_IP", "10 per hour"),
        "RESET_TOKEN_MINUTES": _int(env, "RESET_TOKEN_MINUTES", 30),
        "INVITE_TOKEN_DAYS": _int(env, "INVITE_TOKEN_DAYS", 7),
        "DEMO_PASSWORD": env.get("DEMO_PASSWORD", "demo-clinic-walkthrough"),
        # Dev/e2e only: a clock offset shared through Redis (flask time-travel)
        "TIME_TRAVEL": _bool(env.get("TIME_TRAVEL")) and not production,
        # Payments (services/payments.py): "sandbox" is a local fake checkout for dev and demos.
        "PAYMENT_PROVIDER": _payment_provider(env.get("PAYMENT_PROVIDER"), production),
        "MONTHLY_PRICE_CENTS": _int(env, "MONTHLY_PRICE_CENTS", 4900),
        "MONTHLY_PRICE_CURRENCY": (env.get("MONTHLY_PRICE_CURRENCY") or "USD").upper(),
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_PRICE_MONTHLY": env.get("STRIPE_PRICE_MONTHLY", ""),  # a Price id; else price_data
        # Signs the sandbox checkout's callback; derived from SECRET_KEY unless set.
        "SANDBOX_PAYMENT_SECRET": env.get("SANDBOX_PAYMENT_SECRET") or _derived_secret(secret, "sandbox-payments"),
    }
    cfg.update(overrides)
    # One setting for both: the cookie must not outlive the server-side session (Flask's default is 31 days).
    cfg.setdefault("PERMANENT_SESSION_LIFETIME", timedelta(days=cfg["SESSION_LIFETIME_DAYS"]))
    return cfg
