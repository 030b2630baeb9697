"""The demo clinic that `make run` seeds: staff for every role and a clinic a person can explore.

seed_demo() creates the clinic and its staff, then runs seed_core and every
callable in AREA_SEEDS, each once per clinic (a marker in the clinic's
counters): a second run adds nothing, and a module added later still seeds an
existing demo clinic. Every step writes in bulk (`Model.objects.insert([...])`):
the core alone is ~1,700 documents, and at SecantusDB's ~20 ms per write
saving them one by one would take over half a minute. Data is deterministic (one seeded random.Random per step); dates
follow clock.now() in the clinic's time zone.
"""
import logging
import random
import time as timer
import unicodedata
from datetime import datetime, time, timedelta, timezone

from flask import current_app
from mongoengine import NotUniqueError

from .. import clock
from ..localtime import clinic_zone, combine_local
from ..models import Appointment, AuditEvent, Counter, Patient, Role, Tenant, User, Visit
from ..models.clinical import Amendment, Vitals
from ..models.patients import as_allergy
from ..tenancy import tenant_context
from . import audit, demo_billing, demo_labs, demo_pharmacy
from .demo_vocab import (ALERTS, ALLERGIES, CANCEL_REASONS, CITIES, EMAIL_DOMAINS, NAMES, NOTES, PHONE_FORMATS,
                         STREETS, UK_PHONE, US_AREA_CODES, VISITS)
from .onboarding import provision_clinic
from .passwords import hash_password

log = logging.getLogger(__name__)

DEMO_SUBDOMAIN = "demo"
DEMO_ADMIN = ("Alex Admin", "admin@demo.clinic")
DEMO_STAFF = [
    ("Doctor", "Dr. Grace Okafor", "doctor@demo.clinic"),
    ("Doctor", "Dr. Mateo Álvarez", "doctor2@demo.clinic"),
    ("Nurse", "Sam Rivera", "nurse@demo.clinic"),
    ("Receptionist", "Lee Chen", "reception@demo.clinic"),
    ("Accountant", "Priya Shah", "accounts@demo.clinic"),
    ("Medical Representative", "Tom Berg", "rep@demo.clinic"),
]
PATIENTS = 160

# Each later module's demo data: `seed(tenant, rng, now)`, called once per clinic inside
# tenant_context after seed_core (e.g. demo_pharmacy.seed, demo_labs.seed, demo_billing.seed).
# Billing last: it bills the visits, dispenses and lab orders the others made.
AREA_SEEDS = [demo_pharmacy.seed, demo_labs.seed, demo_billing.seed]


def demo_logins():
    return [("Admin", DEMO_ADMIN[1])] + [(role, email) for role, _, email in DEMO_STAFF]


def seed_demo():
    """Create the demo clinic unless it exists and fill what it lacks; returns (tenant, created)."""
    started = timer.monotonic()
    password = current_app.config["DEMO_PASSWORD"]
    tenant = Tenant.objects(subdomain=DEMO_SUBDOMAIN).first()
    created = tenant is None
    hashed = hash_password(password) if created else None
    if created:
        tenant, _ = provision_clinic(
            name="Demo Clinic", subdomain=DEMO_SUBDOMAIN, admin_name=DEMO_ADMIN[0], admin_email=DEMO_ADMIN[1],
            password_hash=hashed, timezone="America/New_York", currency="USD", date_format="MM/DD/YYYY",
        )
    with tenant_context(tenant):
        _ensure_staff(password, hashed)
        now = clock.now()
        ran = [key for key, step in _steps() if _run_once(key, step, tenant, now)]
    if ran:
        log.info("demo clinic: seeded %s in %.1f s", ", ".join(ran), timer.monotonic() - started)
    return tenant, created


def _steps():
    for step in [seed_core, *AREA_SEEDS]:
        yield f"demo-seed:{step.__module__.rsplit('.', 1)[-1]}.{step.__name__}", step


