"""{% load prescribing %}{% encounter_prescribing encounter user %}: the encounter's
prescriptions and, for a clinician who may treat the patient, a "Prescribe" link. The visit
room and the case review page include it.

{{ form|field_problems }}: the field errors of a form for the error summary of the
prescribing and pharmacy pages (templates/prescribing/_form_errors.html)."""

from dataclasses import dataclass
from typing import Any

from django import forms, template

from carepath.access.selectors import may_access_patient
from carepath.accounts.models import Role, User
from carepath.care.models import Encounter, EncounterStatus, EpisodeStatus
from carepath.prescribing.selectors import prescriptions_of_encounter

register = template.Library()


@register.inclusion_tag("prescribing/_encounter_prescribing.html")
def encounter_prescribing(encounter: Encounter | None, user: User) -> dict[str, Any]:
    if encounter is None or not getattr(user, "is_authenticated", False):
        return {"encounter": None, "prescriptions": [], "can_prescribe": False}
    can_prescribe = (
        user.role == Role.CLINICIAN
        and encounter.status not in (EncounterStatus.CANCELLED, EncounterStatus.ENTERED_IN_ERROR)
        and encounter.episode.status == EpisodeStatus.OPEN
        and may_access_patient(user, encounter.episode.patient_id)
    )
    return {
        "encounter": encounter,
        "prescriptions": prescriptions_of_encounter(user, encounter),
        "can_prescribe": can_prescribe,
        "is_patient": user.role == Role.PATIENT,
        "prescribe_url": f"/prescriptions/new/?encounter={encounter.pk}",
    }


@dataclass(frozen=True)
class FieldProblem:
    field_id: str
    label: str
    message: str


@register.filter
def field_problems(form: forms.Form) -> list[FieldProblem]:
    """Every field error of the form, in field order, with the id of the field to link to:
    the error summary names the problem itself, not only the field."""
    problems = []
    for field in form:
        for message in field.errors:
            field_id = field.id_for_label or field.auto_id or ""
            problems.append(FieldProblem(str(field_id), str(field.label), str(message)))
    return problems
