"""Demo care paths, one per service line that carepath.intake.seed seeds, and the check-in
questionnaires they send. Idempotent: seeding again changes nothing unless a seeded path
here changed (then it becomes the line's next version, see seed_care_paths); a path an
administrator saved, or a questionnaire code that already has a version, is left as it is.

Dermatology: online review -> live (video) visit if needed -> treatment -> check-in at
14 days -> clinician reviews the check-in -> closed. The transitions follow the order events
really arrive in: a clinician may prescribe before or after answering the case (or not at
all), sign the note before or after the visit ends, and a check-in that shows a problem
leads back to a live visit instead of closing. Every step has patient words (patient_label,
patient_text): patients never read the staff labels."""

from typing import Any

from django.db import transaction

from carepath.carepaths.definitions import check_definition
from carepath.carepaths.models import CarePathDefinition
from carepath.intake.models import Questionnaire, ServiceLine
from carepath.intake.questionnaires import check_questionnaire
from carepath.intake.seed import seed_service_lines


def _coding(code: str, display: str) -> dict[str, Any]:
    return {"valueCoding": {"code": code, "display": display}}


PROGRESS = {
    "linkId": "progress",
    "text": "Compared with before treatment, how is it now?",
    "type": "choice",
    "required": True,
    "answerOption": [
        _coding("gone", "Gone"),
        _coding("better", "Better"),
        _coding("same", "About the same"),
        _coding("worse", "Worse"),
    ],
}
SIDE_EFFECTS = [
    {
        "linkId": "side-effects",
        "text": "Any side effects from the treatment?",
        "type": "boolean",
        "required": True,
    },
    {
        "linkId": "side-effects-detail",
        "text": "Tell us about the side effects",
        "type": "text",
        "required": True,
        "enableWhen": [{"question": "side-effects", "operator": "=", "answerBoolean": True}],
    },
]
COMMENTS = {
    "linkId": "comments",
    "text": "Anything else you would like your clinician to know?",
    "type": "text",
}

DERMATOLOGY_CHECK_IN: dict[str, Any] = {
    "resourceType": "Questionnaire",
    "item": [
        PROGRESS,
        {
            "linkId": "using-treatment",
            "text": "Are you using the treatment as prescribed?",
            "type": "choice",
            "required": True,
            "answerOption": [
                _coding("yes", "Yes"),
                _coding("sometimes", "Sometimes"),
                _coding("stopped", "I stopped"),
                _coding("none", "I was not prescribed anything"),
            ],
        },
        *SIDE_EFFECTS,
        {
            "linkId": "spreading",
            "text": "Has it spread, or are there new spots?",
            "type": "boolean",
            "required": True,
        },
        COMMENTS,
    ],
}

FOLLOW_UP_CHECK_IN: dict[str, Any] = {
    "resourceType": "Questionnaire",
    "item": [PROGRESS, *SIDE_EFFECTS, COMMENTS],
}

QUESTIONNAIRES = [
    ("dermatology-check-in", "Dermatology check-in", DERMATOLOGY_CHECK_IN),
    ("follow-up-check-in", "Follow-up check-in", FOLLOW_UP_CHECK_IN),
]

LIVE_VISIT_EVENTS = {"case.escalated": "live_visit", "visit.scheduled": "live_visit"}


def _live_visit(after: str, *, prescribed: str = "check_in", hours: int = 168) -> dict[str, Any]:
    return {
        "id": "live_visit",
        "label": "Live visit",
        "patient_label": "Video visit",
        "kind": "live_visit",
        "patient_text": "Your clinician would like to see you in a video visit.",
        "expected_within_hours": hours,
        "on": {
            "visit.ended": after,
            "note.signed": after,
            "prescription.signed": prescribed,
            "case.answered": after,
            "case.closed": "closed",
        },
    }


def _check_in_steps(days: int, questionnaire: str) -> list[dict[str, Any]]:
    return [
        {
            "id": "check_in",
            "label": f"Check-in at {days} days",
            "patient_label": "Check-in",
            "kind": "check_in",
            "patient_text": f"We will send you a short check-in questionnaire {days} days after "
            "your clinician's answer or your treatment starts.",
            # Sent after `days`, then a few days for the patient to answer.
            "expected_within_hours": days * 24 + 96,
            "entry": [{"check_in": {"after_days": days, "questionnaire": questionnaire}}],
            "on": {
                "checkin.answered": "check_in_review",
                # A treatment prescribed after the answer: the check-in counts from it
                # (entering the step again reschedules the planned check-in).
                "prescription.signed": "check_in",
                "case.escalated": "live_visit",
                "visit.scheduled": "live_visit",
            },
        },
        {
            "id": "check_in_review",
            "label": "Check-in review",
            "patient_label": "Your clinician reads your check-in",
            "kind": "review",
            "patient_text": "A clinician is reading your check-in answers.",
            "expected_within_hours": 48,
            "on": {
                "checkin.reviewed": "closed",
                "checkin.reviewed:needs_visit": "live_visit",
                "visit.scheduled": "live_visit",
            },
        },
    ]


