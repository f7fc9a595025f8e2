"""Demo service lines with their questionnaires and red-flag rules. Idempotent: an existing
service line or questionnaire version is left as it is (admins may have edited it)."""

from typing import Any

from django.db import transaction

from carepath.accounts.models import Specialty
from carepath.intake.models import Questionnaire, ServiceLine
from carepath.intake.questionnaires import check_questionnaire
from carepath.intake.red_flags import check_red_flag_rules


def _coding(code: str, display: str) -> dict[str, Any]:
    return {"valueCoding": {"code": code, "display": display}}


def _yes(question: str) -> dict[str, Any]:
    return {"question": question, "operator": "=", "answerBoolean": True}


DURATION = {
    "linkId": "duration",
    "text": "How long has this been going on?",
    "type": "choice",
    "required": True,
    "answerOption": [
        _coding("days", "A few days"),
        _coding("weeks", "1 to 4 weeks"),
        _coding("months", "1 to 6 months"),
        _coding("longer", "More than 6 months"),
    ],
}

DERMATOLOGY: dict[str, Any] = {
    "resourceType": "Questionnaire",
    "item": [
        {
            "linkId": "concern",
            "text": "Describe the skin problem",
            "type": "text",
            "required": True,
        },
        {
            "linkId": "location",
            "text": "Where on your body is it?",
            "type": "choice",
            "repeats": True,
            "required": True,
            "answerOption": [
                _coding("face", "Face"),
                _coding("scalp", "Scalp"),
                _coding("trunk", "Chest, belly or back"),
                _coding("arms", "Arms or hands"),
                _coding("legs", "Legs or feet"),
                _coding("genital", "Genital area"),
                _coding("other", "Somewhere else"),
            ],
        },
        DURATION,
        {
            "linkId": "spreading",
            "text": "Is it spreading quickly (over hours)?",
            "type": "boolean",
            "required": True,
        },
        {"linkId": "fever", "text": "Do you have a fever?", "type": "boolean", "required": True},
        {
            "linkId": "temperature",
            "text": "Highest temperature you measured (°F)",
            "type": "decimal",
            "enableWhen": [_yes("fever")],
        },
        {
            "linkId": "breathing",
            "text": "Any trouble breathing, or swelling of your lips, tongue or face?",
            "type": "boolean",
            "required": True,
        },
        {
            "linkId": "itch",
            "text": "How itchy is it?",
            "type": "choice",
            "answerOption": [
                _coding("none", "Not itchy"),
                _coding("mild", "A little"),
                _coding("severe", "Very itchy"),
            ],
        },
        {
            "linkId": "treatments",
            "text": "Treatments you have tried",
            "type": "group",
            "repeats": True,
            "item": [
                {
                    "linkId": "treatment-name",
                    "text": "Treatment (cream, medicine, …)",
                    "type": "string",
                    "required": True,
                },
                {"linkId": "treatment-helped", "text": "Did it help?", "type": "boolean"},
            ],
        },
        {
            "linkId": "photos",
            "text": "Photos of the affected skin: one close-up and one from further away",
            "type": "attachment",
            "repeats": True,
            "required": True,
        },
        {"linkId": "allergies", "text": "Allergies to medicines, if any", "type": "string"},
    ],
}

DERMATOLOGY_RULES = [
    {
        "id": "airway",
        "when": [_yes("breathing")],
        "outcome": "emergency",
        "message": "Trouble breathing or swelling of the lips, tongue or face can be "
        "life-threatening.",
    },
    {
        "id": "spreading-rash-fever",
        "when": [_yes("spreading"), _yes("fever")],
        "behavior": "all",
        "outcome": "live_visit_now",
        "message": "A rash that spreads quickly with a fever needs a clinician to see you now.",
        "due_minutes": 30,
    },
]

