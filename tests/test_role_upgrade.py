"""Resources added after a clinic was created reach its default roles once, and an Admin's removal sticks."""
from clinic_app.models import Role
from clinic_app.permissions import DEFAULT_ROLES, RESOURCES
from clinic_app.services.roles import grant_new_resources


def _forget(resource):
    """Make the clinic look as if it was created before `resource` existed."""
    for role in Role.objects(system=True):
        perms = dict(role.permissions)
        perms.pop(resource, None)
        Role.objects(pk=role.pk).update(set__permissions=perms, pull__offered=resource)


def test_new_clinics_have_every_resource_offered(in_tenant, clinic_a):
    with in_tenant(clinic_a):
        for role in Role.objects(system=True):
            assert set(role.offered) == set(RESOURCES)
        assert grant_new_resources() == 0


def test_existing_default_roles_get_a_new_resources_defaults_once(in_tenant, clinic_a, clinic_b):
    with in_tenant(clinic_a):
        _forget("dispensing")
        assert not Role.objects.get(name="Nurse").allows("dispensing", "create")
    assert grant_new_resources() == 6  # every default role of clinic A is offered it (only some are granted)
    with in_tenant(clinic_a):
        nurse = Role.objects.get(name="Nurse")
        assert nurse.permissions["dispensing"] == DEFAULT_ROLES["Nurse"]["dispensing"]
        assert "dispensing" in Role.objects.get(name="Receptionist").offered
        assert "dispensing" not in Role.objects.get(name="Receptionist").permissions
    assert grant_new_resources() == 0


def test_an_admins_removal_is_not_undone(in_tenant, clinic_a):
    with in_tenant(clinic_a):
        nurse = Role.objects.get(name="Nurse")
        perms = {k: v for k, v in nurse.permissions.items() if k != "dispensing"}
        Role.objects(pk=nurse.pk).update(set__permissions=perms)
    assert grant_new_resources() == 0
    with in_tenant(clinic_a):
        assert "dispensing" not in Role.objects.get(name="Nurse").permissions
