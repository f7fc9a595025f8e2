"""{% load prescribing %}{% encounter_prescribing encounter user %}: the encounter's
prescriptions and, for a clinician who may treat the patient, a "Prescribe" link. The visit
room and the case review page include it."""

from typing import Any

from django import template

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
