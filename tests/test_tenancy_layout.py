"""Where the tenancy pieces live, and the wiring that must fail loudly rather than quietly."""
import ast
import pathlib

import pytest
from flask import Flask

import clinic_app

PACKAGE = pathlib.Path(clinic_app.__file__).resolve().parent


def _package_imports(path):
    tree = ast.parse(path.read_text())
    return [node for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("clinic_app"))]


def test_the_tenancy_core_imports_nothing_from_the_app():
    """tenancy.py is the bottom layer: models, hosts, the gate and services build on it, never the reverse."""
    assert _package_imports(PACKAGE / "tenancy.py") == []


def test_host_parsing_the_gate_and_helpers_left_the_core_without_shims():
    from clinic_app import tenancy

    for name in ("parse_host", "BadHost", "TenantResolver", "resolver", "RESERVED_SUBDOMAINS", "APEX_BLUEPRINTS",
                 "HOSTLESS_ENDPOINTS", "subscription_gate", "allow_when_suspended", "allow_writes_in_grace",
                 "prefetch", "canonical_url", "check_model_conventions"):
        assert not hasattr(tenancy, name), name
    # What new models and jobs import from the core keeps working.
    for name in ("TenantDocument", "TenantReferenceField", "TenantQuerySet", "tenant_context", "current_tenant",
                 "bound_tenant", "NoTenantBound", "CrossTenantError"):
        assert hasattr(tenancy, name), name


def test_the_gate_is_imported_by_no_service_or_model():
    """The gate applies the subscription service to requests; services and models must not reach up to it."""
    offenders = []
    for layer in ("services", "models"):
        for path in (PACKAGE / layer).rglob("*.py"):
            for node in _package_imports(path):
                names = {alias.name for alias in node.names}
                if (node.module or "").endswith("gate") or "gate" in names:
                    offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


def test_a_missing_blueprint_module_is_an_error(monkeypatch):
    from clinic_app import blueprints

    monkeypatch.setattr(blueprints, "BLUEPRINTS", ["core", "no_such_area"])
    with pytest.raises(ModuleNotFoundError, match="no_such_area"):
        blueprints.register_blueprints(Flask("wiring"))


def test_subscription_lengths_live_only_in_the_state_machine():
    """The state machine (services/subscription.py) is a pure function of (tenant, now); config has no
    TRIAL_DAYS/GRACE_DAYS that would look adjustable and change nothing."""
    from clinic_app.config import load_config
    from clinic_app.services import subscription

    cfg = load_config(env={"SECRET_KEY": "k"})
    assert "TRIAL_DAYS" not in cfg and "GRACE_DAYS" not in cfg
    assert (subscription.TRIAL_DAYS, subscription.GRACE_DAYS) == (7, 7)


def test_payment_providers_are_listed_once():
    from clinic_app import config
    from clinic_app.models import billing

    assert billing.SubscriptionPayment.provider.choices is config.PAYMENT_PROVIDERS
