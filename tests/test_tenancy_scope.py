"""TenantDocument closes every mongoengine hole listed in ARCHITECTURE §6."""
import pytest
from bson import ObjectId
from mongoengine import IntField, StringField
from mongoengine.errors import DoesNotExist, NotUniqueError, OperationError, ValidationError

from clinic_app.models.conventions import check_model_conventions
from clinic_app.tenancy import (
    CrossTenantError,
    NoTenantBound,
    TenantDocument,
    TenantReferenceField,
    UnsafeQueryValue,
    current_tenant,
    tenant_context,
)


class Widget(TenantDocument):
    """A throw-away tenant model for these tests."""

    meta = {
        "collection": "test_widgets",
        "indexes": [{"fields": ["tenant_id", "code"], "unique": True}],
    }
    code = StringField(required=True)
    qty = IntField(default=0)


class Gadget(TenantDocument):
    meta = {"collection": "test_gadgets"}
    name = StringField()
    widget = TenantReferenceField(Widget)


@pytest.fixture
def two_clinics(app, clinic_a, clinic_b, in_tenant):
    with app.app_context():
        Widget.ensure_indexes()
    with in_tenant(clinic_a):
        a = [Widget(code="A1", qty=1).save(), Widget(code="A2", qty=2).save()]
    with in_tenant(clinic_b):
        b = [Widget(code="B1", qty=10).save()]
    return a, b


def test_query_with_no_tenant_bound_raises(ctx):
    for action in (
        lambda: list(Widget.objects),
        lambda: Widget.objects.count(),
        lambda: Widget.objects.first(),
        lambda: Widget.objects.sum("qty"),
        lambda: Widget.objects.distinct("code"),
        lambda: Widget.objects.none(),
        lambda: list(Widget.objects.aggregate([])),
        lambda: Widget.objects.update(set__qty=1),
        lambda: Widget.objects.delete(),
        lambda: Widget(code="x").save(),
    ):
        with pytest.raises(NoTenantBound):
            action()


def test_other_clinics_documents_are_invisible_to_queries(two_clinics, clinic_b, in_tenant):
    (a1, a2), (b1,) = two_clinics
    with in_tenant(clinic_b):
        assert [w.code for w in Widget.objects] == ["B1"]
        assert Widget.objects.count() == 1
        assert Widget.objects(pk=a1.pk).first() is None
        with pytest.raises(DoesNotExist):
            Widget.objects.get(pk=a1.pk)
        assert Widget.objects.sum("qty") == 10
        assert Widget.objects.average("qty") == 10
        assert Widget.objects.distinct("code") == ["B1"]
        assert [d["_id"] for d in Widget.objects.aggregate([{"$group": {"_id": "$code"}}])] == ["B1"]
        assert Widget.objects.in_bulk([a1.pk, a2.pk, b1.pk]).keys() == {b1.pk}
        assert Widget.objects.none().count() == 0
        # Filtering on another tenant's id explicitly still finds nothing.
        assert Widget.objects(tenant_id=a1.tenant_id).count() == 0
        assert Widget.objects(__raw__={"tenantId": a1.tenant_id}).count() == 0


@pytest.mark.parametrize("empty", [lambda: Widget.objects.none(), lambda: Widget.objects(qty__gte=0).none()])
def test_an_empty_queryset_is_empty_for_every_question(two_clinics, clinic_a, in_tenant, empty):
    """.none() answers as mongoengine does over no documents, never with the clinic's own data."""
    (a1, a2), _ = two_clinics
    with in_tenant(clinic_a):
        qs = empty()
        assert qs.count() == 0
        assert qs.sum("qty") == 0
        assert qs.average("qty") == 0
        assert qs.distinct("code") == []
        assert list(qs.aggregate([{"$group": {"_id": None, "n": {"$sum": 1}}}])) == []
        assert list(qs) == [] and qs.first() is None
        assert qs.in_bulk([a1.pk, a2.pk]) == {}
        assert qs.update(set__qty=50) == 0
        assert qs.delete() == 0
        assert sorted(w.qty for w in Widget.objects) == [1, 2]  # nothing changed, nothing deleted


