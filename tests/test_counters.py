from clinic_app.models import Counter


def test_counters_are_per_clinic_and_atomic(clinic_a, clinic_b, in_tenant):
    with in_tenant(clinic_a):
        assert [Counter.next("patient") for _ in range(3)] == [1, 2, 3]
    with in_tenant(clinic_b):
        assert Counter.next("patient") == 1
    with in_tenant(clinic_a):
        assert Counter.objects.get(name="patient").tenant_id == clinic_a.pk
