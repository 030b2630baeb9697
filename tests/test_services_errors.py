"""The shared refusals (services/errors.py), the audit's apply_values, and the API's attempt()."""
from types import SimpleNamespace

import pytest
from werkzeug.exceptions import HTTPException

from clinic_app.blueprints.api.base import attempt
from clinic_app.services import audit, errors, staff, visits
from clinic_app.services.billing import invoices
from clinic_app.services.labs import catalogue, orders
from clinic_app.services.pharmacy import prescribing, stock
from clinic_app.services.scheduling import InvalidTransition, Refused as BookingRefused


def test_the_areas_names_are_the_shared_refusals():
    assert invoices.BillingError is orders.LabError is visits.VisitError is errors.Refused
    assert invoices.Conflict is orders.Conflict is visits.Conflict is errors.Conflict
    assert invoices.NotAllowed is orders.NotAllowed is visits.NotProvider is errors.NotAllowed
    assert (errors.Refused.status, errors.Conflict.status, errors.NotAllowed.status) == (422, 409, 403)


@pytest.mark.parametrize("exc, status", [
    (invoices.AlreadyBilled(["visit"]), 409),
    (prescribing.Conflict("Not a draft any more."), 409),
    (prescribing.PrescriptionError("Some lines need attention.", {0: "Pick a medicine."}), 422),
    (stock.NotEnoughStock("Not that much.", "quantity"), 409),
    (catalogue.CatalogueError("Another test already has this code.", field="code"), 422),
    (staff.LastAdmin("The clinic needs an Admin."), 422),
    (BookingRefused({"time": "Taken."}), 422),
    (InvalidTransition("Closed meanwhile."), 409),
])
def test_every_areas_refusal_is_caught_as_a_refusal_with_its_status(exc, status):
    """So a view catching BillingError (or the API's attempt) also answers another area's refusal."""
    with pytest.raises(invoices.BillingError) as caught:
        raise exc
    assert caught.value.status == status


def test_the_areas_conflicts_are_the_shared_conflict():
    for exc in (invoices.AlreadyBilled(["visit"]), prescribing.Conflict("Not a draft."), InvalidTransition("Closed.")):
        assert isinstance(exc, errors.Conflict)
    assert isinstance(prescribing.Conflict("Not a draft."), prescribing.PrescriptionError)


def test_a_refusal_about_one_field_names_it_in_fields():
    exc = stock.StockError("Choose a reason.", "reason")
    assert (exc.field, exc.fields, str(exc)) == ("reason", {"reason": "Choose a reason."}, "Choose a reason.")
    assert stock.StockError("Archived.").fields == {} and errors.Refused("No.").fields == {}


def test_apply_values_sets_what_differs_and_returns_the_changes():
    doc = SimpleNamespace(name="Aspirin", price=100, code="A1")
    changes = audit.apply_values(doc, {"name": "Aspirin", "price": 120, "other": 1}, ("name", "price", "code"))
    assert changes == {"price": {"old": 100, "new": 120}}
    assert (doc.name, doc.price, doc.code) == ("Aspirin", 120, "A1")


def test_apply_values_compares_and_records_as_told():
    doc = SimpleNamespace(phone=None, tz="UTC")
    same = audit.apply_values(doc, {"phone": ""}, ("phone",), same=lambda old, new: (old or None) == (new or None))
    assert same == {} and doc.phone is None
    moved = audit.apply_values(doc, {"tz": "Europe/Paris"}, ("tz",), recorded=lambda o, n: {"from": o, "to": n})
    assert moved == {"tz": {"from": "UTC", "to": "Europe/Paris"}} and doc.tz == "Europe/Paris"


def _raise(exc):
    raise exc


def test_api_attempt_answers_a_refusal_with_its_status_message_and_fields():
    assert attempt(lambda: 7) == 7
    with pytest.raises(HTTPException) as caught:
        attempt(lambda: _raise(invoices.Conflict("This invoice is finalised.")))
    assert (caught.value.code, caught.value.description, caught.value.fields) == (409, "This invoice is finalised.",
                                                                                    {})
    with pytest.raises(HTTPException) as caught:
        attempt(lambda: _raise(catalogue.CatalogueError("Pick at least one test.", field="tests")), {422: 400},
                names={"tests": "test_ids"})
    assert (caught.value.code, caught.value.fields) == (400, {"test_ids": "Pick at least one test."})
