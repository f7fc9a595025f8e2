"""Refills: the patient asks for more of an active prescription; the request becomes a REFILL
work item (subject "prescribing.refill").

Routing, prescriber first: the item is routed to the prescriber with the queue's own routing
field (`reassigned_to`, the one a coordinator's reassignment sets), so only they see it and
may claim it. After PRESCRIBING_REFILL_PRESCRIBER_HOURS the routing is lifted and every
eligible clinician (licensed in the patient's state, matching specialty) may take it. The
lift runs from a deferred task and from `sweep_refill_routing()` (idempotent; tests move the
clock and call it). A prescriber who may no longer take the item (e.g. their licence lapsed)
is skipped: the item is open to every eligible clinician at once.

Approving renews the order as a new signed prescription (same checks, including the
controlled-substance rules, now for the approving clinician) linked to the original, which
is completed; denying needs a reason the patient sees."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from carepath.accounts.models import PatientProfile, Role, User
from carepath.audit.actions import do_record_audit
from carepath.care.events import emit_episode_event
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.pharmacy.models import Pharmacy
from carepath.prescribing.actions import (
    REASON_MAX,
    SignOff,
    audited_refusal,
    clean_signoff,
    clean_text,
    lock_prescription,
    notify_patient,
    pharmacy_refusal,
    record_event,
    sign_locked,
    stop_statement,
)
from carepath.prescribing.models import (
    Prescription,
    PrescriptionStatus,
    RefillRequest,
    RefillStatus,
    StatementStatus,
)
from carepath.workqueue.actions import (
    do_cancel,
    do_complete,
    do_enqueue,
    do_lift_routing,
    do_route_to,
)
from carepath.workqueue.models import WorkItem, WorkItemKind, WorkItemStatus

SUBJECT_TYPE = "prescribing.refill"
NOTE_MAX = 1000


def prescriber_window() -> dt.timedelta:
    return dt.timedelta(hours=getattr(settings, "PRESCRIBING_REFILL_PRESCRIBER_HOURS", 24))


def refill_due() -> dt.timedelta:
    """When the refill is due (its SLA). Kept past the prescriber's window, so the SLA check
    (which also lifts routing) never cuts the prescriber's turn short."""
    hours = getattr(settings, "PRESCRIBING_REFILL_DUE_HOURS", 72)
    return max(dt.timedelta(hours=hours), prescriber_window() + dt.timedelta(hours=1))


def refill_url(refill_id: object) -> str:
    return f"/prescriptions/refills/{refill_id}/"


def _patient_state(prescription: Prescription) -> str:
    """A renewal is new care: the patient's state now, else where the order was written."""
    profile = PatientProfile.objects.filter(user_id=prescription.patient_id).first()
    return profile.state if profile and profile.state else prescription.state_of_care


def _route_to_prescriber(item: WorkItem, prescriber: User) -> bool:
    return do_route_to(item, prescriber, reason="refill: prescriber first")


def _schedule_widening(when: dt.timedelta) -> None:
    from carepath.prescribing.tasks import widen_refill_routing

    backend = widen_refill_routing.get_backend()
    if not backend.supports_defer:
        return  # the immediate backend (tests) cannot defer: the sweep covers it
    # The worker compares run_after with the real time, not the clock seam.
    run_after = timezone.now() + when
    transaction.on_commit(lambda: widen_refill_routing.using(run_after=run_after).enqueue())


def do_request_refill(
    patient: User, prescription: Prescription, *, note: str = ""
) -> RefillRequest:
    from carepath.consent.selectors import check_care_consent

    with audited_refusal(
        "refill.request", patient, "prescription", prescription.pk, prescription.patient_id
    ):
        if patient.role != Role.PATIENT or patient.pk != prescription.patient_id:
            raise ActionRefused("forbidden", "Only the patient asks for a refill.", status=403)
        check_care_consent(patient)
        note = clean_text(note, field="note", limit=NOTE_MAX)
        with transaction.atomic():
            refill = _create_refill(patient, lock_prescription(prescription.pk), note)
    return refill


