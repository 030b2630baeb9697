"""Demo pharmacy: a realistic catalogue (30+ medicines), batches with varied expiry (a few low, a few
expired still on the shelf), each with its ledger movements, and prescriptions from recent visits,
some dispensed. Bulk inserts only; the ledger stays exact (on-hand = sum of movements)."""
from datetime import timedelta

from bson import ObjectId

from ..localtime import clinic_zone
from ..models import Dispense, Medicine, Prescription, Settings, StockBatch, StockMovement, User, Visit
from ..models.pharmacy import DispensedBatch, PrescriptionLine
from .pharmacy import stock
from .pharmacy.prescribing import compute_quantity

# name, generic, form, strength, unit, pack, price (minor units per unit), reorder level
CATALOGUE = [
    ("Amoxicillin", "amoxicillin", "capsule", "500 mg", "capsule", 21, 30, 60),
    ("Amoxicillin", "amoxicillin", "syrup", "125 mg/5 ml", "ml", 100, 4, 300),
    ("Co-amoxiclav", "amoxicillin/clavulanate", "tablet", "625 mg", "tablet", 21, 65, 42),
    ("Flucloxacillin", "flucloxacillin", "capsule", "500 mg", "capsule", 28, 40, 28),
    ("Phenoxymethylpenicillin", "penicillin V", "tablet", "250 mg", "tablet", 28, 20, 28),
    ("Cefalexin", "cefalexin", "capsule", "500 mg", "capsule", 28, 45, 28),
    ("Azithromycin", "azithromycin", "tablet", "500 mg", "tablet", 3, 120, 9),
    ("Clarithromycin", "clarithromycin", "tablet", "500 mg", "tablet", 14, 80, 14),
    ("Doxycycline", "doxycycline", "capsule", "100 mg", "capsule", 8, 35, 16),
    ("Ciprofloxacin", "ciprofloxacin", "tablet", "500 mg", "tablet", 10, 50, 20),
    ("Co-trimoxazole", "sulfamethoxazole/trimethoprim", "tablet", "960 mg", "tablet", 10, 25, 20),
    ("Metronidazole", "metronidazole", "tablet", "400 mg", "tablet", 21, 20, 42),
    ("Nitrofurantoin", "nitrofurantoin", "capsule", "100 mg", "capsule", 14, 45, 14),
    ("Paracetamol", "paracetamol", "tablet", "500 mg", "tablet", 32, 3, 200),
    ("Paracetamol", "paracetamol", "syrup", "120 mg/5 ml", "ml", 100, 2, 500),
    ("Ibuprofen", "ibuprofen", "tablet", "400 mg", "tablet", 24, 5, 120),
    ("Naproxen", "naproxen", "tablet", "500 mg", "tablet", 28, 12, 56),
    ("Diclofenac gel", "diclofenac", "cream", "1 %", "tube", 1, 650, 5),
    ("Aspirin", "aspirin", "tablet", "75 mg", "tablet", 28, 2, 112),
    ("Tramadol", "tramadol", "capsule", "50 mg", "capsule", 30, 15, 30),
    ("Codeine phosphate", "codeine", "tablet", "30 mg", "tablet", 28, 12, 28),
    ("Omeprazole", "omeprazole", "capsule", "20 mg", "capsule", 28, 8, 56),
    ("Metformin", "metformin", "tablet", "500 mg", "tablet", 56, 4, 112),
    ("Amlodipine", "amlodipine", "tablet", "5 mg", "tablet", 28, 5, 56),
    ("Lisinopril", "lisinopril", "tablet", "10 mg", "tablet", 28, 6, 56),
    ("Ramipril", "ramipril", "capsule", "5 mg", "capsule", 28, 7, 56),
    ("Atorvastatin", "atorvastatin", "tablet", "20 mg", "tablet", 28, 9, 56),
    ("Salbutamol inhaler", "salbutamol", "inhaler", "100 mcg/dose", "unit", 1, 450, 6),
    ("Beclometasone inhaler", "beclometasone", "inhaler", "100 mcg/dose", "unit", 1, 900, 4),
    ("Cetirizine", "cetirizine", "tablet", "10 mg", "tablet", 30, 4, 60),
    ("Loratadine", "loratadine", "tablet", "10 mg", "tablet", 30, 4, 60),
    ("Hydrocortisone cream", "hydrocortisone", "cream", "1 %", "tube", 1, 350, 6),
    ("Clotrimazole cream", "clotrimazole", "cream", "1 %", "tube", 1, 300, 6),
    ("Chloramphenicol eye drops", "chloramphenicol", "drops", "0.5 %", "ml", 10, 40, 50),
    ("Oral rehydration salts", "oral rehydration salts", "other", "", "sachet", 20, 25, 40),
    ("Ceftriaxone", "ceftriaxone", "injection", "1 g", "vial", 1, 450, 10),
]
SUPPLIERS = ("MedSupply Co.", "Northwind Pharma", "City Wholesale Drugs")
DEMO_ADDRESS = "12 Harbour Street, Springfield, IL 62701"
DEMO_PHONE = "+1 217 555 0142"


