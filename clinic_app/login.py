"""Who is signed in: Flask-Login's loaders, bound to the app (ARCHITECTURE §5.3).

Request wiring over the services, like gate.py: the session and API-token
loaders are use cases (services/auth.py, services/api_tokens.py), so the
module that hands them to Flask-Login sits above the services. The
LoginManager itself stays an unbound extension in extensions.py.
"""
from .extensions import login_manager
from .permissions import unauthorized
from .services.api_tokens import load_from_request
from .services.auth import drop_foreign_session, load_user


def init_app(app):
    login_manager.init_app(app)
    login_manager.user_loader(load_user)
    login_manager.request_loader(load_from_request)
    login_manager.unauthorized_handler(unauthorized)
    login_manager.session_protection = None  # sessions are server-side and revocable
    app.before_request(drop_foreign_session)