def test_bulk_writes_through_the_queryset_stay_in_the_bound_clinic(two_clinics, clinic_a, clinic_b, in_tenant):
    (a1, _), _ = two_clinics
    with in_tenant(clinic_b):
        assert Widget.objects.update(set__qty=99) == 1
        assert Widget.objects(pk=a1.pk).update(set__qty=99) == 0
        assert Widget.objects(pk=a1.pk).modify(set__qty=99) is None
        Widget.objects(pk=a1.pk).delete()
    with in_tenant(clinic_a):
        assert sorted(w.qty for w in Widget.objects) == [1, 2]


def test_instance_writes_of_a_foreign_document_change_nothing(two_clinics, clinic_a, clinic_b, in_tenant):
    (a1, _), _ = two_clinics
    with in_tenant(clinic_a):
        loaded = Widget.objects.get(pk=a1.pk)
    with in_tenant(clinic_b):
        loaded.qty = 500
        with pytest.raises(CrossTenantError):
            loaded.save()
        # update/delete/reload go through Document._qs with the object key.
        assert loaded.update(set__qty=500) == 0
        loaded.delete()
        with pytest.raises(DoesNotExist):
            loaded.reload()
        assert loaded.modify(set__qty=500) is False
    with in_tenant(clinic_a):
        fresh = Widget.objects.get(pk=a1.pk)
        assert fresh.qty == 1


def test_a_document_cannot_be_moved_to_another_tenant(two_clinics, clinic_a, clinic_b, in_tenant):
    (a1, _), _ = two_clinics
    with in_tenant(clinic_a):
        doc = Widget.objects.get(pk=a1.pk)
        with pytest.raises(OperationError):  # shard key is immutable on instances
            doc.tenant_id = clinic_b.pk
        with pytest.raises(CrossTenantError):
            Widget.objects(pk=a1.pk).update(set__tenant_id=clinic_b.pk)
        with pytest.raises(CrossTenantError):
            Widget.objects(pk=a1.pk).modify(set__tenant_id=clinic_b.pk)
        with pytest.raises(CrossTenantError):
            doc.update(set__tenant_id=clinic_b.pk)
        with pytest.raises(CrossTenantError):
            Widget(code="Z", tenant_id=clinic_b.pk).save()
        with pytest.raises(CrossTenantError):
            Widget.objects.insert([Widget(code="Z", tenant_id=clinic_b.pk)])
        assert Widget.objects.get(pk=a1.pk).tenant_id == clinic_a.pk
    with in_tenant(clinic_b):
        assert Widget.objects.count() == 1


def test_new_documents_take_the_bound_tenant(clinic_a, in_tenant):
    with in_tenant(clinic_a):
        w = Widget(code="N").save()
        assert w.tenant_id == clinic_a.pk
        inserted = Widget.objects.insert([Widget(code="M")])
        assert inserted[0].tenant_id == clinic_a.pk


def test_reference_to_another_clinics_document_is_rejected(two_clinics, clinic_a, clinic_b, in_tenant):
    (a1, _), (b1,) = two_clinics
    with in_tenant(clinic_a):
        foreign = Widget.all_tenants().get(pk=b1.pk)  # e.g. an id smuggled in from elsewhere
        with pytest.raises(ValidationError):
            Gadget(name="g", widget=foreign).save()
        with pytest.raises(ValidationError):
            Gadget(name="g", widget=b1.pk).save()
        assert Gadget(name="ok", widget=a1).save().widget.code == "A1"
    with in_tenant(clinic_a):
        assert Gadget.objects.count() == 1


def test_dereferencing_is_scoped_to_the_bound_clinic(two_clinics, clinic_a, clinic_b, in_tenant):
    (a1, _), (b1,) = two_clinics
    with in_tenant(clinic_b):
        gadget = Gadget(name="g", widget=b1).save()
    # Corrupt it behind the ORM's back: point B's gadget at A's widget.
    Gadget.all_tenants().filter(pk=gadget.pk).update(__raw__={"$set": {"widget": a1.pk}})
    with in_tenant(clinic_b):
        loaded = Gadget.objects.get(pk=gadget.pk)
        with pytest.raises(DoesNotExist):
            loaded.widget
        with pytest.raises(DoesNotExist):
            Gadget.objects.select_related()[0].widget
        with pytest.raises(DoesNotExist):
            loaded.reload()


