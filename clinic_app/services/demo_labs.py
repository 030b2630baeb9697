"""Demo laboratory data: the starter catalogue, orders in every state, a critical result, a trend.

`seed(tenant, rng, now)` runs once per clinic inside tenant_context (services/demo.py). Everything is
inserted in bulk (a handful of writes), with flags computed by the same pure functions the app uses.
"""
from datetime import date, timedelta, timezone

from bson import ObjectId

from ..localtime import clinic_zone
from ..models import AuditEvent, Counter, LabOrder, LabResult, LabTest, Patient, User
from ..models.labs import OrderItem, Specimen
from ..tenancy import current_tenant_id
from . import audit
from .labs import flags
from .labs.catalogue import load_starter

DOCTOR, NURSE = "doctor@demo.clinic", "nurse@demo.clinic"


class _Lab:
    def __init__(self, rng, now, doctor, nurse):
        self.rng, self.now, self.doctor, self.nurse = rng, now, doctor, nurse
        self.tests = {t.code: t for t in LabTest.objects}
        self.zone = clinic_zone()
        self.orders, self.results, self.events = [], [], []

    def _in_clinic_hours(self, at):
        """`at` moved into 08:00-17:59 clinic-local time (same minutes), never later than now: demo
        orders are placed while the clinic is open."""
        local = at.astimezone(self.zone)
        if not 8 <= local.hour < 18:
            local = local.replace(hour=8 + local.hour % 10)
        while local > self.now:
            local -= timedelta(days=1)
        return local.astimezone(timezone.utc)

    def order(self, patient, codes, status, at, values=None, priority="routine", note=None, critical_acked=True):
        """One order (and its results when `values` {code: raw} are given) at `at`, in `status`."""
        at = self._in_clinic_hours(at)
        # The id and tenant are set now so results can reference the order before the bulk insert.
        order = LabOrder(id=ObjectId(), tenant_id=current_tenant_id(), number="", patient=patient, ordered_by=self.doctor,
                         ordered_by_name=self.doctor.name, ordered_at=at, priority=priority, note=note,
                         status=status, items=[self._item(self.tests[c]) for c in codes])
        self.orders.append(order)
        self._event("lab_order.create", order, at, self.doctor, {"tests": list(codes)})
        if status == "cancelled":
            order.cancelled_at, order.cancelled_by = at + timedelta(hours=1), self.doctor.name
            order.cancel_reason = "Ordered twice; the other order stands."
            return order
        if status == "ordered":
            return order
        collected_at = min(at + timedelta(minutes=self.rng.randint(10, 90)), self.now)
        order.specimen = Specimen(collected_at=collected_at, collected_by_id=self.nurse.pk,
                                  collected_by=self.nurse.name, label=f"SP-{self.rng.randint(100000, 999999)}")
        self._event("lab_order.collect", order, collected_at, self.nurse, {"status": "collected"})
        if status == "collected" or not values:
            return order
        resulted_at = min(collected_at + timedelta(hours=self.rng.randint(2, 20)), self.now)
        order.resulted_at = resulted_at
        mine = [self._result(order, patient, self.tests[code], raw, collected_at, resulted_at,
                             acked=critical_acked or status == "reviewed") for code, raw in values.items()]
        self.results.extend(mine)
        order.abnormal_count = sum(1 for r in mine if r.abnormal)
        order.critical_count = sum(1 for r in mine if r.critical)
        self._event("lab_result.create", order, resulted_at, self.nurse, {"results": len(values)})
        if status == "reviewed":
            order.reviewed_at = min(resulted_at + timedelta(hours=self.rng.randint(1, 30)), self.now)
            order.reviewed_by, order.reviewed_by_id = self.doctor.name, self.doctor.pk
            self._event("lab_order.review", order, order.reviewed_at, self.doctor, {"status": "reviewed"})
        return order

    def _item(self, test):
        return OrderItem(test_id=test.pk, code=test.code, name=test.name, unit=test.unit,
                         result_type=test.result_type, specimen=test.specimen, price=test.price or 0)

    def _result(self, order, patient, test, raw, collected_at, resulted_at, acked):
        on = flags.local_collection_date(collected_at, self.zone)
        rng = flags.choose_range(test.ranges, patient.sex, patient.date_of_birth, on)
        numeric = test.result_type == "numeric"
        value = flags.parse_numeric(raw, test.decimals) if numeric else raw
        flag = flags.flag_for(test.result_type, value, rng, test.normal_choices)
        critical = flag in flags.CRITICAL
        return LabResult(order=order, patient=patient, ordered_by=self.doctor, order_number="", test_id=test.pk,
                         code=test.code, name=test.name, result_type=test.result_type, unit=test.unit,
                         decimals=test.decimals, value_num=value if numeric else None,
                         value_text=None if numeric else value, range=rng.copy() if rng else None,
                         range_text=flags.describe_reference(test.result_type, rng, test.unit or "", test.normal_choices),
                         flag=flag,
                         collected_at=collected_at, resulted_at=resulted_at, resulted_by_id=self.nurse.pk,
                         resulted_by=self.nurse.name, needs_ack=critical and not acked,
                         acknowledged_at=resulted_at + timedelta(minutes=30) if critical and acked else None,
                         acknowledged_by=self.doctor.name if critical and acked else None)

    def _event(self, action, order, at, actor, changes):
        self.events.append(audit.event(action, order, changes, actor, at=at))

    def save(self):
        """Number the orders in time order from one counter bump, then three bulk inserts."""
        self.orders.sort(key=lambda o: o.ordered_at)
        last = Counter.next("lab_order", by=len(self.orders))
        first = last - len(self.orders) + 1
        for n, order in enumerate(self.orders, start=first):
            order.number = f"L{n:06d}"
        for result in self.results:
            result.order_number = result.order.number
        for event in self.events:
            event.target = next(o.number for o in self.orders if o.pk == event.target_id)
        LabOrder.objects.insert(self.orders, load_bulk=False)
        if self.results:
            LabResult.objects.insert(self.results, load_bulk=False)
        AuditEvent.objects.insert(self.events, load_bulk=False)


