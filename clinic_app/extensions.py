"""Extensions, created unbound and bound in create_app()."""
import mongoengine
from flask import current_app
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from redis import Redis
from rq import Queue

csrf = CSRFProtect()
login_manager = LoginManager()


def init_auth(app):
    from .permissions import unauthorized
    from .services.api_tokens import load_from_request
    from .services.auth import drop_foreign_session, load_user

    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.request_loader(load_from_request)
    login_manager.unauthorized_handler(unauthorized)
    login_manager.session_protection = None  # sessions are server-side and revocable
    app.before_request(drop_foreign_session)


def init_throttle(app):
    from .throttle import Throttle

    app.extensions["throttle"] = Throttle(app.config["REDIS_URL"], enabled=app.config["RATELIMIT_ENABLED"])


def throttle():
    return current_app.extensions["throttle"]


def init_db(app):
    """(Re)connect mongoengine's default alias to MONGODB_URI; connects lazily."""
    mongoengine.disconnect()
    mongoengine.connect(
        host=app.config["MONGODB_URI"],
        tz_aware=True,
        connect=False,
        serverSelectionTimeoutMS=app.config["MONGODB_TIMEOUT_MS"],
        connectTimeoutMS=app.config["MONGODB_TIMEOUT_MS"],
        uuidRepresentation="standard",
    )


def init_redis(app):
    timeout = app.config["MONGODB_TIMEOUT_MS"] / 1000
    app.extensions["redis"] = Redis.from_url(
        app.config["REDIS_URL"], socket_connect_timeout=timeout, socket_timeout=max(timeout, 5)
    )


def redis_conn():
    return current_app.extensions["redis"]


def get_queue():
    """The RQ queue for this app's jobs."""
    return Queue(current_app.config["RQ_QUEUE"], connection=redis_conn(), is_async=current_app.config["RQ_ASYNC"])


def ensure_indexes():
    """Create every document's indexes (idempotent)."""
    from .models import all_documents

    for doc in all_documents():
        doc.ensure_indexes()
