"""Stock ledger and FEFO dispensing against the real database: batch choice, splits, expired
refusal, concurrent dispensing of the last units, ledger = on-hand after random operations."""
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic_app.models import AuditEvent, Dispense, Prescription, StockBatch, StockMovement, User
from clinic_app.services.pharmacy import dispensing, stock

from . import pharmacy_factories as f
from .support import make_user


@pytest.fixture
def setup(clinic_a, in_tenant):
    """(doctor, nurse, medicine, patient, visit) in clinic A."""
    with in_tenant(clinic_a):
        doctor, nurse = make_user("Doctor"), make_user("Nurse")
        med = f.medicine()
        p = f.patient()
        return doctor, nurse, med, p, f.visit(p, doctor)


def _rx(doctor, v, med, quantity):
    return f.prescription(v, doctor, f.row(med, quantity=quantity), confirm_duplicates=True)


def test_fefo_takes_the_earliest_expiry_of_three_batches(clinic_a, in_tenant, setup):
    doctor, nurse, med, p, v = setup
    with in_tenant(clinic_a):
        late, early, middle = f.batch(med, "L-LATE", 50, 300), f.batch(med, "L-EARLY", 50, 30), \
            f.batch(med, "L-MID", 50, 120)
        rx = _rx(doctor, v, med, 10)
        d = dispensing.dispense(rx, 0, 10, nurse)
        assert [(b.lot, b.quantity) for b in d.batches] == [("L-EARLY", 10)]
        assert (f.on_hand(early), f.on_hand(middle), f.on_hand(late)) == (40, 50, 50)
        assert d.unit_price == 25 and d.currency == "USD" and d.visit.pk == v.pk and d.patient.pk == p.pk


def test_a_dispense_is_split_across_batches_when_one_is_not_enough(clinic_a, in_tenant, setup):
    doctor, nurse, med, p, v = setup
    with in_tenant(clinic_a):
        a, b, c = f.batch(med, "A1", 4, 10), f.batch(med, "B2", 3, 20), f.batch(med, "C3", 100, 30)
        rx = _rx(doctor, v, med, 10)
        d = dispensing.dispense(rx, 0, 10, nurse)
        assert [(x.lot, x.quantity) for x in d.batches] == [("A1", 4), ("B2", 3), ("C3", 3)]
        assert [f.on_hand(x) for x in (a, b, c)] == [0, 0, 97]
        kinds = [(m.kind, m.quantity) for m in StockMovement.objects(dispense_id=d.pk).order_by("at")]
        assert sorted(kinds) == sorted([("dispense", -4), ("dispense", -3), ("dispense", -3)])
        assert Prescription.objects.get(pk=rx.pk).status == "dispensed"
        assert AuditEvent.objects(action="prescription.dispense").count() == 1


def test_expired_batches_are_refused_and_nothing_changes(clinic_a, in_tenant, setup):
    doctor, nurse, med, p, v = setup
    with in_tenant(clinic_a):
        old = f.batch(med, "OLD-1", 50, -1)  # expired yesterday (clinic time)
        rx = _rx(doctor, v, med, 5)
        with pytest.raises(dispensing.DispenseError, match="Only expired stock"):
            dispensing.dispense(rx, 0, 5, nurse)
        assert f.on_hand(old) == 50 and Dispense.objects.count() == 0
        assert Prescription.objects.get(pk=rx.pk).lines[0].dispensed == 0
        fresh = f.batch(med, "NEW-1", 3, 0)  # expires today: still usable
        with pytest.raises(dispensing.DispenseError, match="Not enough usable stock"):
            dispensing.dispense(rx, 0, 5, nurse)
        assert f.on_hand(fresh) == 3 and f.on_hand(old) == 50
        assert Prescription.objects.get(pk=rx.pk).lines[0].dispensed == 0
        assert stock.check_ledger() == []


def test_over_dispensing_a_line_is_refused(clinic_a, in_tenant, setup):
    doctor, nurse, med, p, v = setup
    with in_tenant(clinic_a):
        f.batch(med, "X", 100)
        rx = _rx(doctor, v, med, 6)
        dispensing.dispense(rx, 0, 4, nurse)
        rx.reload()
        assert rx.status == "partly_dispensed"
        with pytest.raises(dispensing.DispenseError, match="more than is left"):
            dispensing.dispense(rx, 0, 3, nurse)
        dispensing.dispense(rx, 0, 2, nurse)
        assert Prescription.objects.get(pk=rx.pk).status == "dispensed"