def _adults(today, count, rng):
    cutoff = date(today.year - 25, today.month, 1)
    pool = list(Patient.objects(active=True, date_of_birth__lte=cutoff, sex__in=["female", "male"]).limit(80))
    rng.shuffle(pool)
    return pool[:count]


def seed(tenant, rng, now):
    """Starter catalogue, ~14 orders (ordered, collected, resulted with a critical, reviewed, cancelled) and
    a six-month HbA1c/glucose trend for one patient."""
    load_starter()
    staff = {u.email: u for u in User.objects(email__in=[DOCTOR, NURSE])}
    if DOCTOR not in staff or NURSE not in staff:
        return
    today = now.astimezone(clinic_zone()).date()
    people = _adults(today, 10, rng)
    if len(people) < 8:
        return
    lab = _Lab(rng, now, staff[DOCTOR], staff[NURSE])
    hours = timedelta(hours=1)
    # Waiting: two for a specimen, two for results (one urgent).
    lab.order(people[0], ["WBC", "RBC", "HGB", "HCT", "MCV", "PLT"], "ordered", now - 3 * hours)
    lab.order(people[1], ["TSH", "FT4"], "ordered", now - 26 * hours, note="Fatigue, weight gain.")
    lab.order(people[2], ["GLU", "BUN", "CREA", "NA", "K", "CL", "CO2", "CA"], "collected", now - 5 * hours,
              priority="urgent", note="Vomiting for two days.")
    lab.order(people[3], ["CHOL", "HDL", "LDL", "TRIG"], "collected", now - 30 * hours)
    # Resulted, awaiting review: one with a critical potassium, not yet acknowledged.
    lab.order(people[4], ["NA", "K", "CREA", "GLU"], "resulted", now - 20 * hours,
              {"NA": "133", "K": "6.9", "CREA": "1.62", "GLU": "104"}, priority="urgent",
              note="On ACE inhibitor and spironolactone.", critical_acked=False)
    lab.order(people[5], ["UNIT", "UPRO", "UMICRO"], "resulted", now - 28 * hours,
              {"UNIT": "Positive", "UPRO": "Trace", "UMICRO": "WBC 10-20/hpf, bacteria ++"})
    # Reviewed.
    lab.order(people[6], ["CHOL", "HDL", "LDL", "TRIG"], "reviewed", now - 9 * 24 * hours,
              {"CHOL": "232", "HDL": "38", "LDL": "151", "TRIG": "178"})
    lab.order(people[7], ["WBC", "HGB", "PLT"], "reviewed", now - 12 * 24 * hours,
              {"WBC": "7.2", "HGB": "10.9" if people[7].sex == "female" else "12.4", "PLT": "245"})
    lab.order(people[1], ["CRP"], "cancelled", now - 40 * hours)
    # A trend: HbA1c and fasting glucose every month for six months, improving on treatment.
    trend_patient = people[8] if len(people) > 8 else people[0]
    for months_ago, (a1c, glu) in zip(range(6, 0, -1), [("8.4", "182"), ("7.9", "165"), ("7.5", "150"),
                                                         ("7.1", "138"), ("6.8", "126"), ("6.5", "118")]):
        lab.order(trend_patient, ["HBA1C", "GLU"], "reviewed", now - timedelta(days=30 * months_ago + 2),
                  {"HBA1C": a1c, "GLU": glu}, note="Type 2 diabetes follow-up.")
    lab.save()
