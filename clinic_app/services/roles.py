"""Roles and their resource × action permissions (the Admin role always has full access)."""
from mongoengine import NotUniqueError

from ..models import Role, User
from ..permissions import DEFAULT_ROLES, RESOURCES, clean_permissions
from . import audit
from .staff import NameTaken, RoleInUse, StaffError, _change


# "resource:action" for every cell of the permission matrix, in display order.
PERMISSION_KEYS = [f"{res}:{act}" for res, actions in RESOURCES.items() for act in actions]


def role_user_counts():
    """{role id: number of users with that role (any status)}."""
    rows = User.objects.aggregate([{"$group": {"_id": "$role", "n": {"$sum": 1}}}])
    return {row["_id"]: row["n"] for row in rows}


def permission_keys(permissions):
    """The set of "resource:action" keys a permissions dict grants."""
    return {f"{res}:{act}" for res, acts in (permissions or {}).items() for act in acts}


def _ordered(keys_or_permissions):
    """Permission keys in matrix order (from a set of keys or a permissions dict)."""
    keys = keys_or_permissions
    if isinstance(keys, dict):
        keys = permission_keys(keys)
    return [k for k in PERMISSION_KEYS if k in keys]


def permissions_from_keys(keys):
    """"resource:action" keys -> a clean permissions dict."""
    chosen = {}
    for key in keys or ():
        res, _, act = key.partition(":")
        chosen.setdefault(res, []).append(act)
    return clean_permissions(chosen)


CASE_INSENSITIVE = {"locale": "en", "strength": 2}


def role_name_taken(name, exclude=None):
    # A collation, not `name__iexact`: SecantusDB 0.7 never matches case-insensitive BSON regexes.
    qs = Role.objects(name=name.strip()).collation(CASE_INSENSITIVE)
    if exclude is not None:
        qs = qs.filter(pk__ne=exclude.pk)
    return qs.first() is not None


def create_role(name, level, permissions):
    """A custom role. Raises NameTaken."""
    name = name.strip()
    if role_name_taken(name):
        raise NameTaken(f"A role named {name} already exists.")
    role = Role(name=name, level=10 if level is None else level, permissions=clean_permissions(permissions),
                system=False)
    try:
        role.save()
    except NotUniqueError:
        raise NameTaken(f"A role named {name} already exists.") from None
    audit.record("role.create", target=role,
                 changes={"name": _change(None, name), "added": _ordered(role.permissions)})
    return role


def update_role(role, permissions, name=None, level=None):
    """Change a role's permissions (and a custom role's name, any non-Admin role's level).

    Raises StaffError for the Admin role (always full access), NameTaken.
    """
    if role.is_admin:
        raise StaffError("The Admin role always has full access and cannot be changed.")
    before_keys, before_name, before_level = permission_keys(role.permissions), role.name, role.level
    role.permissions = clean_permissions(permissions)
    if name is not None and not role.system:
        if role_name_taken(name, exclude=role):
            raise NameTaken(f"A role named {name.strip()} already exists.")
        role.name = name.strip()
    if level is not None:
        role.level = level
    after_keys = permission_keys(role.permissions)
    changes = {"added": _ordered(after_keys - before_keys), "removed": _ordered(before_keys - after_keys)}
    if role.name != before_name:
        changes["name"] = _change(before_name, role.name)
    if role.level != before_level:
        changes["level"] = _change(before_level, role.level)
    changes = {k: v for k, v in changes.items() if v}
    if not changes:
        return {}
    try:
        role.save()
    except NotUniqueError:
        raise NameTaken(f"A role named {role.name} already exists.") from None
    audit.record("role.update", target=role, changes=changes)
    return changes


def delete_role(role):
    """Delete a custom role nobody has. Raises StaffError, RoleInUse."""
    if role.system:
        raise StaffError(f"{role.name} is a default role and cannot be deleted.")
    users = User.objects(role=role).count()
    if users:
        raise RoleInUse(f"{users} {'user still has' if users == 1 else 'users still have'} the {role.name} role. "
                        "Give them another role first. Nothing was deleted.")
    Role.objects(pk=role.pk, system=False).delete()
    if User.objects(role=role).count():  # assigned meanwhile: put the role back
        role.save(force_insert=True)
        raise RoleInUse(f"Someone was just given the {role.name} role. Nothing was deleted.")
    audit.record("role.delete", target=role,
                 changes={"name": _change(role.name, None), "removed": _ordered(role.permissions)})


def grant_new_resources():
    """Give every clinic's default roles the default grants of resources added since the
    clinic was created (once per role and resource: `offered` remembers, so an Admin's later
    removal sticks). Idempotent; returns the number of roles changed. A platform-wide
    migration, hence the one cross-clinic call."""
    changed = 0
    for role in Role.all_tenants().filter(system=True, name__in=list(DEFAULT_ROLES)).only(
            "id", "tenant_id", "name", "permissions", "offered"):
        new = [res for res in RESOURCES if res not in (role.offered or [])]
        if not new:
            continue
        grants = DEFAULT_ROLES[role.name]
        updates = {f"set__permissions__{res}": list(grants[res]) for res in new if grants.get(res)}
        # Conditional on the role not having moved on meanwhile (two nodes starting at once).
        done = Role.all_tenants().filter(pk=role.pk, offered__nin=new[:1]).update(
            add_to_set__offered=new, **updates)
        changed += done
    return changed