def test_a_cancelled_dispense_returns_stock_through_a_movement(clinic_a, in_tenant, setup):
    doctor, nurse, med, p, v = setup
    with in_tenant(clinic_a):
        a, b = f.batch(med, "A", 5, 10), f.batch(med, "B", 5, 20)
        rx = _rx(doctor, v, med, 8)
        d = dispensing.dispense(rx, 0, 8, nurse)
        dispensing.cancel(d, "wrong patient", nurse)
        assert (f.on_hand(a), f.on_hand(b)) == (5, 5)
        returns = StockMovement.objects(dispense_id=d.pk, kind="return")
        assert sorted(m.quantity for m in returns) == [3, 5]
        assert Dispense.objects.get(pk=d.pk).status == "cancelled"
        fresh = Prescription.objects.get(pk=rx.pk)
        assert fresh.status == "issued" and fresh.lines[0].dispensed == 0
        with pytest.raises(dispensing.DispenseError, match="already cancelled"):
            dispensing.cancel(d, "again", nurse)
        assert f.on_hand(a) == 5 and stock.check_ledger() == []


def test_two_concurrent_dispenses_of_the_last_units_one_succeeds(app, clinic_a, in_tenant, setup):
    doctor, nurse, med, p, v = setup
    with in_tenant(clinic_a):
        last = f.batch(med, "LAST", 5, 60)
        rxs = [_rx(doctor, v, med, 5), _rx(doctor, f.visit(p, doctor), med, 5)]
    for _ in range(3):  # a few rounds: the race must be lost the same way every time
        barrier, results = threading.Barrier(2), []

        def run(rx):
            with in_tenant(clinic_a):
                fresh = Prescription.objects.get(pk=rx.pk)
                user = User.objects.get(pk=nurse.pk)
                barrier.wait()
                try:
                    dispensing.dispense(fresh, 0, 5, user)
                    results.append("ok")
                except dispensing.DispenseError as exc:
                    results.append(str(exc))

        threads = [threading.Thread(target=run, args=(rx,)) for rx in rxs]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert results.count("ok") == 1, results
        with in_tenant(clinic_a):
            assert f.on_hand(last) == 0
            assert stock.check_ledger() == []
            winner = Dispense.objects(status="active").get()
            dispensing.cancel(winner, "next round", nurse)  # put the 5 back for the next round
            assert f.on_hand(last) == 5
            loser = [rx for rx in rxs if rx.pk != winner.prescription.pk][0]
            assert Prescription.objects.get(pk=loser.pk).lines[0].dispensed == 0


def test_stock_never_goes_negative_by_adjustment(clinic_a, in_tenant, setup):
    doctor, nurse, med, p, v = setup
    with in_tenant(clinic_a):
        b = f.batch(med, "ADJ", 3)
        with pytest.raises(stock.NotEnoughStock):
            stock.adjust(b, -4, "damaged", None, nurse)
        with pytest.raises(stock.StockError, match="note"):
            stock.adjust(b, -1, "other", "", nurse)
        stock.adjust(b, -2, "damaged", "dropped", nurse)
        assert f.on_hand(b) == 1
        assert AuditEvent.objects(action="stock.adjust").count() == 1


def test_receiving_a_known_lot_adds_to_it_and_a_different_expiry_is_refused(clinic_a, in_tenant, setup):
    doctor, nurse, med, p, v = setup
    with in_tenant(clinic_a):
        b = f.batch(med, "LOT-9", 10, 100)
        again = stock.receive(med, "LOT-9", b.expiry, 5, 10, "Acme", nurse)
        assert again.pk == b.pk and again.on_hand == 15
        with pytest.raises(stock.StockError, match="already in stock with expiry"):
            stock.receive(med, "LOT-9", f.date(2040, 1, 1), 5, 10, "Acme", nurse)
        assert StockBatch.objects.count() == 1 and f.on_hand(b) == 15


