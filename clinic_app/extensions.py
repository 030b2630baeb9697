"""Extensions, created unbound and bound in create_app()."""
import mongoengine
from flask import current_app
from flask_wtf.csrf import CSRFProtect
from redis import Redis
from rq import Queue

csrf = CSRFProtect()


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
