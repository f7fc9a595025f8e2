"""Where a prescription was written from: the async case or the visit of its encounter, so
the prescribe and prescription pages can lead the clinician back there (for example to
escalate an async case to video when a controlled substance needs it)."""

from dataclasses import dataclass

from django.urls import reverse

from carepath.care.models import Encounter

VISIT_KINDS = {"video": "video ", "audio": "audio ", "chat": "chat "}


@dataclass(frozen=True)
class BackLink:
    label: str
    url: str


def back_to_encounter(encounter: Encounter) -> BackLink | None:
    """ "Back to the online visit" (the case review) for an async case's encounter, "Back to
    the video visit" (the visit room) for a visit's; None for any other encounter."""
    # Imported here so prescribing loads without the intake and visits apps' models.
    from carepath.intake.models import Case
    from carepath.visits.models import Visit

    case_id = Case.objects.filter(encounter_id=encounter.pk).values_list("pk", flat=True).first()
    if case_id is not None:
        return BackLink("Back to the online visit", reverse("case-review", args=[case_id]))
    visit = Visit.objects.filter(encounter_id=encounter.pk).only("pk", "mode").first()
    if visit is not None:
        kind = VISIT_KINDS.get(visit.mode, "")
        return BackLink(f"Back to the {kind}visit", reverse("visit-room", args=[visit.pk]))
    return None