def test_uniqueness_is_per_tenant(two_clinics, clinic_a, clinic_b, in_tenant):
    with in_tenant(clinic_b):
        Widget(code="A1").save()  # same code as clinic A's: fine
        with pytest.raises(NotUniqueError):
            Widget(code="A1").save()


def test_operator_dicts_from_request_bodies_are_refused(two_clinics, clinic_a, in_tenant):
    from mongoengine.queryset.visitor import Q

    with in_tenant(clinic_a):
        with pytest.raises(UnsafeQueryValue):
            Widget.objects(code={"$ne": None})
        with pytest.raises(UnsafeQueryValue):
            Widget.objects.filter(Q(code={"$gt": ""}) | Q(qty=1))
        with pytest.raises(UnsafeQueryValue):
            Widget.objects(code__in=[{"$ne": None}])


def test_aggregate_stages_that_escape_the_scope_are_refused(two_clinics, clinic_a, in_tenant):
    with in_tenant(clinic_a):
        for stage in (
            {"$lookup": {"from": "test_gadgets", "localField": "_id", "foreignField": "widget", "as": "g"}},
            {"$unionWith": {"coll": "test_widgets"}},
            {"$out": "stolen"},
            {"$facet": {"x": [{"$match": {}}]}},
        ):
            with pytest.raises(CrossTenantError):
                list(Widget.objects.aggregate([stage]))


def test_tenant_context_restores_the_previous_tenant_and_nests(clinic_a, clinic_b, in_tenant):
    with in_tenant(clinic_a):
        with tenant_context(clinic_b):
            assert current_tenant().pk == clinic_b.pk
            with tenant_context(clinic_a):
                assert current_tenant().pk == clinic_a.pk
            assert current_tenant().pk == clinic_b.pk
        assert current_tenant().pk == clinic_a.pk
    with pytest.raises(NoTenantBound):
        current_tenant()


def test_tenant_context_is_restored_after_an_exception(clinic_a):
    with pytest.raises(ZeroDivisionError):
        with tenant_context(clinic_a):
            1 / 0
    with pytest.raises(NoTenantBound):
        current_tenant()


def test_all_tenants_is_the_only_unscoped_path(two_clinics, ctx):
    assert Widget.all_tenants().count() == 3


def test_every_model_follows_the_tenancy_conventions(app):
    check_model_conventions()  # every TenantDocument of the app


def test_conventions_reject_unscoped_references_and_indexes():
    from mongoengine import ReferenceField

    class BadRef(TenantDocument):
        meta = {"collection": "test_bad_ref"}
        other = ReferenceField(Widget)

    class BadIndex(TenantDocument):
        meta = {"collection": "test_bad_index", "indexes": ["name"]}
        name = StringField()

    with pytest.raises(TypeError, match="TenantReferenceField"):
        check_model_conventions([BadRef])
    with pytest.raises(TypeError, match="does not start with tenantId"):
        check_model_conventions([BadIndex])


def test_blueprints_never_touch_raw_collections_or_cross_tenants():
    """The escape hatches stay out of request code (ARCHITECTURE §6)."""
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent / "clinic_app" / "blueprints"
    offenders = []
    for path in root.rglob("*.py"):
        text = path.read_text()
        for needle in ("_get_collection(", "get_db(", "__raw__", "pymongo"):
            if needle in text and not (needle == "get_db(" and path.parts[-2] == "core"):
                offenders.append(f"{path.relative_to(root)}: {needle}")
        if "all_tenants(" in text and path.parts[-2] != "platform":
            offenders.append(f"{path.relative_to(root)}: all_tenants(")
    assert offenders == []


def test_job_helper_refuses_a_missing_tenant_id():
    from clinic_app.jobs import deliver_email

    with pytest.raises(NoTenantBound):
        deliver_email(None, str(ObjectId()))
