"""The starter formulary: common outpatient telehealth medications, dermatology first.
Codes are RxNorm ingredient concepts (RxCUI of the IN term); strengths and forms are the
ones usually prescribed. Idempotent: an entry that exists (by name) is left as it is, since
admins may have edited or deactivated it."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db import transaction

from carepath.prescribing.models import Medication

if TYPE_CHECKING:
    from carepath.accounts.models import User


@dataclass(frozen=True)
class Entry:
    name: str
    generic_name: str
    rxcui: str
    strengths: list[str]
    dose_forms: list[str]
    route: str
    sig_templates: list[str]
    drug_classes: list[str]
    ingredients: list[str] = field(default_factory=list)
    schedule: str = ""


ORAL = "oral"
TOPICAL = "topical"

STARTER_FORMULARY: list[Entry] = [
    # --- Dermatology ---------------------------------------------------------------------------
    Entry(
        "Doxycycline",
        "doxycycline hyclate",
        "3640",
        ["50 mg", "100 mg"],
        ["capsule", "tablet"],
        ORAL,
        [
            "Take 1 capsule by mouth twice a day for 14 days with a full glass of water.",
            "Take 1 capsule by mouth once a day with a full glass of water.",
        ],
        ["tetracyclines"],
        ["doxycycline"],
    ),
    Entry(
        "Minocycline",
        "minocycline hydrochloride",
        "6980",
        ["50 mg", "100 mg"],
        ["capsule"],
        ORAL,
        ["Take 1 capsule by mouth twice a day."],
        ["tetracyclines"],
        ["minocycline"],
    ),
    Entry(
        "Tretinoin (topical)",
        "tretinoin",
        "10753",
        ["0.025%", "0.05%", "0.1%"],
        ["cream", "gel"],
        TOPICAL,
        ["Apply a pea-sized amount to the affected skin once a day at bedtime."],
        ["topical retinoids"],
        ["tretinoin"],
    ),
    Entry(
        "Clindamycin (topical)",
        "clindamycin phosphate",
        "2582",
        ["1%"],
        ["gel", "lotion", "solution"],
        TOPICAL,
        ["Apply a thin layer to the affected skin twice a day."],
        ["lincosamides"],
        ["clindamycin"],
    ),
    Entry(
        "Triamcinolone cream",
        "triamcinolone acetonide",
        "10759",
        ["0.025%", "0.1%", "0.5%"],
        ["cream", "ointment"],
        TOPICAL,
        ["Apply a thin layer to the affected skin twice a day for up to 14 days."],
        ["topical corticosteroids"],
        ["triamcinolone"],
    ),
    Entry(
        "Hydrocortisone cream",
        "hydrocortisone",
        "5492",
        ["1%", "2.5%"],
        ["cream", "ointment"],
        TOPICAL,
        ["Apply a thin layer to the affected skin twice a day for up to 7 days."],
        ["topical corticosteroids"],
        ["hydrocortisone"],
    ),
    Entry(
        "Mupirocin",
        "mupirocin",
        "42372",
        ["2%"],
        ["ointment"],
        TOPICAL,
        ["Apply a small amount to the affected area three times a day for 10 days."],
        ["topical antibiotics"],
        ["mupirocin"],
    ),
    Entry(
        "Terbinafine",
        "terbinafine hydrochloride",
        "37801",
        ["250 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth once a day."],
        ["allylamine antifungals"],
        ["terbinafine"],
    ),
    Entry(
        "Spironolactone",
        "spironolactone",
        "9997",
        ["25 mg", "50 mg", "100 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth once a day."],
        ["potassium-sparing diuretics"],
        ["spironolactone"],
    ),
    # --- Antivirals and anti-infectives ---------------------------------------------------------
    Entry(
        "Valacyclovir",
        "valacyclovir hydrochloride",
        "73645",
        ["500 mg", "1 g"],
        ["tablet"],
        ORAL,
        [
            "Take 2 grams by mouth twice a day for 1 day.",
            "Take 1 tablet by mouth twice a day for 3 days.",
        ],
        ["antiherpetic antivirals"],
        ["valacyclovir", "acyclovir"],
    ),
    Entry(
        "Acyclovir",
        "acyclovir",
        "281",
        ["400 mg", "800 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth three times a day for 7 days."],
        ["antiherpetic antivirals"],
        ["acyclovir"],
    ),
    Entry(
        "Amoxicillin",
        "amoxicillin",
        "723",
        ["250 mg", "500 mg", "875 mg"],
        ["capsule", "tablet"],
        ORAL,
        [
            "Take 1 capsule by mouth three times a day for 10 days.",
            "Take 1 tablet by mouth twice a day for 10 days.",
        ],
        ["penicillins"],
        ["amoxicillin"],
    ),
    Entry(
        "Cephalexin",
        "cephalexin",
        "2231",
        ["250 mg", "500 mg"],
        ["capsule"],
        ORAL,
        ["Take 1 capsule by mouth four times a day for 7 days."],
        ["cephalosporins"],
        ["cephalexin"],
    ),
    Entry(
        "Azithromycin",
        "azithromycin",
        "18631",
        ["250 mg", "500 mg"],
        ["tablet"],
        ORAL,
        ["Take 2 tablets by mouth on day 1, then 1 tablet once a day on days 2 to 5."],
        ["macrolides"],
        ["azithromycin"],
    ),
    Entry(
        "Nitrofurantoin",
        "nitrofurantoin monohydrate/macrocrystals",
        "7454",
        ["100 mg"],
        ["capsule"],
        ORAL,
        ["Take 1 capsule by mouth twice a day with food for 5 days."],
        ["nitrofurans"],
        ["nitrofurantoin"],
    ),
    Entry(
        "Metronidazole",
        "metronidazole",
        "6922",
        ["250 mg", "500 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth twice a day for 7 days. Do not drink alcohol."],
        ["nitroimidazoles"],
        ["metronidazole"],
    ),
    Entry(
        "Fluconazole",
        "fluconazole",
        "4450",
        ["150 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth once."],
        ["azole antifungals"],
        ["fluconazole"],
    ),
    # --- Symptom relief ------------------------------------------------------------------------
    Entry(
        "Ondansetron",
        "ondansetron",
        "26225",
        ["4 mg", "8 mg"],
        ["tablet", "orally disintegrating tablet"],
        ORAL,
        ["Take 1 tablet by mouth every 8 hours as needed for nausea."],
        ["5-HT3 antagonists"],
        ["ondansetron"],
    ),
    Entry(
        "Cetirizine",
        "cetirizine hydrochloride",
        "20610",
        ["10 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth once a day."],
        ["antihistamines"],
        ["cetirizine"],
    ),
    Entry(
        "Ibuprofen",
        "ibuprofen",
        "5640",
        ["400 mg", "600 mg", "800 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth every 8 hours as needed for pain, with food."],
        ["NSAIDs"],
        ["ibuprofen"],
    ),
    Entry(
        "Prednisone",
        "prednisone",
        "8640",
        ["5 mg", "10 mg", "20 mg"],
        ["tablet"],
        ORAL,
        ["Take 2 tablets by mouth once a day for 5 days."],
        ["systemic corticosteroids"],
        ["prednisone"],
    ),
    Entry(
        "Albuterol inhaler",
        "albuterol sulfate",
        "435",
        ["90 mcg/actuation"],
        ["metered-dose inhaler"],
        "inhalation",
        ["Inhale 2 puffs every 4 to 6 hours as needed for wheezing."],
        ["short-acting beta agonists"],
        ["albuterol"],
    ),
    Entry(
        "Omeprazole",
        "omeprazole",
        "7646",
        ["20 mg", "40 mg"],
        ["delayed-release capsule"],
        ORAL,
        ["Take 1 capsule by mouth once a day before breakfast."],
        ["proton pump inhibitors"],
        ["omeprazole"],
    ),
    # --- Chronic care ----------------------------------------------------------------------------
    Entry(
        "Sertraline",
        "sertraline hydrochloride",
        "36437",
        ["25 mg", "50 mg", "100 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth once a day."],
        ["SSRIs"],
        ["sertraline"],
    ),
    Entry(
        "Escitalopram",
        "escitalopram oxalate",
        "321988",
        ["5 mg", "10 mg", "20 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth once a day."],
        ["SSRIs"],
        ["escitalopram"],
    ),
    Entry(
        "Lisinopril",
        "lisinopril",
        "29046",
        ["5 mg", "10 mg", "20 mg", "40 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth once a day."],
        ["ACE inhibitors"],
        ["lisinopril"],
    ),
    Entry(
        "Amlodipine",
        "amlodipine besylate",
        "17767",
        ["2.5 mg", "5 mg", "10 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth once a day."],
        ["calcium channel blockers"],
        ["amlodipine"],
    ),
    Entry(
        "Metformin",
        "metformin hydrochloride",
        "6809",
        ["500 mg", "850 mg", "1000 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth twice a day with meals."],
        ["biguanides"],
        ["metformin"],
    ),
    Entry(
        "Atorvastatin",
        "atorvastatin calcium",
        "83367",
        ["10 mg", "20 mg", "40 mg", "80 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth once a day."],
        ["statins"],
        ["atorvastatin"],
    ),
    # --- Controlled substances (need a live video visit with the prescriber) -------------------
    Entry(
        "Tramadol",
        "tramadol hydrochloride",
        "10689",
        ["50 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth every 6 hours as needed for pain. Do not exceed 4 a day."],
        ["opioid analgesics"],
        ["tramadol"],
        schedule="IV",
    ),
    Entry(
        "Alprazolam",
        "alprazolam",
        "596",
        ["0.25 mg", "0.5 mg", "1 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth up to three times a day as needed for anxiety."],
        ["benzodiazepines"],
        ["alprazolam"],
        schedule="IV",
    ),
    Entry(
        "Zolpidem",
        "zolpidem tartrate",
        "39993",
        ["5 mg", "10 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth at bedtime as needed for sleep."],
        ["sedative-hypnotics"],
        ["zolpidem"],
        schedule="IV",
    ),
    Entry(
        "Pregabalin",
        "pregabalin",
        "187832",
        ["25 mg", "75 mg", "150 mg"],
        ["capsule"],
        ORAL,
        ["Take 1 capsule by mouth twice a day."],
        ["gabapentinoids"],
        ["pregabalin"],
        schedule="V",
    ),
    Entry(
        "Methylphenidate",
        "methylphenidate hydrochloride",
        "6901",
        ["5 mg", "10 mg", "20 mg"],
        ["tablet"],
        ORAL,
        ["Take 1 tablet by mouth twice a day, in the morning and at noon."],
        ["CNS stimulants"],
        ["methylphenidate"],
        schedule="II",
    ),
]


def seed_formulary() -> list[Medication]:
    """Create the starter entries that are missing; return every starter entry."""
    medications = []
    with transaction.atomic():
        for entry in STARTER_FORMULARY:
            medication, _ = Medication.objects.get_or_create(
                name=entry.name,
                defaults={
                    "generic_name": entry.generic_name,
                    "rxcui": entry.rxcui,
                    "strengths": entry.strengths,
                    "dose_forms": entry.dose_forms,
                    "route": entry.route,
                    "sig_templates": entry.sig_templates,
                    "schedule": entry.schedule,
                    "drug_classes": entry.drug_classes,
                    "ingredients": entry.ingredients or [entry.generic_name],
                },
            )
            medications.append(medication)
    return medications


DEMO_ALLERGIES = [("Penicillin", "Hives", "moderate"), ("Sulfa drugs", "Rash", "mild")]


def seed_demo_allergies(patient: "User") -> None:
    """Recorded allergies for a demo patient (once: left alone when any exist), so the
    allergy warning shows when amoxicillin is prescribed."""
    from carepath.prescribing.models import AllergyIntolerance

    if AllergyIntolerance.objects.filter(patient=patient).exists():
        return
    for substance, reaction, severity in DEMO_ALLERGIES:
        AllergyIntolerance.objects.create(
            patient=patient,
            substance=substance,
            reaction=reaction,
            severity=severity,
            recorded_by=patient,
        )
