"""View flows shared by blueprints: an action whose outcome is flashed before a redirect, a list
behind a GET filter form, a catalogue record's add-or-edit form and its archive/restore routes."""
from flask import flash, request

from ..web import htmx_redirect, render, render_form
from .common import get_or_404, page_number


def attempt(action, done, refused):
    """Run `action()` and flash how it went; True when it went through.

    `refused` (an exception class, or a tuple of them) raised by the action is flashed as an error
    and answers False. Otherwise `done` is flashed as a success: a message, or a function of the
    action's result giving one (or nothing when there is nothing to say, such as no change).
    The caller redirects either way (Post/Redirect/Get).
    """
    try:
        result = action()
    except refused as exc:
        flash(str(exc), "error")
        return False
    message = done(result) if callable(done) else done
    if message:
        flash(message, "success")
    return True


def filtered_list(template, form_class, query, extra=None):
    """A list page behind a GET filter form (`form_class` over the query string; no CSRF: it changes nothing).

    Valid filters: `query(form, page_number())` gives the Page. Invalid ones: no page (None) and 422,
    the errors beside the fields. `extra(page)` adds the view's own context (page None when invalid).
    The `results` block is the htmx fragment.
    """
    form = form_class(request.args)
    valid = form.validate()
    page = query(form, page_number()) if valid else None
    return render(template, block="results", status=200 if valid else 422, form=form, page=page,
                  **(extra(page) if extra is not None else {}))


def archive_routes(bp, rule, model, permission, set_active, done, endpoint_prefix=""):
    """POST `rule`/archive and `rule`/restore (endpoints `archive` and `restore` after `endpoint_prefix`): one
    view body loads the `model` record the URL names, calls `set_active(record, active)`, then flashes and
    redirects as `done(record, active)` -> (message, location) says. `permission` decorates both views."""
    def view_for(active):
        @permission
        def set_record_active(**url_ids):
            """Archive the record the URL names (hidden from lists and new use, history kept) or restore it."""
            (record_id,) = url_ids.values()
            record = get_or_404(model, record_id)
            set_active(record, active)
            message, location = done(record, active)
            flash(message, "success")
            return htmx_redirect(location)
        return set_record_active

    # Two views from one body rather than Flask `defaults={"active": ...}`, which would make `active` a rule argument.
    bp.add_url_rule(f"{rule}/archive", f"{endpoint_prefix}archive", view_for(False), methods=["POST"])
    bp.add_url_rule(f"{rule}/restore", f"{endpoint_prefix}restore", view_for(True), methods=["POST"])


def save_form(template, form, record, *, name, create, update, duplicate, added, redirect_to):
    """The add-or-edit form of a catalogue record (`record` None: adding), passed to `template` as `name`.

    A valid post runs `create(values)` (flashing `added(record)`) or `update(record, values)`, then
    redirects to `redirect_to(record)`. `duplicate` is (exception, field, message): the service's refusal
    of a clash goes beside that field. Otherwise the form again (422 once posted).
    """
    if form.validate_on_submit():
        refused, field, message = duplicate
        try:
            if record is None:
                record = create(form.values())
                flash(added(record), "success")
            else:
                update(record, form.values())
                flash("Saved.", "success")
        except refused:
            form[field].errors.append(message)
        else:
            return htmx_redirect(redirect_to(record))
    return render_form(template, form, **{name: record})
