"""Outbox delivery statistics across clinics: counts by kind and status, the clinics failing most."""
from datetime import timedelta

from ... import clock
from ...models import OutboundMessage, Tenant

WINDOWS = (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)))


def message_stats(now=None, top=10, errors=20):
    """Outbox counts by kind and status for the last 24 h and 7 d, the clinics failing most (7 d), and
    the newest technical delivery errors (7 d), which clinic Admins see only in plain words."""
    now = now or clock.now()
    windows = {}
    for label, span in WINDOWS:
        rows = OutboundMessage.all_tenants().filter(created_at__gte=now - span).aggregate(
            [{"$group": {"_id": {"kind": "$kind", "status": "$status"}, "n": {"$sum": 1}}}])
        by_kind, by_status = {}, {}
        for row in rows:
            kind, status, n = row["_id"].get("kind"), row["_id"].get("status"), row["n"]
            by_kind.setdefault(kind, {})[status] = n
            by_status[status] = by_status.get(status, 0) + n
        windows[label] = {"by_kind": dict(sorted(by_kind.items())), "by_status": by_status,
                          "total": sum(by_status.values())}
    failing = list(OutboundMessage.all_tenants().filter(status="failed", created_at__gte=now - WINDOWS[1][1])
                   .aggregate([{"$group": {"_id": "$tenantId", "n": {"$sum": 1}}},
                               {"$sort": {"n": -1, "_id": 1}}, {"$limit": top}]))
    names = {t.pk: t for t in Tenant.objects(pk__in=[r["_id"] for r in failing]).only("name", "subdomain")}
    top_failing = [{"tenant": names.get(r["_id"]), "tenant_id": r["_id"], "failed": r["n"]} for r in failing]
    recent = list(OutboundMessage.all_tenants().filter(
        created_at__gte=now - WINDOWS[1][1], last_error__exists=True, last_error__ne=None).only(
        "tenant_id", "kind", "to", "status", "attempts", "last_error", "created_at").order_by("-created_at")
        .limit(errors))
    names.update({t.pk: t for t in Tenant.objects(pk__in=list({m.tenant_id for m in recent} - set(names)))
                  .only("name", "subdomain")})
    recent_errors = [{"tenant": names.get(m.tenant_id), "tenant_id": m.tenant_id, "message": m} for m in recent]
    return {"windows": windows, "top_failing": top_failing, "recent_errors": recent_errors}