def _run_once(key, step, tenant, now):
    """Run `step` unless this clinic has run it before; the claim is atomic, so two seeders cannot both."""
    try:
        before = Counter.objects(name=key).modify(upsert=True, new=False, inc__value=1)
    except NotUniqueError:  # a concurrent seeder claimed it first
        return False
    if before is not None:
        return False
    try:
        step(tenant, random.Random(key), now)
    except BaseException:
        Counter.objects(name=key).delete()  # let the next start try again
        raise
    return True


def _ensure_staff(password, hashed=None):
    """One user per default role (two doctors), added when missing, in one write."""
    emails = [email for _, _, email in DEMO_STAFF]
    have = set(User.objects(email__in=emails).scalar("email"))
    missing = [row for row in DEMO_STAFF if row[2] not in have]
    if not missing:
        return
    roles = {r.name: r for r in Role.objects(name__in=list({row[0] for row in missing}))}
    hashed = hashed or hash_password(password)
    User.objects.insert([User(email=email, name=name, password_hash=hashed, role=roles[role], status="active",
                              password_changed_at=clock.now()) for role, name, email in missing], load_bulk=False)


# -- the core clinic: patients, two doctors' calendars, visits, audit history -----------------


def seed_core(tenant, rng, now):
    """Patients, this week's calendars (today in every status), visits and the audit trail behind them."""
    zone = clinic_zone()
    today = now.astimezone(zone).date()
    staff = {u.email: u for u in User.objects(email__in=[DEMO_ADMIN[1]] + [row[2] for row in DEMO_STAFF])}
    story = _Story(tenant, rng, now, zone, staff)
    patients = story.patients(today, PATIENTS)
    Patient.objects.insert(patients, load_bulk=False)
    appointments, visits = story.calendar(today, [p for p in patients if p.active])
    Appointment.objects.insert(appointments, load_bulk=False)
    Visit.objects.insert(visits, load_bulk=False)
    story.sign_ins(today)
    AuditEvent.objects.insert(story.audit_events(), load_bulk=False)


def reserve_record_numbers(count):
    """The first of `count` consecutive patient record numbers, taken from the clinic's counter at once."""
    last = Counter.next("patient", by=count)
    return last - count + 1


def allergy(substance, reaction=None, severity=None):
    """One structured entry of Patient.allergies (models.patients.as_allergy)."""
    return as_allergy({"substance": substance, "reaction": reaction, "severity": severity})


_FOLD = str.maketrans({"Đ": "D", "đ": "d", "Ł": "L", "ł": "l", "ı": "i", "ø": "o", "Ø": "O", "ß": "ss"})


def _ascii(text):
    plain = unicodedata.normalize("NFKD", text.translate(_FOLD)).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def _between(rng, lo, hi):
    return lo + (hi - lo) * rng.random() if hi > lo else lo


def _age(dob, today):
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