def _create_refill(patient: User, locked: Prescription, note: str) -> RefillRequest:
    if locked.status != PrescriptionStatus.ACTIVE:
        raise ActionRefused(
            "not_active", "Only an active prescription can be refilled.", status=409
        )
    if RefillRequest.objects.filter(prescription=locked, status=RefillStatus.REQUESTED).exists():
        raise ActionRefused(
            "refill_pending", "You already asked for a refill of this prescription.", status=409
        )
    now = clock.now()
    refill = RefillRequest.objects.create(
        prescription=locked,
        patient=patient,
        note=note,
        requested_at=now,
        prescriber_until=now + prescriber_window(),
    )
    service_line = locked.episode.service_line
    item = do_enqueue(
        kind=WorkItemKind.REFILL,
        patient=patient,
        subject_type=SUBJECT_TYPE,
        subject_id=str(refill.pk),
        title=f"Refill request: {locked.medication_name}",
        due_at=now + refill_due(),
        required_state=_patient_state(locked),
        required_specialty=service_line.specialty if service_line else None,
    )
    refill.work_item = item
    routed = _route_to_prescriber(item, locked.prescriber)
    if not routed:
        refill.widened_at = now
    refill.save(update_fields=["work_item", "widened_at"])
    do_record_audit(
        "refill.request",
        actor=patient,
        object_type="refill",
        object_id=refill.pk,
        patient_id=patient.pk,
        detail={"prescription_id": locked.pk, "work_item_id": item.pk, "prescriber_first": routed},
    )
    if routed:
        from carepath.notifications.actions import notify_user

        notify_user(
            locked.prescriber,
            kind="refill_requested",
            title=f"Refill request: {locked.medication_name}",
            url=refill_url(refill.pk),
        )
        _schedule_widening(prescriber_window())
    return refill


# --- Widening ---------------------------------------------------------------------------------


def do_widen_refill(refill_id: int) -> bool:
    """Lift the prescriber-only routing of one refill whose window has passed. Idempotent:
    False when it was already widened, decided, or is not due yet. A coordinator's later
    routing to someone else is left alone."""
    with transaction.atomic():
        now = clock.now()
        refill = (
            RefillRequest.objects.select_for_update(of=("self",))
            .select_related("prescription", "work_item")
            .filter(
                pk=refill_id,
                status=RefillStatus.REQUESTED,
                widened_at__isnull=True,
                prescriber_until__lte=now,
            )
            .first()
        )
        if refill is None:
            return False
        refill.widened_at = now
        refill.save(update_fields=["widened_at"])
        item = refill.work_item
        prescriber_id = refill.prescription.prescriber_id
        if item is not None:
            do_lift_routing(item, routed_to_id=prescriber_id)
        do_record_audit(
            "refill.widen",
            object_type="refill",
            object_id=refill.pk,
            patient_id=refill.patient_id,
        )
    return True


def sweep_refill_routing() -> int:
    """Widen every refill whose prescriber window has passed; returns how many."""
    due = list(
        RefillRequest.objects.filter(
            status=RefillStatus.REQUESTED,
            widened_at__isnull=True,
            prescriber_until__lte=clock.now(),
        ).values_list("pk", flat=True)[:1000]
    )
    return sum(1 for refill_id in due if do_widen_refill(refill_id))


# --- Deciding ---------------------------------------------------------------------------------


def _lock_refill(refill_id: int) -> RefillRequest:
    return (
        RefillRequest.objects.select_for_update(of=("self",))
        .select_related("work_item", "prescription")
        .get(pk=refill_id)
    )


def holds_refill(clinician: User, refill: RefillRequest) -> bool:
    item = refill.work_item
    return (
        item is not None
        and item.status == WorkItemStatus.CLAIMED
        and item.claimed_by_id == clinician.pk
    )


def _check_decidable(clinician: User, refill: RefillRequest) -> None:
    if clinician.role != Role.CLINICIAN:
        raise ActionRefused("not_clinician", "Only clinicians decide refills.", status=403)
    if refill.status != RefillStatus.REQUESTED:
        raise ActionRefused(
            "already_decided", "This refill request was already decided.", status=409
        )
    if not holds_refill(clinician, refill):
        raise ActionRefused(
            "not_held", "Claim this refill request in the queue before deciding it.", status=409
        )


def renewal_pharmacy(original: Prescription, state: str) -> Pharmacy:
    """Where the renewal goes: the patient's preferred pharmacy now, else (when that one
    cannot take this order: closed, no controlled substances, another state) the pharmacy
    of the original order; refused when neither can."""
    from carepath.prescribing.handoff import preferred_pharmacy

    preferred = preferred_pharmacy(original.patient)
    candidates = [preferred] if preferred is not None else []
    if original.pharmacy_id not in [p.pk for p in candidates]:
        candidates.append(original.pharmacy)
    reasons = []
    for pharmacy in candidates:
        refusal = pharmacy_refusal(pharmacy, original.medication, state)
        if refusal is None:
            return pharmacy
        reasons.append(refusal.message)
    raise ActionRefused(
        "no_pharmacy",
        "This refill cannot be sent: neither the patient's preferred pharmacy nor the "
        f"pharmacy of the original order can take it. {' '.join(reasons)} Deny the refill "
        "with a reason (e.g. ask the patient to choose another pharmacy).",
        field="pharmacy",
        status=409,
    )


