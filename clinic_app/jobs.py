"""RQ job functions. Thin: each takes ids, binds its tenant and calls a service.

The worker builds the app once (`bind_app`); every job runs inside an app
context and `tenant_context` for the tenant id it was given. A job without
a tenant id fails instead of seeing every clinic.
"""
import functools

from .tenancy import NoTenantBound, tenant_context

_app = None


def bind_app(app):
    """Use `app` for the jobs run in this process (worker.py and tests call it)."""
    global _app
    _app = app


def get_app():
    global _app
    if _app is None:
        from . import create_app

        _app = create_app()
    return _app


def tenant_job(fn):
    """Run `fn(*args)` inside the app and the tenant whose id comes first."""

    @functools.wraps(fn)
    def job(tenant_id, *args, **kwargs):
        if not tenant_id:
            raise NoTenantBound(f"job {fn.__name__} was enqueued without a tenant id")
        from .models import Tenant

        with get_app().app_context():
            tenant = Tenant.objects(pk=tenant_id).first()
            if tenant is None:
                raise NoTenantBound(f"job {fn.__name__}: no tenant {tenant_id}")
            with tenant_context(tenant):
                return fn(*args, **kwargs)

    return job


@tenant_job
def deliver_email(message_id):
    from .services.notifications import deliver

    return deliver(message_id)
