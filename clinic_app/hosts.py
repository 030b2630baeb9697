"""Host header -> clinic: parse the host, resolve the subdomain, bind the tenant for the request.

`parse_host` is pure; `TenantResolver` caches subdomain -> Tenant with bounded
staleness; `bind_tenant_from_host` is the before_request that answers 400 for a
malformed or foreign host, 404 for an unknown clinic or a route on the wrong
side (apex vs clinic), and otherwise binds the clinic (tenancy.bind_request_tenant).
"""
import re
import threading

from cachetools import TTLCache
from flask import abort, current_app, g, request

from .models.tenant import Tenant
from .tenancy import bind_request_tenant, unbind_request_tenant

RESERVED_SUBDOMAINS = frozenset(
    """www api admin app apps mail email smtp imap pop ftp platform static assets cdn
    media img images files docs help support status blog dev staging test demo-admin
    ns ns1 ns2 mx webmail portal login logout signup register auth account accounts
    billing pay payments secure root system internal localhost dashboard""".split()
)
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")

# Blueprints served only on the apex; every other blueprint only on a clinic
# subdomain. "core" serves both ("/" dispatches on g.tenant).
APEX_BLUEPRINTS = frozenset({"public", "platform", "platform_billing"})
BOTH_BLUEPRINTS = frozenset({"core"})
HOSTLESS_ENDPOINTS = frozenset({"static", "core.healthz"})


class BadHost(ValueError):
    """The Host header is malformed or not under BASE_DOMAIN."""


def parse_host(host, base_domain):
    """Return the tenant subdomain of `host`, or None for the apex.

    Raises BadHost for malformed hosts, hosts outside `base_domain`, and
    nested subdomains (`a.b.example.com`).
    """
    host = (host or "").strip().lower().rstrip(".")
    if not host or host.startswith("["):
        raise BadHost(host)
    name, sep, port = host.rpartition(":")
    if sep:
        if not port.isdigit() or not name:
            raise BadHost(host)
        host = name.rstrip(".")
    base = base_domain.lower()
    if host in (base, f"www.{base}"):
        return None
    suffix = "." + base
    if not host.endswith(suffix):
        raise BadHost(host)
    label = host[: -len(suffix)]
    if not _LABEL.match(label):
        raise BadHost(host)
    return label


class TenantResolver:
    """Subdomain -> Tenant with a small cache of bounded staleness.

    Only hits are cached (a clinic created a moment ago on another node must
    resolve at once); entries expire after TENANT_CACHE_SECONDS.
    """

    def __init__(self, ttl_seconds, maxsize=4096):
        self._lock = threading.Lock()
        self._cache = TTLCache(maxsize=maxsize, ttl=ttl_seconds) if ttl_seconds > 0 else None

    def lookup(self, subdomain):
        if subdomain in RESERVED_SUBDOMAINS:
            return None
        if self._cache is not None:
            with self._lock:
                hit = self._cache.get(subdomain)
            if hit is not None:
                return hit
        tenant = Tenant.objects(subdomain=subdomain, status__ne="provisioning").first()
        if tenant is not None and self._cache is not None:
            with self._lock:
                self._cache[subdomain] = tenant
        return tenant

    def invalidate(self, subdomain=None):
        if self._cache is None:
            return
        with self._lock:
            if subdomain is None:
                self._cache.clear()
            else:
                self._cache.pop(subdomain, None)


def resolver():
    return current_app.extensions["tenant_resolver"]


def bind_tenant_from_host():
    """before_request: resolve the Host header and bind the clinic, or 400/404."""
    g.tenant = None
    if request.endpoint in HOSTLESS_ENDPOINTS:
        return None
    try:
        subdomain = parse_host(request.host, current_app.config["BASE_DOMAIN"])
    except BadHost:
        abort(400, description="This address is not served here.")
    blueprint = request.blueprint
    if subdomain is None:
        if blueprint not in APEX_BLUEPRINTS | BOTH_BLUEPRINTS and request.endpoint is not None:
            abort(404)
        return None
    tenant = resolver().lookup(subdomain)
    if tenant is None:
        abort(404, description="There is no clinic at this address.")
    if blueprint in APEX_BLUEPRINTS:
        abort(404)
    bind_request_tenant(tenant)
    return None


def init_app(app):
    app.extensions["tenant_resolver"] = TenantResolver(app.config["TENANT_CACHE_SECONDS"])
    app.before_request(bind_tenant_from_host)
    app.teardown_request(unbind_request_tenant)