def _renewal(clinician: User, original: Prescription) -> Prescription:
    state = _patient_state(original)
    return Prescription(
        patient_id=original.patient_id,
        episode_id=original.episode_id,
        encounter_id=original.encounter_id,
        prescriber=clinician,
        medication=original.medication,
        medication_name=original.medication_name,
        rxcui=original.rxcui,
        schedule=original.schedule,
        strength=original.strength,
        dose_form=original.dose_form,
        route=original.route,
        sig=original.sig,
        quantity=original.quantity,
        days_supply=original.days_supply,
        refills=original.refills,
        pharmacy=renewal_pharmacy(original, state),
        note_to_pharmacist=original.note_to_pharmacist,
        state_of_care=state,
        refill_of=original,
        created_at=clock.now(),
    )


def _complete_original(original: Prescription, renewal: Prescription, by: User) -> None:
    original.status = PrescriptionStatus.COMPLETED
    original.ended_at = clock.now()
    original.end_reason = f"Renewed as prescription #{renewal.pk}."
    original.save(update_fields=["status", "ended_at", "end_reason"])
    record_event(original, "renewed", by, original.end_reason)
    stop_statement(original, status=StatementStatus.STOPPED, reason=original.end_reason)


def do_approve_refill(clinician: User, refill: RefillRequest, signoff: SignOff) -> Prescription:
    """Renew the order: a new signed prescription by the approving clinician, sent to the
    patient's pharmacy; the original is completed and the work item done."""
    with audited_refusal("refill.approve", clinician, "refill", refill.pk, refill.patient_id):
        signoff = clean_signoff(signoff)
        with transaction.atomic():
            locked = _lock_refill(refill.pk)
            _check_decidable(clinician, locked)
            original = lock_prescription(locked.prescription_id)
            if original.status != PrescriptionStatus.ACTIVE:
                raise ActionRefused(
                    "not_active", "The prescription is no longer active.", status=409
                )
            renewal = _renewal(clinician, original)
            renewal.save()
            signed = sign_locked(clinician, renewal, signoff)
            _complete_original(original, signed, clinician)
            _decide(locked, clinician, RefillStatus.APPROVED, new_prescription=signed)
            emit_episode_event(
                original.episode_id,
                "refill.approved",
                actor_id=clinician.pk,
                refill_id=locked.pk,
                prescription_id=signed.pk,
                renews=original.pk,
            )
            notify_patient(
                signed,
                kind="refill_approved",
                title=f"Refill approved: {signed.medication_name}",
            )
    return signed


def do_deny_refill(clinician: User, refill: RefillRequest, *, reason: str) -> RefillRequest:
    from carepath.notifications.actions import enqueue_email

    with audited_refusal("refill.deny", clinician, "refill", refill.pk, refill.patient_id):
        reason = clean_text(
            reason,
            field="reason",
            limit=REASON_MAX,
            required="Tell the patient why the refill is not approved.",
        )
        with transaction.atomic():
            locked = _lock_refill(refill.pk)
            _check_decidable(clinician, locked)
            _decide(locked, clinician, RefillStatus.DENIED, reason=reason)
            prescription = locked.prescription
            emit_episode_event(
                prescription.episode_id,
                "refill.denied",
                actor_id=clinician.pk,
                refill_id=locked.pk,
                prescription_id=prescription.pk,
            )
            notify_patient(
                prescription,
                kind="refill_denied",
                title=f"Refill not approved: {prescription.medication_name}",
                body=reason,
            )
            # The e-mail says only that there is news: no health information leaves by mail.
            enqueue_email(
                [locked.patient.email],
                "Carepath: an update on your refill request",
                "There is an update on your refill request. Sign in to Carepath to see it.",
            )
    return locked


def _decide(
    refill: RefillRequest,
    clinician: User,
    status: str,
    *,
    reason: str = "",
    new_prescription: Prescription | None = None,
) -> None:
    refill.status = status
    refill.decided_by = clinician
    refill.decided_at = clock.now()
    refill.decision_reason = reason
    refill.new_prescription = new_prescription
    refill.save(
        update_fields=["status", "decided_by", "decided_at", "decision_reason", "new_prescription"]
    )
    if refill.work_item_id is not None:
        do_complete(clinician, refill.work_item_id)
    do_record_audit(
        f"refill.{'approve' if status == RefillStatus.APPROVED else 'deny'}",
        actor=clinician,
        object_type="refill",
        object_id=refill.pk,
        patient_id=refill.patient_id,
        detail={"new_prescription_id": new_prescription.pk if new_prescription else None},
    )


def withdraw_pending_refills(prescription: Prescription, *, reason: str) -> None:
    """The prescription ended: a waiting refill request has nothing left to renew."""
    pending = RefillRequest.objects.select_for_update().filter(
        prescription=prescription, status=RefillStatus.REQUESTED
    )
    for refill in pending:
        refill.status = RefillStatus.CANCELLED
        refill.decided_at = clock.now()
        refill.decision_reason = reason
        refill.save(update_fields=["status", "decided_at", "decision_reason"])
        if refill.work_item_id is not None:
            do_cancel(refill.work_item_id, reason)