UTI: dict[str, Any] = {
    "resourceType": "Questionnaire",
    "item": [
        {
            "linkId": "sex",
            "text": "Sex assigned at birth",
            "type": "choice",
            "required": True,
            "answerOption": [
                _coding("female", "Female"),
                _coding("male", "Male"),
                _coding("intersex", "Intersex"),
            ],
        },
        {
            "linkId": "pregnant",
            "text": "Could you be pregnant?",
            "type": "choice",
            "required": True,
            "enableWhen": [{"question": "sex", "operator": "!=", "answerCoding": {"code": "male"}}],
            "answerOption": [
                _coding("yes", "Yes"),
                _coding("no", "No"),
                _coding("unsure", "Not sure"),
            ],
        },
        {
            "linkId": "symptoms",
            "text": "Which symptoms do you have?",
            "type": "choice",
            "repeats": True,
            "required": True,
            "answerOption": [
                _coding("burning", "Burning when peeing"),
                _coding("frequency", "Peeing often"),
                _coding("urgency", "Sudden need to pee"),
                _coding("blood", "Blood in urine"),
                _coding("cloudy", "Cloudy or smelly urine"),
            ],
        },
        {"linkId": "onset", "text": "When did it start?", "type": "date", "required": True},
        {"linkId": "fever", "text": "Do you have a fever?", "type": "boolean", "required": True},
        {
            "linkId": "flank-pain",
            "text": "Pain in your back or side, just below the ribs?",
            "type": "boolean",
            "required": True,
        },
        {
            "linkId": "past-utis",
            "text": "How many urinary infections have you had in the last year?",
            "type": "integer",
        },
        {"linkId": "allergies", "text": "Allergies to medicines, if any", "type": "string"},
    ],
}

UTI_RULES = [
    {
        "id": "fever-flank-pain",
        "when": [_yes("fever"), _yes("flank-pain")],
        "behavior": "all",
        "outcome": "live_visit_now",
        "message": "Fever with back or side pain can mean a kidney infection; a clinician needs "
        "to see you now.",
        "due_minutes": 30,
    },
    {
        "id": "pregnancy",
        "when": [
            {"question": "pregnant", "operator": "=", "answerCoding": {"code": "yes"}},
            {"question": "pregnant", "operator": "=", "answerCoding": {"code": "unsure"}},
        ],
        "behavior": "any",
        "outcome": "live_visit_now",
        "message": "A urinary infection in pregnancy needs a clinician to see you.",
        "due_minutes": 60,
    },
]

REFILL: dict[str, Any] = {
    "resourceType": "Questionnaire",
    "item": [
        {
            "linkId": "medications",
            "text": "Medicine to refill",
            "type": "group",
            "repeats": True,
            "required": True,
            "item": [
                {"linkId": "med-name", "text": "Name", "type": "string", "required": True},
                {"linkId": "med-dose", "text": "Dose (e.g. 10 mg)", "type": "string"},
                {"linkId": "med-per-day", "text": "Times a day", "type": "integer"},
                {"linkId": "med-last-filled", "text": "Last filled on", "type": "date"},
            ],
        },
        {
            "linkId": "side-effects",
            "text": "Any new symptoms or side effects?",
            "type": "boolean",
            "required": True,
        },
        {
            "linkId": "side-effects-detail",
            "text": "Tell us about them",
            "type": "text",
            "required": True,
            "enableWhen": [_yes("side-effects")],
        },
        {
            "linkId": "chest-pain",
            "text": "Any chest pain, fainting or severe dizziness right now?",
            "type": "boolean",
            "required": True,
        },
        {"linkId": "pharmacy", "text": "Your pharmacy", "type": "string", "required": True},
    ],
}

REFILL_RULES = [
    {
        "id": "chest-pain",
        "when": [_yes("chest-pain")],
        "outcome": "emergency",
        "message": "Chest pain, fainting or severe dizziness needs emergency care.",
    }
]

