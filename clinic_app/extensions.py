"""Extensions, created unbound and bound in create_app()."""
import mongoengine
from flask import current_app
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from redis import Redis
from rq import Queue

from .models import all_documents
from .throttle import Throttle

csrf = CSRFProtect()
login_manager = LoginManager()  # bound, with the services' loaders, by clinic_app/login.py


def init_throttle(app):
    app.extensions["throttle"] = Throttle(app.config["REDIS_URL"], enabled=app.config["RATELIMIT_ENABLED"])


def throttle():
    return current_app.extensions["throttle"]


def init_db(app):
    """(Re)connect mongoengine's default alias to MONGODB_URI; connects lazily.

    Every write waits for the journal (and a majority of a replica set), so a
    success answer survives a crash of the database process. Inside a request
    all operations also share one deadline (resilience.RequestDeadline); these
    timeouts bound jobs and CLI commands, which run outside requests.
    """
    mongoengine.disconnect()
    mongoengine.connect(
        host=app.config["MONGODB_URI"],
        tz_aware=True,
        connect=False,
        serverSelectionTimeoutMS=app.config["MONGODB_TIMEOUT_MS"],
        connectTimeoutMS=app.config["MONGODB_TIMEOUT_MS"],
        w=app.config["MONGODB_WRITE_CONCERN"],
        journal=app.config["MONGODB_JOURNAL"],
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
    for doc in all_documents():
        doc.ensure_indexes()