def seed(tenant, rng, now):
    """The catalogue, stock (with movements) and ~12 prescriptions from recent visits, some dispensed."""
    if Medicine.objects.first() is not None:
        return
    today = now.astimezone(clinic_zone()).date()
    medicines = [Medicine(id=ObjectId(), name=n, generic_name=g, form=fm, strength=s or None, dispensing_unit=u, pack_size=p,
                          sale_price=price, reorder_level=r, created_at=now - timedelta(days=120))
                 for n, g, fm, s, u, p, price, r in CATALOGUE]
    Medicine.objects.insert(medicines, load_bulk=False)
    rep = User.objects(email="rep@demo.clinic").first()
    batches, movements = [], []
    for i, m in enumerate(medicines):
        plan = [(rng.randint(200, 700), rng.randint(120, 720))]  # (days to expiry, packs worth)
        if i % 3 == 0:
            plan.append((rng.randint(20, 85), 1))   # expiring within the 90-day window
        if i % 9 == 4:
            plan.append((-rng.randint(3, 40), 1))   # expired, still on the shelf
        low = i % 7 == 2  # a few below their reorder level
        for n, (days, _) in enumerate(plan):
            qty = max(1, (m.reorder_level // 2) if low else m.reorder_level * rng.randint(2, 5))
            received = now - timedelta(days=rng.randint(20, 100))
            b = StockBatch(id=ObjectId(), medicine=m, lot=f"{m.name[:3].upper()}{rng.randint(1000, 9999)}-{n}",
                           expiry=today + timedelta(days=days), on_hand=qty, unit_cost=max(1, m.sale_price * 6 // 10),
                           supplier=rng.choice(SUPPLIERS), received_at=received)
            batches.append(b)
            movements.append(StockMovement(batch=b, medicine=m, kind="receive", quantity=qty, at=received,
                                           by_id=getattr(rep, "pk", None), by=getattr(rep, "name", None)))
    _prescriptions(rng, now, today, medicines, batches, movements)
    # Inserted after the dispensing above took from them: on hand = received - dispensed, in one write.
    StockBatch.objects.insert(batches, load_bulk=False)
    StockMovement.objects.insert(movements, load_bulk=False)
    stock.forget_counts()
    # The printed prescription's header: a demo clinic with an address and a phone, unless it has its own.
    Settings.objects(address=None).update_one(set__address=DEMO_ADDRESS)
    Settings.objects(phone=None).update_one(set__phone=DEMO_PHONE)


def _prescriptions(rng, now, today, medicines, batches, movements):
    """Prescriptions for recent visits; about half dispensed FEFO from the (not yet inserted) batches above,
    which are left holding what remains (movements appended)."""
    visits = list(Visit.objects(status="signed").order_by("-started_at").limit(12))
    nurse = User.objects(email="nurse@demo.clinic").first()
    if not visits or nurse is None:
        return
    common = [m for m in medicines if m.form in ("tablet", "capsule", "syrup", "cream")]
    by_medicine = {}
    for b in batches:
        by_medicine.setdefault(b.medicine.pk, []).append(b)
    prescriptions, dispenses = [], []
    currency = Settings.current().currency
    for k, visit in enumerate(visits):
        m = rng.choice(common)
        dose, dose_unit = (5, "ml") if m.dispensing_unit == "ml" else (1, m.dispensing_unit)
        freq, days = rng.choice([("TDS", 5), ("BD", 7), ("OD", 14), ("QID", 3)])
        qty = compute_quantity(m.dispensing_unit, dose, dose_unit, freq, None, days) or 1
        line = PrescriptionLine(medicine_id=m.pk, medicine_name=m.label, generic_lc=m.generic_lc, form=m.form,
                                unit=m.dispensing_unit, dose=dose, dose_unit=dose_unit,
                                route="on the skin" if m.form == "cream" else "by mouth", frequency=freq,
                                duration_days=days, quantity=qty, refills=0, dispensed=0)
        at = visit.started_at + timedelta(minutes=20)
        rx = Prescription(id=ObjectId(), visit=visit, patient=visit._data["patient"],
                          prescriber=visit._data["provider"], lines=[line], generics=[m.generic_lc],
                          status="issued", created_at=at, issued_at=at, active_until=at + timedelta(days=days))
        usable = sorted((b for b in by_medicine.get(m.pk, []) if b.expiry >= today and b.on_hand),
                        key=lambda b: b.expiry)
        if k % 2 == 0 and sum(b.on_hand for b in usable) >= qty:
            need, taken, d_id = qty, [], ObjectId()
            for b in usable:
                take = min(need, b.on_hand)
                b.on_hand -= take
                need -= take
                taken.append((b, take))
                movements.append(StockMovement(batch=b, medicine=m, kind="dispense", quantity=-take, dispense_id=d_id,
                                               at=at + timedelta(minutes=30), by_id=nurse.pk, by=nurse.name))
                if not need:
                    break
            line.dispensed, rx.status = qty, "dispensed"
            dispenses.append(Dispense(id=d_id, prescription=rx, line=0, visit=visit, patient=rx._data["patient"],
                                      medicine=m, medicine_name=m.label, quantity=qty, unit_price=m.sale_price,
                                      currency=currency, batches=[DispensedBatch(batch_id=b.pk, lot=b.lot,
                                                                              expiry=b.expiry, quantity=n)
                                                               for b, n in taken],
                                      by_id=nurse.pk, by=nurse.name, at=at + timedelta(minutes=30)))
        prescriptions.append(rx)
    Prescription.objects.insert(prescriptions, load_bulk=False)
    if dispenses:
        Dispense.objects.insert(dispenses, load_bulk=False)