GENERAL: dict[str, Any] = {
    "resourceType": "Questionnaire",
    "item": [
        {
            "linkId": "concern",
            "text": "What would you like help with?",
            "type": "text",
            "required": True,
        },
        DURATION,
        {
            "linkId": "severity",
            "text": "How bad is it, from 0 (not at all) to 10 (worst ever)?",
            "type": "integer",
            "required": True,
        },
        {
            "linkId": "chest-pain",
            "text": "Any chest pain, trouble breathing or fainting right now?",
            "type": "boolean",
            "required": True,
        },
        {
            "linkId": "documents",
            "text": "Photos or documents that help explain (optional)",
            "type": "attachment",
            "repeats": True,
        },
    ],
}

GENERAL_RULES = [
    {
        "id": "chest-pain",
        "when": [_yes("chest-pain")],
        "outcome": "emergency",
        "message": "Chest pain, trouble breathing or fainting needs emergency care.",
    },
    {
        "id": "severe",
        "when": [{"question": "severity", "operator": ">=", "answerInteger": 9}],
        "outcome": "live_visit_now",
        "message": "Severe symptoms need a clinician to see you now.",
        "due_minutes": 30,
    },
]

SERVICE_LINES: list[dict[str, Any]] = [
    {
        "code": "dermatology",
        "name": "Skin, hair and nails",
        "description": "Rashes, spots, acne, eczema: send photos and get a dermatology answer.",
        "questionnaire": ("dermatology-intake", "Dermatology intake", DERMATOLOGY),
        "specialty": ("dermatology", "Dermatology"),
        "sla_minutes": 1440,
        "rules": DERMATOLOGY_RULES,
        "sort_order": 10,
    },
    {
        "code": "uti",
        "name": "Urinary tract infection",
        "description": "Burning or frequent peeing: answered within 4 hours.",
        "questionnaire": ("uti-intake", "Urinary tract infection intake", UTI),
        "specialty": ("primary-care", "Primary care"),
        "sla_minutes": 240,
        "rules": UTI_RULES,
        "sort_order": 20,
    },
    {
        "code": "medication-refill",
        "name": "Medication refill",
        "description": "Refill a medicine you already take.",
        "questionnaire": ("refill-intake", "Medication refill", REFILL),
        "specialty": ("primary-care", "Primary care"),
        "sla_minutes": 1440,
        "rules": REFILL_RULES,
        "sort_order": 30,
    },
    {
        "code": "general",
        "name": "Something else",
        "description": "Any other question for a primary care clinician.",
        "questionnaire": ("general-intake", "General intake", GENERAL),
        "specialty": ("primary-care", "Primary care"),
        "sla_minutes": 720,
        "rules": GENERAL_RULES,
        "sort_order": 40,
    },
]


def seed_service_lines() -> list[ServiceLine]:
    """Create the demo service lines (and their questionnaires, version 1) if missing."""
    lines = []
    with transaction.atomic():
        for spec in SERVICE_LINES:
            q_code, q_title, definition = spec["questionnaire"]
            problems = check_questionnaire(definition) + check_red_flag_rules(
                spec["rules"], definition
            )
            assert not problems, f"seed {spec['code']}: {problems}"
            questionnaire = Questionnaire.objects.filter(code=q_code).order_by("-version").first()
            if questionnaire is None:
                questionnaire = Questionnaire.objects.create(
                    code=q_code, version=1, title=q_title, definition=definition
                )
            s_code, s_name = spec["specialty"]
            specialty, _ = Specialty.objects.get_or_create(code=s_code, defaults={"name": s_name})
            line, _ = ServiceLine.objects.get_or_create(
                code=spec["code"],
                defaults={
                    "name": spec["name"],
                    "description": spec["description"],
                    "questionnaire": questionnaire,
                    "sla_minutes": spec["sla_minutes"],
                    "specialty": specialty,
                    "allowed_modes": ["async", "video"],
                    "red_flag_rules": spec["rules"],
                    "sort_order": spec["sort_order"],
                },
            )
            lines.append(line)
    return lines