CLOSED = {"id": "closed", "label": "Closed", "patient_label": "Done", "kind": "final"}


def _review_steps(
    review_hours: int, *, answered: str, prescribed: str = "check_in"
) -> list[dict[str, Any]]:
    """The online review, and waiting for the patient's reply when the clinician asks."""
    decisions = {
        "case.answered": answered,
        "prescription.signed": prescribed,
        "case.closed": "closed",
        **LIVE_VISIT_EVENTS,
        "visit.started": "live_visit",
    }
    return [
        {
            "id": "async_review",
            "label": "Online review",
            "patient_label": "Online review",
            "kind": "review",
            "patient_text": "A clinician is reviewing your answers and photos.",
            "expected_within_hours": review_hours,
            "on": {**decisions, "case.needs_info": "waiting_for_patient"},
        },
        {
            "id": "waiting_for_patient",
            "label": "Waiting for the patient's reply",
            "patient_label": "Your reply",
            "kind": "wait",
            "patient_text": "Your clinician asked you a question: please reply.",
            "expected_within_hours": 72,
            "on": dict(decisions),
        },
    ]


# Dermatology and UTI: the clinician's answer (with or without a prescription), the end of a
# live visit or its signed note all lead to the check-in; a prescription signed later moves the
# check-in date to count from the treatment. No step waits for a prescription that may never
# come (an answer without one used to leave the patient at "preparing your treatment").
DERMATOLOGY_PATH: dict[str, Any] = {
    "title": "Dermatology: online review, video if needed, treatment, 14-day check-in",
    "start": "async_review",
    "steps": [
        *_review_steps(24, answered="check_in"),
        _live_visit(after="check_in"),
        *_check_in_steps(14, "dermatology-check-in"),
        CLOSED,
    ],
}

UTI_PATH: dict[str, Any] = {
    "title": "Urinary tract infection: online review, treatment, 3-day check-in",
    "start": "async_review",
    "steps": [
        *_review_steps(4, answered="check_in"),
        _live_visit(after="check_in", hours=24),
        *_check_in_steps(3, "follow-up-check-in"),
        CLOSED,
    ],
}

REFILL_PATH: dict[str, Any] = {
    "title": "Medication refill: online review, prescription, done",
    "start": "async_review",
    "steps": [
        *_review_steps(24, answered="prescription", prescribed="closed"),
        _live_visit(after="prescription", prescribed="closed"),
        {
            "id": "prescription",
            "label": "Prescription",
            "patient_label": "Your refill",
            "kind": "prescription",
            "patient_text": "Your clinician is preparing your refill.",
            "expected_within_hours": 24,
            "on": {
                "prescription.signed": "closed",
                "prescription.denied": "closed",
                "case.closed": "closed",
                **LIVE_VISIT_EVENTS,
            },
        },
        CLOSED,
    ],
}

GENERAL_PATH: dict[str, Any] = {
    "title": "General: online review, video if needed, 7-day check-in",
    "start": "async_review",
    "steps": [
        *_review_steps(12, answered="check_in"),
        _live_visit(after="check_in"),
        *_check_in_steps(7, "follow-up-check-in"),
        CLOSED,
    ],
}

PATHS = {
    "dermatology": DERMATOLOGY_PATH,
    "uti": UTI_PATH,
    "medication-refill": REFILL_PATH,
    "general": GENERAL_PATH,
}


def seed_check_in_questionnaires() -> list[Questionnaire]:
    found = []
    for code, title, definition in QUESTIONNAIRES:
        problems = check_questionnaire(definition)
        assert not problems, f"seed {code}: {problems}"
        questionnaire = Questionnaire.objects.filter(code=code).order_by("-version").first()
        if questionnaire is None:
            questionnaire = Questionnaire.objects.create(
                code=code, version=1, title=title, definition=definition
            )
        found.append(questionnaire)
    return found


def seed_care_paths() -> list[CarePathDefinition]:
    """The service lines and their questionnaires (intake's seed), the check-in
    questionnaires, and the current version of each path. A line without a path gets version
    1; a line whose newest version came from this seed (no author) and differs from the seed
    gets the seed as its next version; a version an administrator saved is left as it is."""
    definitions = []
    with transaction.atomic():
        seed_service_lines()
        seed_check_in_questionnaires()
        for code, definition in PATHS.items():
            problems = check_definition(definition)
            assert not problems, f"seed care path {code}: {problems}"
            line = ServiceLine.objects.select_for_update().get(code=code)
            definitions.append(_seed_path(line, definition))
    return definitions


def _seed_path(line: ServiceLine, definition: dict[str, Any]) -> CarePathDefinition:
    current = CarePathDefinition.objects.filter(service_line=line).order_by("-version").first()
    if current is not None and (
        current.created_by_id is not None or current.definition == definition
    ):
        return current
    return CarePathDefinition.objects.create(
        service_line=line,
        version=current.version + 1 if current is not None else 1,
        definition=definition,
    )
