"""clinic_app: multi-tenant clinic management on Flask, MongoDB, RQ and htmx."""
import logging

from flask import Flask, g
from flask_login import current_user
from jinja2.runtime import Macro
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import load_config


def create_app(config=None):
    """Application factory: `config` overrides values read from the environment."""
    app = Flask(__name__)
    app.config.update(load_config(**(config or {})))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if app.config["TRUST_PROXY_HOPS"]:
        hops = app.config["TRUST_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    # The factory is the composition root: it imports every layer, so it does so here and not at
    # the top of the package, which `import clinic_app.clock` (or dev.py, the test harness) runs.
    from . import clock, errors, extensions, gate, hosts, login, models, resilience, security, web
    from .blueprints import register_blueprints
    from .cli import register_cli
    from .localtime import date_pattern, local_date, local_time
    from .models.conventions import check_model_conventions
    from .pagination import page_url
    from .permissions import RESOURCES, nav_links

    extensions.init_db(app)
    extensions.init_redis(app)
    if app.config["TIME_TRAVEL"]:
        clock.install(clock.OffsetClock(app.extensions["redis"]))
    extensions.csrf.init_app(app)
    check_model_conventions()
    hosts.init_app(app)  # Host -> clinic, bound for the request
    gate.init_app(app)  # then the subscription gate, which needs the clinic
    login.init_app(app)  # Flask-Login with the services' session and API-token loaders
    extensions.init_throttle(app)
    errors.init_app(app)
    resilience.init_app(app)  # one MongoDB deadline for all of a request's work (pymongo CSOT)
    security.init_app(app)
    register_blueprints(app)
    # Browsers ask for /favicon.ico whatever the <link> says; served by the (hostless) static endpoint.
    app.add_url_rule("/favicon.ico", endpoint="static", defaults={"filename": "favicon.ico"})
    register_cli(app)

    @app.context_processor
    def layout_context():
        return {
            "nav_links": nav_links,
            "has_endpoint": lambda name: name in app.view_functions,
            "current_user": current_user,
            "RESOURCES": RESOURCES,
            "tenant": g.get("tenant"),
            "standing": g.get("standing"),
            "canonical_url": web.canonical_url,
        }

    app.jinja_env.globals.update(local_time=local_time, local_date=local_date, date_pattern=date_pattern,
                                 page_url=page_url)
    # Every macro of components/macros.html as a global: jinja2-fragments renders a block without the
    # template's top-level imports, so blocks must find them globally, and no template imports them.
    # (After the globals above: the macro module sees the globals present when it is made.)
    macros = app.jinja_env.get_template("components/macros.html").module
    app.jinja_env.globals.update({name: value for name, value in vars(macros).items() if isinstance(value, Macro)})

    _ = models  # documents registered
    return app
