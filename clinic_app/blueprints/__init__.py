"""One package per area; each exposes `bp`."""
import importlib

# Modules whose `bp` is registered, in order. A name here whose package is
# missing is an error (ModuleNotFoundError at start-up), never a silent skip.
BLUEPRINTS = [
    "core", "public", "auth", "dashboard", "subscription", "sandbox_pay", "platform_billing",
    "staff", "roles", "account", "settings", "audit",
    "patients", "appointments", "visits", "labs", "inventory", "prescriptions", "billing", "reports",
    "api", "tokens", "messages", "platform",
]


def register_blueprints(app):
    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(f"{__name__}.{name}.views").bp)
