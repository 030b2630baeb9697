"""The one sign-in page flow, shared by the clinic login and the operator console's login.

Each door says how to check credentials (a `services.auth.check_sign_in` call),
how to start its session and where "home" is; this helper does the rest the
same way for both: throttling (429 with the wait), one message for every
failure, a safe `next` and Post/Redirect/Get.
"""
from flask import abort, redirect, request

from ..services.auth import INVALID_LOGIN, SignInThrottled
from ..web import htmx_redirect, render_form, safe_next


def login_page(form, *, signed_in, check, start, template, home, next_prefix="/", locked_hint="", **context):
    """GET: the form (or on to `next` when already signed in). POST: sign in or say why not.

    `check(email, password)` returns the principal or None and raises
    SignInThrottled; `start(principal)` creates the session.
    """
    target = safe_next(request.args.get("next"), next_prefix) or home
    if signed_in and request.method == "GET":
        return redirect(target)
    if form.validate_on_submit():
        try:
            principal = check(form.email.data, form.password.data)
        except SignInThrottled as exc:
            abort(429, description=f"Too many failed sign-in attempts. Try again in about {exc.minutes} minute"
                                   f"{'' if exc.minutes == 1 else 's'}{locked_hint}.")
        if principal is not None:
            start(principal)
            return htmx_redirect(target)
        form.password.errors.append(INVALID_LOGIN)
    return render_form(template, form, **context)
