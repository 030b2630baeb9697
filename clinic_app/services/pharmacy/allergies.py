"""The offline allergy check: a prescribed medicine (or free-text line) against the patient's
recorded allergies, by name and by a shipped table of common drug classes
(clinic_app/data/drug_classes.json); and the migration of old free-text allergy lists."""
import json
import re
from functools import cache
from pathlib import Path

from ...models import Patient

DATA = Path(__file__).resolve().parents[2] / "data" / "drug_classes.json"


@cache
def drug_classes():
    """{key: {"label", "names", "members", "cross"}} from the shipped table."""
    table = json.loads(DATA.read_text(encoding="utf-8"))
    return {k: v for k, v in table.items() if not k.startswith("_")}


# Words of a medicine's name that say nothing about what it is.
_NOISE = {"sodium", "potassium", "calcium", "hydrochloride", "acid", "cream", "syrup", "tablet", "tablets",
          "capsule", "capsules", "oral", "suspension", "injection", "drops", "forte", "extra", "plus", "retard"}


def _norm(text):
    return " ".join(re.sub(r"[^a-z0-9-]+", " ", (text or "").lower()).split())


def _has(text, term):
    """True when `term` occurs in `text` as whole words (both normalised)."""
    return bool(term) and re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", text) is not None


def classes_of_drug(text):
    """Keys of the classes whose members occur in the medicine's text."""
    text = _norm(text)
    return {key: next(m for m in c["members"] if _has(text, m))
            for key, c in drug_classes().items() if any(_has(text, m) for m in c["members"])}


def classes_of_allergy(substance):
    """Keys of the classes an allergy names ("penicillin", "sulfa", "NSAIDs") or names a member of."""
    text = _norm(substance)
    return {key for key, c in drug_classes().items()
            if any(_has(text, n) for n in c["names"]) or any(_has(text, m) for m in c["members"])}


def drug_text(medicine=None, free_text=None):
    """Everything a line is known by (what the check reads): the catalogue name and generic, or the free text."""
    if medicine is not None:
        return " ".join(p for p in (medicine.name, medicine.generic_name) if p)
    return free_text or ""


def conflicts(allergies, text, label=None):
    """Plain-language reasons the drug described by `text` may harm a patient with `allergies`
    ([] when none): a direct name match, a shared class, or a class with cross-sensitivity.
    `label`: how the medicine is called in the message (default: `text`)."""
    drug = _norm(text)
    if not drug:
        return []
    label = label or text
    drug_classes_found = classes_of_drug(text)
    found = []
    for allergy in allergies or []:
        substance = _norm(getattr(allergy, "substance", allergy))
        if not substance:
            continue
        recorded = f"Recorded allergy to {allergy}"  # Allergy.__str__: "Penicillin (hives, severe)"
        if _has(drug, substance) or any(_has(substance, w) for w in drug.split() if len(w) > 3 and w not in _NOISE):
            found.append(f"{recorded}: {label} contains it." if _norm(label) != substance
                         else f"{recorded}.")
            continue
        allergy_classes = classes_of_allergy(substance)
        shared = [k for k in drug_classes_found if k in allergy_classes]
        if shared:
            key = shared[0]
            found.append(f"{recorded}: {label} is one of the {drug_classes()[key]['label']} "
                         f"({drug_classes_found[key]}).")
            continue
        for key, member in drug_classes_found.items():
            notes = [drug_classes()[a].get("cross", {}).get(key) for a in allergy_classes]
            note = next((n for n in notes if n), None)
            if note:
                found.append(f"{recorded}: {label} is one of the {drug_classes()[key]['label']} "
                             f"({member}). {note}")
                break
    return found


def migrate_string_allergies():
    """Turn every clinic's old free-text allergy entries ("penicillin") into {substance: ...}.

    A platform-wide migration (run by ensure-indexes and the dev web start), hence the raw,
    cross-clinic collection access; each update is conditional on the list being unchanged.
    Returns the number of patients migrated.
    """
    coll = Patient._get_collection()
    changed = 0
    for doc in coll.find({"allergies": {"$type": "string"}}, {"allergies": 1, "tenantId": 1}):
        old = doc.get("allergies") or []
        new = [{"substance": a.strip()[:120], "severity": "unknown"} if isinstance(a, str) else a
               for a in old if not (isinstance(a, str) and not a.strip())]
        result = coll.update_one({"_id": doc["_id"], "tenantId": doc["tenantId"], "allergies": old},
                                 {"$set": {"allergies": new}})
        changed += result.modified_count
    return changed
