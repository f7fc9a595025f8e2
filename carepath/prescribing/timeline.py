"""The prescribing entries of the episode timeline (carepath.care.timeline) and the
"medications" section of the after-visit summary (carepath.care.summary)."""

from collections.abc import Iterable

from carepath.accounts.models import User
from carepath.care.models import Encounter
from carepath.care.timeline import TimelineEntry
from carepath.prescribing.models import (
    DispatchState,
    Prescription,
    PrescriptionEvent,
    PrescriptionStatus,
    RefillRequest,
    RefillStatus,
)

EVENT_TITLES = {
    "signed": "Prescription signed",
    DispatchState.QUEUED: "Prescription queued for the pharmacy",
    DispatchState.SENT: "Prescription sent to the pharmacy",
    DispatchState.RECEIVED: "Pharmacy received the prescription",
    DispatchState.FILLED: "Prescription filled",
    DispatchState.FAILED: "Prescription could not be sent",
    PrescriptionStatus.CANCELLED: "Prescription cancelled",
    PrescriptionStatus.ENTERED_IN_ERROR: "Prescription entered in error",
    "renewed": "Prescription renewed",
}


def _kind(event_kind: str) -> str:
    return "prescription.signed" if event_kind == "signed" else f"prescription.{event_kind}"


def _prescription_entries(episode_ids: list[int]) -> Iterable[TimelineEntry]:
    events = (
        PrescriptionEvent.objects.filter(
            prescription__episode_id__in=episode_ids, prescription__signed_at__isnull=False
        )
        .select_related(
            "prescription", "prescription__prescriber", "prescription__pharmacy", "actor"
        )
        .order_by("at", "pk")
    )
    for event in events:
        prescription = event.prescription
        detail = f"{prescription.title}: {prescription.sig}"
        if event.kind in (DispatchState.SENT, DispatchState.RECEIVED, DispatchState.FILLED):
            detail = f"{prescription.title} at {prescription.pharmacy.name}"
        elif event.detail:
            detail = f"{prescription.title}. {event.detail}"
        yield TimelineEntry(
            at=event.at,
            episode_id=prescription.episode_id,
            kind=_kind(event.kind),
            title=EVENT_TITLES.get(event.kind, f"Prescription {event.kind}"),
            detail=detail,
            encounter_id=prescription.encounter_id,
            url=f"/prescriptions/{prescription.pk}/",
            actor=event.actor.display_name if event.actor else "",
            extra={"prescription_id": prescription.pk, "controlled": prescription.is_controlled},
        )


def _refill_entries(episode_ids: list[int]) -> Iterable[TimelineEntry]:
    refills = RefillRequest.objects.filter(prescription__episode_id__in=episode_ids).select_related(
        "prescription", "decided_by", "patient"
    )
    for refill in refills:
        prescription = refill.prescription
        url = f"/prescriptions/{prescription.pk}/"
        yield TimelineEntry(
            at=refill.requested_at,
            episode_id=prescription.episode_id,
            kind="refill.requested",
            title="Refill requested",
            detail=f"{prescription.title}" + (f": {refill.note}" if refill.note else ""),
            url=url,
            actor=refill.patient.display_name,
            extra={"refill_id": refill.pk},
        )
        if refill.decided_at is not None and refill.status in (
            RefillStatus.APPROVED,
            RefillStatus.DENIED,
        ):
            approved = refill.status == RefillStatus.APPROVED
            yield TimelineEntry(
                at=refill.decided_at,
                episode_id=prescription.episode_id,
                kind="refill.approved" if approved else "refill.denied",
                title="Refill approved" if approved else "Refill not approved",
                detail=prescription.title
                if approved
                else f"{prescription.title}: {refill.decision_reason}",
                url=url,
                actor=refill.decided_by.display_name if refill.decided_by else "",
                extra={"refill_id": refill.pk},
            )


def prescribing_timeline(viewer: User, episode_ids: list[int]) -> Iterable[TimelineEntry]:
    """Signed prescriptions and what happened to them, and refill requests with their
    decisions. Drafts never appear (the patient must not see an unsigned order)."""
    if not episode_ids:
        return []
    return [*_prescription_entries(episode_ids), *_refill_entries(episode_ids)]


def _refills_line(refills: int) -> str:
    if refills == 0:
        return "no refills"
    return "1 refill" if refills == 1 else f"{refills} refills"


def medication_line(prescription: Prescription) -> str:
    """e.g. "Doxycycline 100 mg capsule: take 1 capsule by mouth twice a day for 14 days.
    28 capsules, no refills. Sent to CVS Pharmacy, Austin." """
    sig = prescription.sig.strip()
    sig = sig[:1].lower() + sig[1:]
    if not sig.endswith("."):
        sig += "."
    pharmacy = prescription.pharmacy
    return (
        f"{prescription.title}: {sig} {prescription.quantity_text}, "
        f"{_refills_line(prescription.refills)}. Sent to {pharmacy.name}, {pharmacy.city}."
    )


def medications_section(encounter: Encounter) -> list[str]:
    """One plain-language line per prescription signed in this encounter."""
    prescriptions = (
        Prescription.objects.filter(
            encounter=encounter,
            refill_of__isnull=True,
            status__in=(PrescriptionStatus.ACTIVE, PrescriptionStatus.COMPLETED),
        )
        .select_related("pharmacy")
        .order_by("signed_at", "pk")
    )
    return [medication_line(prescription) for prescription in prescriptions]
