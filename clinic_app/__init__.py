"""clinic_app: multi-tenant clinic management on Flask, MongoDB, RQ and htmx."""
import logging

from flask import Flask, g

from .config import load_config


def create_app(config=None):
    """Application factory: `config` overrides values read from the environment."""
    app = Flask(__name__)
    app.config.update(load_config(**(config or {})))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if app.config["TRUST_PROXY_HOPS"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUST_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from . import errors, extensions, models, security, tenancy

    extensions.init_db(app)
    extensions.init_redis(app)
    if app.config["TIME_TRAVEL"]:
        from . import clock

        clock.install(clock.OffsetClock(app.extensions["redis"]))
    extensions.csrf.init_app(app)
    tenancy.check_model_conventions()
    tenancy.init_app(app)
    extensions.init_auth(app)
    extensions.init_throttle(app)
    errors.init_app(app)
    security.init_app(app)

    from .blueprints import register_blueprints

    register_blueprints(app)

    from .cli import register_cli

    register_cli(app)

    @app.context_processor
    def layout_context():
        from flask_login import current_user

        from .permissions import RESOURCES, nav_links

        return {
            "nav_links": nav_links,
            "has_endpoint": lambda name: name in app.view_functions,
            "current_user": current_user,
            "RESOURCES": RESOURCES,
            "tenant": g.get("tenant"),
            "standing": g.get("standing"),
            "canonical_url": tenancy.canonical_url,
        }

    from .localtime import local_date, local_time

    app.jinja_env.globals.update(local_time=local_time, local_date=local_date, page_url=_page_url)
    # Shared macros as globals: jinja2-fragments renders a block without the
    # template's top-level imports, so blocks must find them globally. (After the
    # globals above: the macro module sees the globals present when it is made.)
    macros = app.jinja_env.get_template("components/macros.html").module
    app.jinja_env.globals.update(render_field=macros.render_field, pager=macros.pager)

    _ = models  # documents registered
    return app


def _page_url(number):
    """This request's URL with the same query string and another page number (for pagers)."""
    from flask import request, url_for

    return url_for(request.endpoint, **{**(request.view_args or {}), **request.args.to_dict(), "page": number})
