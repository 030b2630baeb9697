"""Resources, actions, the default role matrix, and @require_permission."""
import functools

from flask import abort, current_app, make_response, redirect, request, url_for
from flask_login import current_user

from .envelope import fail

ACTIONS = ("create", "read", "update", "delete")

# resource -> the actions that mean something for it (the matrix shows only these).
RESOURCES = {
    "patients": ACTIONS,
    "appointments": ACTIONS,
    "visits": ACTIONS,
    "prescriptions": ACTIONS,
    "lab_results": ACTIONS,
    "invoices": ACTIONS,
    "inventory": ACTIONS,
    "staff": ACTIONS,
    "roles": ACTIONS,
    "settings": ("read", "update"),
    "subscription": ("read", "update"),
    "audit": ("read",),
    "messages": ("read",),
    # Added with pharmacy, laboratory and billing; existing clinics' default roles get their
    # defaults through services.roles.grant_new_resources (run by ensure-indexes).
    "dispensing": ("create", "read", "delete"),
    "lab_catalogue": ACTIONS,
    "price_list": ACTIONS,
    "reports": ("read",),
}

LABELS = {"lab_results": "Lab results", "lab_catalogue": "Lab catalogue", "price_list": "Price list"}

C, R, U, D = ACTIONS
CRUD, CRU, CR, RO = [C, R, U, D], [C, R, U], [C, R], [R]

DEFAULT_ROLES = {
    "Admin": {res: list(actions) for res, actions in RESOURCES.items()},
    "Doctor": {
        "patients": CRU, "appointments": CRUD, "visits": CRU, "prescriptions": CRUD,
        "lab_results": CRU, "invoices": RO, "inventory": RO, "staff": RO, "settings": RO,
        "dispensing": RO, "lab_catalogue": CRUD, "price_list": RO,
    },
    "Nurse": {
        "patients": CRU, "appointments": CRU, "visits": CRU, "prescriptions": RO,
        "lab_results": CRU, "inventory": RO, "staff": RO, "settings": RO,
        "dispensing": CR, "lab_catalogue": RO,
    },
    "Receptionist": {
        "patients": CRU, "appointments": CRUD, "invoices": CR, "staff": RO, "settings": RO,
        "price_list": RO,
    },
    "Accountant": {
        "patients": RO, "appointments": RO, "invoices": CRUD, "inventory": RO,
        "settings": RO, "subscription": RO, "price_list": CRUD, "reports": RO,
    },
    "Medical Representative": {"inventory": CRUD, "settings": RO, "dispensing": [C, R, D]},
}
ROLE_LEVELS = {"Admin": 100, "Doctor": 80, "Nurse": 60, "Receptionist": 40, "Accountant": 40,
               "Medical Representative": 20}


# Navigation: (resource, endpoint, text). A link shows when the endpoint exists
# and the user's role may read the resource (or do what NAV_NEEDS says).
NAV = [
    ("patients", "patients.index", "Patients"),
    ("appointments", "appointments.index", "Appointments"),
    ("visits", "visits.index", "Visits"),
    ("prescriptions", "prescriptions.index", "Prescriptions"),
    ("lab_results", "labs.index", "Lab"),
    ("invoices", "billing.index", "Invoices"),
    ("inventory", "inventory.index", "Pharmacy"),
    ("reports", "reports.index", "Reports"),
    ("staff", "staff.index", "Staff"),
    ("roles", "roles.index", "Roles"),
    ("settings", "settings.edit", "Settings"),
    ("audit", "audit.index", "Audit log"),
    ("messages", "messages.index", "Messages"),
    ("subscription", "subscription.index", "Subscription"),
    ("api_tokens", "tokens.index", "API tokens"),
]
# Links whose page needs more than reading a resource of the same name: nav id -> (resource, action).
NAV_NEEDS = {"api_tokens": ("settings", "update")}


def nav_links():
    if not current_user.is_authenticated:
        return []
    return [
        {"resource": res, "url": url_for(endpoint), "text": text}
        for res, endpoint, text in NAV
        if endpoint in current_app.view_functions and current_user.can(*NAV_NEEDS.get(res, (res, "read")))
    ]


def label(resource):
    return LABELS.get(resource, resource.replace("_", " ").capitalize())


def clean_permissions(permissions):
    """Keep only known resources and the actions they allow, in canonical order."""
    out = {}
    for resource, allowed in RESOURCES.items():
        chosen = [a for a in allowed if a in set(permissions.get(resource, ()))]
        if chosen:
            out[resource] = chosen
    return out


def unauthorized():
    """401: JSON for the API, 401 + HX-Redirect for htmx, else redirect to the login page."""
    login = url_for("auth.login", next=request.full_path.rstrip("?"))
    if request.path.startswith("/api/"):
        return fail(401, "Sign in first.")
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 401)
        response.headers["HX-Redirect"] = login
        return response
    return redirect(login)


def require_permission(resource, action):
    """Allow the view only to signed-in users whose role grants `action` on `resource`."""
    if action not in RESOURCES[resource]:
        raise ValueError(f"{action} is not an action of {resource}")

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return unauthorized()
            if not current_user.can(resource, action):
                abort(403, description="Your role does not allow this. Ask a clinic administrator.")
            return view(*args, **kwargs)

        wrapped.permission = (resource, action)
        return wrapped

    return decorator


def require_login(view):
    """Allow any signed-in user of this clinic."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return unauthorized()
        return view(*args, **kwargs)

    wrapped.permission = ("login", None)
    return wrapped