class _Story:
    """Builds the documents and remembers who did what, for the audit trail.

    Documents carry the clinic from the start, so references between them can be
    read before the bulk insert gives them ids.
    """

    def __init__(self, tenant, rng, now, zone, staff):
        self.tid, self.rng, self.now, self.zone = tenant.pk, rng, now, zone
        self.admin = staff[DEMO_ADMIN[1]]
        self.desk = staff["reception@demo.clinic"]
        self.doctors = [staff["doctor@demo.clinic"], staff["doctor2@demo.clinic"]]
        self.staff = list(staff.values())
        self.events = []  # (at, actor, action, target, changes); targets get their ids at insert

    def log(self, at, actor, action, target, changes=None):
        # Outside opening hours today's "done" slots lie ahead; their events still happened "now".
        self.events.append((min(at, self.now - timedelta(seconds=30)), actor, action, target, changes or {}))

    def audit_events(self):
        """The events, oldest first, as services.audit.record writes them (no address: nobody was online)."""
        return [audit.event(action, target, changes, actor, at=at)
                for at, actor, action, target, changes in sorted(self.events, key=lambda e: e[0])]

    # -- patients ---------------------------------------------------------------------------

    def patients(self, today, count):
        rng, seen, phones, emails, out = self.rng, set(), set(), set(), []
        regions = list(NAMES)
        weights = [NAMES[r][0] for r in regions]
        while len(out) < count:
            region = rng.choices(regions, weights)[0]
            sex = rng.choices(("female", "male", "other", "unknown"), (48, 48, 2, 2))[0]
            _, females, males, _ = NAMES[region]
            first = rng.choice(females if sex == "female" else males if sex == "male" else rng.choice((females, males)))
            last = rng.choice(NAMES[region if rng.random() < 0.85 else rng.choices(regions, weights)[0]][3])
            if (first, last) in seen:
                continue
            seen.add((first, last))
            dob = self._birth_date(today)
            age = _age(dob, today)
            patient = Patient(tenant_id=self.tid, first_name=first, last_name=last, date_of_birth=dob, sex=sex,
                              phone=self._phone(phones), allergies=self._allergies(), active=True)
            if age >= 16 and rng.random() < 0.6:
                patient.email = self._email(first, last, emails)
            if rng.random() < 0.7:
                city, state, zip_prefix = rng.choice(CITIES)
                patient.address = (f"{rng.randint(1, 980)} {rng.choice(STREETS)}, {city}, {state} "
                                   f"{zip_prefix}{rng.randint(1, 99):02d}")
            patient.alerts = self._alert(region, age, patient.allergies)
            if age < 12 and rng.random() < 0.4:
                patient.notes = "Guardian: parent, same phone."
            elif rng.random() < 0.08:
                patient.notes = rng.choice(NOTES)
            earliest = max(self.now - timedelta(days=3 * 365),
                           datetime.combine(dob + timedelta(days=2), time(15), timezone.utc))
            patient.created_at = _between(rng, earliest, self.now - timedelta(days=21))
            out.append(patient)
        out.sort(key=lambda p: p.created_at)  # P000001 is the first patient the clinic registered
        first_number = reserve_record_numbers(len(out))
        for i, patient in enumerate(out):
            patient.record_number = f"P{first_number + i:06d}"  # services.patients.create_patient's format
            fields = [f for f in ("date_of_birth", "sex", "phone", "email", "address", "allergies", "alerts",
                                  "notes") if getattr(patient, f)] + ["first_name", "last_name"]
            self.log(patient.created_at, rng.choice((self.desk, self.desk, self.admin)), "patient.create", patient,
                     {"fields": sorted(fields)})
        self._history(out)
        return out

    def _birth_date(self, today):
        rng = self.rng
        low, high = rng.choices(((0, 1), (1, 12), (12, 18), (18, 36), (36, 61), (61, 81), (81, 99)),
                                (3, 9, 5, 20, 30, 23, 10))[0]
        days = rng.randint(max(low * 365, 40), high * 365 - 1)
        return today - timedelta(days=days)

    def _phone(self, taken):
        rng = self.rng
        while True:
            if rng.random() < 0.06:
                return None
            if rng.random() < 0.05:
                phone = UK_PHONE.format(line=f"0{rng.randint(0, 999):03d}")
            else:
                phone = rng.choice(PHONE_FORMATS).format(area=rng.choice(US_AREA_CODES),
                                                         line=f"01{rng.randint(0, 99):02d}")
            key = "".join(c for c in phone if c.isdigit())[-10:]
            if key not in taken:
                taken.add(key)
                return phone

    def _email(self, first, last, taken):
        local = f"{_ascii(first)}.{_ascii(last)}"
        domain = self.rng.choice(EMAIL_DOMAINS)
        email, n = f"{local}@{domain}", 1
        while email in taken:
            n += 1
            email = f"{local}{n}@{domain}"
        taken.add(email)
        return email

    def _allergies(self):
        rng = self.rng
        if rng.random() > 0.28:
            return []
        picked = rng.sample(ALLERGIES, rng.choices((1, 2, 3), (70, 25, 5))[0])
        return [allergy(*entry) for entry in picked]

    def _alert(self, region, age, allergies):
        rng = self.rng
        names = {getattr(a, "substance", a) for a in allergies}
        if "Peanuts" in names and rng.random() < 0.7:
            return "Anaphylaxis to peanuts: EpiPen carried"
        if region == "hispanic" and age >= 50 and rng.random() < 0.25:
            return "Needs a Spanish interpreter"
        if age >= 75 and rng.random() < 0.3:
            return "Fall risk: help onto the examination table"
        return rng.choice(ALERTS) if age >= 16 and rng.random() < 0.07 else None

    def _history(self, patients):
        """A few later edits (new phone, moved house) and archived records, with their audit events."""
        rng = self.rng
        for patient in rng.sample([p for p in patients if p.phone], 6):
            old = f"({rng.choice(US_AREA_CODES)}) 555-01{rng.randint(0, 99):02d}"
            at = _between(rng, patient.created_at + timedelta(days=1), self.now - timedelta(days=2))
            self.log(at, self.desk, "patient.update", patient, {"phone": {"old": old, "new": patient.phone}})
        for patient in rng.sample(patients[:60], 3):
            patient.active = False
            patient.notes = "Moved out of the area; records sent to the new practice."
            at = _between(rng, patient.created_at + timedelta(days=1), self.now - timedelta(days=3))
            self.log(at, self.admin, "patient.archive", patient)

    # -- calendars and visits ----------------------------------------------------------------

    def calendar(self, today, patients):
        """Two doctors' appointments: the two weeks before this one, this week, and today in every status."""
        monday = today - timedelta(days=today.weekday())
        days = [monday - timedelta(weeks=w) + timedelta(days=d) for w in (2, 1, 0) for d in range(5)]
        if today not in days:
            days.append(today)  # a weekend: the clinic still has a day to show
        appointments, visits = [], []
        for day in days:
            per_doctor = 9 if day == today else (8 if day >= monday else 6)
            booked = self._day(day, per_doctor, patients)
            statuses = self._today_statuses(booked) if day == today else [self._status(day, today) for _ in booked]
            for appointment, status in zip(booked, statuses):
                visit = self._play(appointment, status)
                appointments.append(appointment)
                if visit is not None:
                    visits.append(visit)
        visits += self._direct_drafts(days, today, patients)
        self._amend([v for v in visits if v.status == "signed" and v.signed_at < self.now - timedelta(days=2)])
        return appointments, visits

    def _day(self, day, per_doctor, patients):
        rng = self.rng
        grid = [time(h, m) for h in range(8, 17) for m in (0, 30) if time(8, 30) <= time(h, m) <= time(16, 30)
                and not time(12, 30) <= time(h, m) < time(13, 30)]
        chosen = rng.sample(patients, per_doctor * len(self.doctors))
        booked = []
        for n, doctor in enumerate(self.doctors):
            for slot, patient in zip(sorted(rng.sample(grid, per_doctor)), chosen[n * per_doctor:]):
                start = combine_local(day, slot, self.zone)
                kind = self._story_for(patient, day)
                booked.append(Appointment(tenant_id=self.tid, patient=patient, doctor=doctor, start=start,
                                          end=start + timedelta(minutes=rng.choice((15, 30, 30))), reason=kind[1]))
                booked[-1]._story = kind
        return sorted(booked, key=lambda a: a.start)

    def _story_for(self, patient, day):
        who = "child" if _age(patient.date_of_birth, day) < 18 else "adult"
        return self.rng.choice([v for v in VISITS if v[0] in (who, "any")])

    def _status(self, day, today):
        if day < today:
            return self.rng.choices(("completed", "no_show", "cancelled"), (78, 8, 14))[0]
        return self.rng.choices(("scheduled", "cancelled"), (90, 10))[0]

    def _today_statuses(self, booked):
        """Earlier slots done (one no-show, one cancelled), the latest begun under way, the next two
        waiting, the rest to come; outside opening hours the split is kept anyway, so every status shows."""
        n = len(booked)
        k = min(max(sum(a.start < self.now for a in booked), 5), n - 3)
        statuses = ["completed"] * (k - 1) + ["in_progress", "checked_in", "checked_in"] + ["scheduled"] * (n - k - 2)
        no_show, cancelled = self.rng.sample(range(k - 1), 2)
        statuses[no_show], statuses[cancelled] = "no_show", "cancelled"
        statuses[-2] = "cancelled"  # called ahead to cancel
        return statuses

    def _play(self, appointment, status):
        """Set the appointment's status and history; returns its visit (signed or draft) or None."""
        rng, start, doctor = self.rng, appointment.start, appointment.doctor
        lo = max(appointment.patient.created_at + timedelta(hours=1), start - timedelta(days=21))
        booked_at = _between(rng, lo, min(start - timedelta(hours=2), self.now - timedelta(minutes=10)))
        appointment.created_by, appointment.created_at = self.desk, booked_at
        appointment.status, appointment.updated_at = status, booked_at
        self.log(booked_at, self.desk, "appointment.create", appointment, {
            "patient": str(appointment.patient.pk), "doctor": str(doctor.pk), "start": start.isoformat(),
            "end": appointment.end.isoformat(), "reason": appointment.reason, "double_booked": False})
        if status == "cancelled":
            at = _between(rng, booked_at, min(start - timedelta(minutes=30), self.now))
            appointment.cancel_reason, appointment.updated_at = rng.choice(CANCEL_REASONS), at
            self._moved(at, self.desk, appointment, "scheduled", "cancelled", cancel_reason=appointment.cancel_reason)
            return None
        if status == "no_show":
            appointment.updated_at = start + timedelta(minutes=20)
            self._moved(appointment.updated_at, self.desk, appointment, "scheduled", "no_show")
            return None
        if status == "scheduled":
            return None
        arrived = min(start - timedelta(minutes=rng.randint(0, 12)),
                      self.now - timedelta(minutes=rng.randint(2, 9)))  # those waiting came in already
        appointment.updated_at = arrived
        self._moved(arrived, self.desk, appointment, "scheduled", "checked_in")
        if status == "checked_in":
            return None
        started = max(min(start + timedelta(minutes=3), self.now - timedelta(minutes=8)), arrived)
        visit = self._visit(appointment.patient, doctor, started, appointment._story, appointment)
        appointment.updated_at = visit.started_at
        self._moved(visit.started_at, doctor, appointment, "checked_in", "in_progress", via="visit")
        if status == "completed":
            self._sign(visit, appointment.end + timedelta(minutes=rng.randint(2, 40)))
            appointment.updated_at = visit.signed_at
            self._moved(visit.signed_at, doctor, appointment, "in_progress", "completed", via="visit")
        return visit

    def _moved(self, at, actor, appointment, old, new, **extra):
        self.log(at, actor, "appointment.status", appointment, {"status": {"old": old, "new": new}, **extra})

    def _visit(self, patient, doctor, started_at, story, appointment=None):
        """A draft with the history taken and the vitals measured."""
        _, _, _, _, subjective, _, _, _, kind = story
        visit = Visit(tenant_id=self.tid, patient=patient, provider=doctor, appointment=appointment,
                      started_at=started_at, status="draft", subjective=subjective,
                      updated_at=min(started_at + timedelta(minutes=6), self.now),
                      vitals=self._vitals(_age(patient.date_of_birth, started_at.date()), patient.sex, kind))
        visit._story = story
        self.log(started_at - timedelta(minutes=1), doctor, "patient.view", patient)
        self.log(started_at, doctor, "visit.create", visit, {
            "patient": str(patient.pk), "appointment": str(appointment.pk) if appointment else None,
            **({"appointment_status": {"old": "checked_in", "new": "in_progress"}} if appointment else {})})
        self.log(visit.updated_at, doctor, "visit.update", visit, {"fields": ["subjective"] + sorted(
            k for k, v in visit.vitals.to_mongo().items() if v is not None)})
        return visit

    def _sign(self, visit, at):
        _, _, diagnosis, code, _, objective, assessment, plan, _ = visit._story
        visit.objective, visit.assessment, visit.plan = objective, assessment, plan
        visit.diagnosis, visit.diagnosis_code = diagnosis, code
        visit.status, visit.signed_at, visit.signed_by, visit.updated_at = "signed", at, visit.provider, at
        changes = {"status": {"old": "draft", "new": "signed"}}
        if visit.appointment is not None:
            changes["appointment_status"] = {"old": "in_progress", "new": "completed"}
        self.log(at, visit.provider, "visit.sign", visit, changes)

    def _direct_drafts(self, days, today, patients):
        """Visits started from the patient's page (a phone call, a walk-in) and not signed yet."""
        past = [d for d in days if d < today][-2:] or [today - timedelta(days=1)]
        adults = [p for p in patients if _age(p.date_of_birth, today) >= 18]
        drafts = []
        for doctor, day in zip(self.doctors, past):
            patient = self.rng.choice(adults)
            drafts.append(self._visit(patient, doctor, combine_local(day, time(17, 40), self.zone),
                                      self._story_for(patient, day)))
        return drafts

    def _amend(self, signed):
        """Amendments to signed notes: a later result added to the plan, a correction to the examination."""
        rng = self.rng
        for visit, (field, addition, reason) in zip(rng.sample(signed, 2), (
                ("plan", "Added after signing: repeat blood tests in 3 months.",
                 "Lab results arrived after the note was signed"),
                ("objective", "Correction: examined the left side, not the right.",
                 "Corrected a documentation error"))):
            at = visit.signed_at + timedelta(hours=rng.randint(18, 40))
            at = min(at, self.now - timedelta(minutes=5))
            old = getattr(visit, field)
            setattr(visit, field, f"{old} {addition}")
            visit.amendments = [Amendment(at=at, by_id=visit.provider.pk, by=visit.provider.name, reason=reason,
                                          changes={field: {"old": old, "new": getattr(visit, field)}})]
            visit.updated_at = at
            self.log(at, visit.provider, "visit.amend", visit, {"reason": reason, "fields": [field], "amendment": 1})

    def _vitals(self, age, sex, kind):
        rng = self.rng
        fever = kind == "fever" and rng.random() < 0.8
        vitals = Vitals(temperature_c=round(rng.uniform(37.8, 39.3) if fever else rng.uniform(36.3, 37.2), 1),
                        spo2=rng.randint(93, 97) if kind == "resp" else rng.randint(96, 99))
        if age < 1:
            vitals.pulse_bpm, vitals.resp_rate = rng.randint(110, 150), rng.randint(30, 45)
            vitals.weight_kg, vitals.height_cm = round(rng.uniform(3.8, 10.0), 1), round(rng.uniform(52, 76), 1)
            return vitals
        if age < 13:
            vitals.pulse_bpm, vitals.resp_rate = rng.randint(80, 120), rng.randint(18, 28)
            vitals.weight_kg = round(8 + 2.6 * age * rng.uniform(0.85, 1.2), 1)
            vitals.height_cm = round(76 + 6.2 * age * rng.uniform(0.93, 1.07), 1)
            if age >= 3:
                vitals.systolic, vitals.diastolic = rng.randint(90, 112), rng.randint(55, 72)
            return vitals
        tall = (165, 192) if sex == "male" else (152, 178)
        vitals.pulse_bpm, vitals.resp_rate = rng.randint(58, 96), rng.randint(12, 18)
        vitals.height_cm = round(rng.uniform(*tall), 1)
        vitals.weight_kg = round((vitals.height_cm / 100) ** 2 * rng.uniform(19.5, 33), 1)
        high = kind == "bp" or (age > 55 and rng.random() < 0.3)
        vitals.systolic = rng.randint(138, 168) if high else rng.randint(104, 134)
        vitals.diastolic = rng.randint(86, 102) if high else rng.randint(64, 84)
        return vitals

    # -- sign-ins --------------------------------------------------------------------------

    def sign_ins(self, today):
        for user in self.staff:
            at = combine_local(today, time(7, 45), self.zone) + timedelta(minutes=self.rng.randint(0, 40))
            self.log(min(at, self.now - timedelta(minutes=1)), user, "auth.login", user)
