"""The operators' own audit trail: who did what, to which clinic or job, why, before and after."""
from ...models.platform import OperatorAction


def record_action(operator, action, *, tenant=None, target=None, reason=None, before=None, after=None, ip=None):
    """Append an OperatorAction (who, what, on which clinic or job, why, before/after)."""
    return OperatorAction(
        operator_id=operator.pk, operator=str(operator), action=action,
        tenant_id=tenant.pk if tenant is not None else None, tenant=str(tenant) if tenant is not None else None,
        target=target, reason=reason, before=before or {}, after=after or {}, ip=ip,
    ).save()


def actions_for(tenant=None, prefix=None, limit=50):
    """The latest operator actions on one clinic, or whose action starts with `prefix`."""
    qs = OperatorAction.objects
    if tenant is not None:
        qs = qs.filter(tenant_id=tenant.pk)
    if prefix:
        qs = qs.filter(action__startswith=prefix)
    return list(qs.order_by("-at").limit(limit))
