"""One package per area; each exposes `bp`."""


def register_blueprints(app):
    from .core.views import bp as core
    from .public.views import bp as public
    from .subscription.views import bp as subscription

    for bp in (core, public, subscription):
        app.register_blueprint(bp)
