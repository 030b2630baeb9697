"""The lab catalogue pages: tests with reference ranges, and panels (Admin and Doctor edit, Nurse reads)."""
from flask import flash, request, url_for
from wtforms.fields.choices import SelectChoice

from ...localtime import clinic_settings
from ...models import LabPanel, LabTest
from ...money import format_money
from ...pagination import paginate
from ...permissions import require_permission
from ...services.labs import catalogue
from ...services.labs.flags import describe_ages, describe_range
from ...web import htmx_redirect, render, render_form
from ..common import beside_field, get_or_404, page_number
from .forms import LabTestForm, PanelForm
from .base import bp

BLANK_RANGE_ROWS = 2


@bp.get("/tests")
@require_permission("lab_catalogue", "read")
def tests():
    """The clinic's test catalogue (inactive tests too), by name."""
    page = paginate(catalogue.tests(include_inactive=True), page_number(), 50)
    currency = clinic_settings().currency
    return render("labs/tests.html", block="results", page=page, describe_range=describe_range,
                  describe_ages=describe_ages, money=lambda minor: format_money(minor, currency))


def _test_form_page(form, test, message=None):
    if request.method == "GET":
        for _ in range(BLANK_RANGE_ROWS):
            form.ranges.append_entry()
    return render_form("labs/test_form.html", form, test=test, message=message)


def _save_test(form, test):
    message = None
    if form.validate_on_submit():
        try:
            catalogue.save_test(test, form.values(), form.range_values())
        except catalogue.CatalogueError as exc:
            message = beside_field(form, exc)
        else:
            flash(f"{test.name} saved.", "success")
            return htmx_redirect(url_for("labs.tests"))
    return _test_form_page(form, test, message)


@bp.route("/tests/new", methods=["GET", "POST"])
@require_permission("lab_catalogue", "create")
def test_new():
    """Add a test to the catalogue."""
    form = LabTestForm(currency=clinic_settings().currency)
    return _save_test(form, LabTest())


@bp.route("/tests/<test_id>/edit", methods=["GET", "POST"])
@require_permission("lab_catalogue", "update")
def test_edit(test_id):
    """Edit a test: units, price, result type and reference ranges (orders already placed keep theirs)."""
    test = get_or_404(LabTest, test_id)
    currency = clinic_settings().currency
    form = LabTestForm.for_test(test, currency) if request.method == "GET" else LabTestForm(currency=currency)
    return _save_test(form, test)


@bp.get("/panels")
@require_permission("lab_catalogue", "read")
def panels():
    """Panels (groups of tests ordered together)."""
    panel_list = list(catalogue.panels(include_inactive=True).limit(200))
    return render("labs/panels.html", panel_list=panel_list, panel_tests=catalogue.panel_tests(panel_list))


def _panel_page(panel):
    form = PanelForm(data={"code": panel.code, "name": panel.name, "active": panel.active,
                           "tests": [str(t) for t in panel.test_ids]} if request.method == "GET" and panel.pk
                     else None)
    form.tests.choices = [SelectChoice(str(t.pk), t.name) for t in catalogue.tests()]
    message = None
    if form.validate_on_submit():
        try:
            catalogue.save_panel(panel, form.code.data.strip(), form.name.data.strip(), form.tests.data,
                                 bool(form.active.data))
        except catalogue.CatalogueError as exc:
            message = beside_field(form, exc)
        else:
            flash(f"{panel.name} saved.", "success")
            return htmx_redirect(url_for("labs.panels"))
    return render_form("labs/panel_form.html", form, panel=panel, message=message)


@bp.route("/panels/new", methods=["GET", "POST"])
@require_permission("lab_catalogue", "create")
def panel_new():
    """Add a panel."""
    return _panel_page(LabPanel())


@bp.route("/panels/<panel_id>/edit", methods=["GET", "POST"])
@require_permission("lab_catalogue", "update")
def panel_edit(panel_id):
    """Edit a panel's name and tests."""
    return _panel_page(get_or_404(LabPanel, panel_id))