def test_write_off_empties_an_expired_batch(clinic_a, in_tenant, setup):
    doctor, nurse, med, p, v = setup
    with in_tenant(clinic_a):
        b = f.batch(med, "EXP", 7, -3)
        assert [x.pk for x in stock.batches("expired")] == [b.pk]
        m = stock.write_off(b, nurse)
        assert m.quantity == -7 and m.kind == "write_off" and f.on_hand(b) == 0
        assert stock.write_off(b, nurse) is None and list(stock.batches("expired")) == []
        assert stock.check_ledger() == []


def test_the_ledger_is_append_only(clinic_a, in_tenant, setup):
    doctor, nurse, med, p, v = setup
    with in_tenant(clinic_a):
        f.batch(med, "AO", 3)
        with pytest.raises(PermissionError):
            StockMovement.objects.update(set__quantity=100)
        with pytest.raises(PermissionError):
            StockMovement.objects.delete()


def test_check_ledger_finds_a_batch_changed_behind_the_ledgers_back(clinic_a, in_tenant, setup):
    doctor, nurse, med, p, v = setup
    with in_tenant(clinic_a):
        b = f.batch(med, "TAMPER", 3)
        StockBatch.objects(pk=b.pk).update_one(inc__on_hand=2)
        assert stock.check_ledger() == [(b.pk, 5, 3)]


OPS = st.lists(st.tuples(st.sampled_from(["receive", "dispense", "adjust", "cancel", "write_off"]),
                         st.integers(0, 2), st.integers(1, 12)), min_size=1, max_size=12)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(ops=OPS)
def test_ledger_sum_equals_on_hand_after_any_sequence_of_operations(app, clinic_a, in_tenant, ops):
    with in_tenant(clinic_a):
        StockBatch.objects.delete()
        Dispense.objects.delete()
        nurse = User.objects.get(email="admin@clinica.test")
        med = f.Medicine.objects(name="Prop").first() or f.medicine(name="Prop", generic="propium")
        p = f.patient("Prop", "Erty")
        v = f.visit(p, nurse)
        batches = [f.batch(med, f"P{i}", 5, 30 * (i + 1)) for i in range(3)]
        rx = f.prescription(v, nurse, f.row(med, quantity=1000), confirm_duplicates=True)
        for op, which, n in ops:
            b = batches[which]
            try:
                if op == "receive":
                    stock.receive(med, b.lot, b.expiry, n, 10, "Acme", nurse)
                elif op == "dispense":
                    dispensing.dispense(Prescription.objects.get(pk=rx.pk), 0, n, nurse)
                elif op == "adjust":
                    stock.adjust(b, -n if n % 2 else n, "count_correction", None, nurse)
                elif op == "cancel":
                    active = Dispense.objects(status="active").first()
                    if active:
                        dispensing.cancel(active, "prop", nurse)
                else:
                    stock.write_off(b, nurse)
            except stock.StockError:
                pass  # refused operations must leave no trace in either
            assert all(x.on_hand >= 0 for x in StockBatch.objects)
        assert stock.check_ledger() == []
        dispensed = sum(d.quantity for d in Dispense.objects(status="active"))
        assert Prescription.objects.get(pk=rx.pk).lines[0].dispensed == dispensed


def test_demo_pharmacy_seed_is_realistic_and_its_ledger_exact(app, clinic_a, in_tenant):
    import random

    from clinic_app import clock
    from clinic_app.models import Medicine, Patient, Visit
    from clinic_app.services import demo_pharmacy

    with in_tenant(clinic_a):
        doctor = make_user("Doctor", email="doctor@demo.clinic")
        make_user("Nurse", email="nurse@demo.clinic")
        for i in range(6):
            p = f.patient(f"Demo{i}", "Patient")
            f.visit(p, doctor, signed=True)
        demo_pharmacy.seed(clinic_a, random.Random(7), clock.now())
        assert Medicine.objects.count() >= 30
        assert stock.check_ledger() == []
        assert stock.batches("expired").count() >= 1 and stock.batches("expiring").count() >= 1
        assert len(stock.low_stock()) >= 1
        assert Prescription.objects.count() == 6 and Dispense.objects.count() >= 1
        demo_pharmacy.seed(clinic_a, random.Random(7), clock.now())  # a second run adds nothing
        assert Prescription.objects.count() == 6
        assert Patient.objects.count() == 6 and Visit.objects.count() == 6
