"""One package per area; each exposes `bp`."""
import importlib

# Modules whose `bp` is registered, in order. Areas are added as they are built.
BLUEPRINTS = [
    "core", "public", "auth", "dashboard", "subscription", "sandbox_pay", "platform_billing",
    "staff", "roles", "account", "settings", "audit",
    "patients", "appointments", "visits", "api", "tokens", "messages", "platform",
]


def register_blueprints(app):
    for name in BLUEPRINTS:
        try:
            module = importlib.import_module(f"{__name__}.{name}.views")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}.views" and exc.name != f"{__name__}.{name}":
                raise
            continue  # an area that is not built yet
        app.register_blueprint(module.bp)
