"""Writes of prescriptions: write a draft, sign it (checks, MedicationStatement, FHIR
handoff, episode event), cancel it, and mirror the pharmacy's status onto it. Each write is
one transaction with its audit event; a refusal is audited after the rollback, so the record
of the denied attempt survives."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import transaction

from carepath.access.selectors import may_access_patient
from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.care.events import emit_episode_event
from carepath.care.models import Encounter, EncounterStatus, Episode, EpisodeStatus
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.core.us_states import UsState
from carepath.pharmacy.models import Pharmacy
from carepath.prescribing import checks
from carepath.prescribing.models import (
    DispatchState,
    Medication,
    MedicationStatement,
    Prescription,
    PrescriptionEvent,
    PrescriptionStatus,
    Schedule,
    StatementSource,
    StatementStatus,
)

SIG_MAX = 500
NOTE_MAX = 500
REASON_MAX = 500
QUANTITY_MAX = 10_000
DAYS_SUPPLY_MAX = 365
REFILLS_MAX = 11
CONTROLLED_REFILLS_MAX = 5


@contextmanager
def audited_refusal(
    action: str, actor: User, object_type: str, object_id: object, patient_id: int | None
) -> Iterator[None]:
    """Run a write; if a rule refuses it, record the denial (outside the rolled-back
    transaction) and let the refusal through to the caller."""
    try:
        yield
    except ActionRefused as refused:
        do_record_audit(
            action,
            actor=actor,
            object_type=object_type,
            object_id=object_id,
            patient_id=patient_id,
            outcome=Outcome.DENIED,
            detail={"code": refused.code},
        )
        record_refusal_notes(refused, actor)
        raise


def record_refusal_notes(refused: ActionRefused, actor: User) -> None:
    """The audit events a refusal carries (e.g. a wrong MFA code, a lockout), recorded where
    the refusal is, after its transaction rolled back."""
    for note in getattr(refused, "audit_notes", ()):
        do_record_audit(
            note.action,
            actor=actor,
            object_type="user",
            object_id=actor.pk,
            outcome=Outcome.DENIED,
            detail=dict(note.detail),
        )


def check_no_nul(value: str, *, field: str) -> str:
    """PostgreSQL cannot store NUL in text: refuse it as bad input, whoever the caller."""
    if "\x00" in (value or ""):
        raise ActionRefused(
            "invalid_character", "This contains a NUL character.", field=field, status=422
        )
    return value


def clean_text(value: str, *, field: str, limit: int, required: str = "") -> str:
    check_no_nul(value, field=field)
    value = " ".join((value or "").split()) if field != "sig" else (value or "").strip()
    if required and not value:
        raise ActionRefused(f"{field}_required", required, field=field, status=422)
    if len(value) > limit:
        raise ActionRefused(
            "too_long", f"Keep this under {limit} characters.", field=field, status=422
        )
    return value


# --- Writing a draft --------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderDetails:
    """What the prescriber chose; checked by check_order()."""

    medication: Medication | None
    strength: str
    dose_form: str
    sig: str
    quantity: int
    days_supply: int
    refills: int
    pharmacy: Pharmacy | None
    note_to_pharmacist: str = ""


def _in_range(value: int, low: int, high: int, *, field: str, label: str) -> int:
    if not low <= value <= high:
        raise ActionRefused(
            "out_of_range", f"{label} must be from {low} to {high}.", field=field, status=422
        )
    return value


def pharmacy_refusal(
    pharmacy: Pharmacy, medication: Medication, state: str | None
) -> ActionRefused | None:
    """Why this pharmacy cannot take this order for a patient in `state`, or None. The same
    rule as the prescribe page's list (pharmacies_for): an active pharmacy in the state of
    care, or a mail-order one; for a scheduled drug, one registered for controlled
    substances. `state` None leaves the state out (checked later, after licensure)."""
    if not pharmacy.active:
        return ActionRefused(
            "pharmacy_required",
            f"{pharmacy.name} is no longer in the pharmacy directory; choose another pharmacy.",
            field="pharmacy",
            status=422,
        )
    if medication.is_controlled and not pharmacy.accepts_controlled:
        return ActionRefused(
            "pharmacy_not_controlled",
            f"{pharmacy.name} does not dispense controlled substances; choose another pharmacy.",
            field="pharmacy",
            status=422,
        )
    if state is not None and not pharmacy.mail_order and pharmacy.state != state:
        label = UsState(state).label if state in UsState.values else "the patient's state"
        return ActionRefused(
            "pharmacy_out_of_state",
            f"{pharmacy.name} is in {pharmacy.state}: choose a pharmacy in {label}, where the "
            "patient is receiving this care, or a mail-order pharmacy.",
            field="pharmacy",
            status=422,
        )
    return None


def check_pharmacy(pharmacy: Pharmacy, medication: Medication, state: str | None) -> None:
    refusal = pharmacy_refusal(pharmacy, medication, state)
    if refusal is not None:
        raise refusal


def check_still_on_formulary(prescription: Prescription) -> None:
    """At signing: the medication, strength and form must still be on an active formulary
    entry (an admin may have changed it since the draft was written)."""
    medication = prescription.medication
    if not medication.active:
        raise ActionRefused(
            "unknown_medication", "This medication is no longer on the formulary.", status=409
        )
    if (
        prescription.strength not in medication.strengths
        or prescription.dose_form not in medication.dose_forms
    ):
        raise ActionRefused(
            "formulary_changed",
            f"{prescription.title} is no longer on the formulary; cancel this draft and write "
            "a new one.",
            status=409,
        )


def check_order(details: OrderDetails) -> OrderDetails:
    medication = details.medication
    if medication is None or not medication.active:
        raise ActionRefused(
            "unknown_medication",
            "Choose a medication from the formulary.",
            field="medication",
            status=422,
        )
    if details.strength not in medication.strengths:
        raise ActionRefused(
            "invalid_strength",
            f"Choose one of the strengths of {medication.name}.",
            field="strength",
            status=422,
        )
    if details.dose_form not in medication.dose_forms:
        raise ActionRefused(
            "invalid_dose_form",
            f"Choose one of the forms of {medication.name}.",
            field="dose_form",
            status=422,
        )
    refills_max = REFILLS_MAX
    if medication.schedule == Schedule.II:
        refills_max = 0
    elif medication.is_controlled:
        refills_max = CONTROLLED_REFILLS_MAX
    _in_range(details.quantity, 1, QUANTITY_MAX, field="quantity", label="Quantity")
    _in_range(details.days_supply, 1, DAYS_SUPPLY_MAX, field="days_supply", label="Days supply")
    _in_range(details.refills, 0, refills_max, field="refills", label="Refills")
    pharmacy = details.pharmacy
    if pharmacy is None:
        raise ActionRefused(
            "pharmacy_required",
            "Choose the pharmacy to send this prescription to.",
            field="pharmacy",
            status=422,
        )
    check_pharmacy(pharmacy, medication, None)
    return OrderDetails(
        medication=medication,
        strength=details.strength,
        dose_form=details.dose_form,
        sig=clean_text(
            details.sig, field="sig", limit=SIG_MAX, required="Write the directions (sig)."
        ),
        quantity=details.quantity,
        days_supply=details.days_supply,
        refills=details.refills,
        pharmacy=pharmacy,
        note_to_pharmacist=clean_text(
            details.note_to_pharmacist, field="note_to_pharmacist", limit=NOTE_MAX
        ),
    )


def check_prescriber(prescriber: User, patient_id: int) -> None:
    if prescriber.role != Role.CLINICIAN:
        raise ActionRefused("not_clinician", "Only clinicians prescribe.", status=403)
    if not may_access_patient(prescriber, patient_id):
        raise ActionRefused(
            "no_access", "You have no care relationship with this patient.", status=403
        )


def check_encounter_open_for_orders(encounter: Encounter, *, renewal: bool = False) -> None:
    """A new order needs a current encounter in an open episode. A renewal (refill) continues
    an order of an episode that may since have closed (a care path closes it after the
    check-in), so only its encounter's validity counts."""
    if encounter.status in (EncounterStatus.CANCELLED, EncounterStatus.ENTERED_IN_ERROR):
        raise ActionRefused(
            "encounter_cancelled",
            "This encounter was cancelled; prescribe from a current one.",
            status=409,
        )
    if not renewal and encounter.episode.status != EpisodeStatus.OPEN:
        raise ActionRefused("episode_closed", "This episode is closed.", status=409)


def check_hard_rules(
    prescriber: User, medication: Medication, encounter: Encounter, state: str
) -> None:
    """The refusals no warning override can lift."""
    checks.check_licensure(prescriber, state)
    checks.check_controlled(prescriber, medication, encounter.episode)


def _build(
    prescriber: User, encounter: Encounter, details: OrderDetails, state: str
) -> Prescription:
    medication = details.medication
    pharmacy = details.pharmacy
    assert medication is not None  # check_order() made sure of both
    assert pharmacy is not None
    return Prescription(
        patient_id=encounter.episode.patient_id,
        episode_id=encounter.episode_id,
        encounter=encounter,
        prescriber=prescriber,
        medication=medication,
        medication_name=medication.name,
        rxcui=medication.rxcui,
        schedule=medication.schedule,
        strength=details.strength,
        dose_form=details.dose_form,
        route=medication.route,
        sig=details.sig,
        quantity=details.quantity,
        days_supply=details.days_supply,
        refills=details.refills,
        pharmacy=pharmacy,
        note_to_pharmacist=details.note_to_pharmacist,
        state_of_care=state,
        created_at=clock.now(),
    )


def do_create_draft(prescriber: User, encounter: Encounter, details: OrderDetails) -> Prescription:
    """A draft order in this encounter. Licensure and the controlled-substance rule refuse it
    at once; allergy and duplicate warnings are shown on the draft and settled at signing."""
    patient_id = encounter.episode.patient_id
    with audited_refusal("prescription.create", prescriber, "encounter", encounter.pk, patient_id):
        check_prescriber(prescriber, patient_id)
        check_encounter_open_for_orders(encounter)
        details = check_order(details)
        assert details.medication is not None
        assert details.pharmacy is not None
        state = checks.state_of_care(encounter)
        check_hard_rules(prescriber, details.medication, encounter, state)
        check_pharmacy(details.pharmacy, details.medication, state)
        with transaction.atomic():
            prescription = _build(prescriber, encounter, details, state)
            prescription.save()
            do_record_audit(
                "prescription.create",
                actor=prescriber,
                object_type="prescription",
                object_id=prescription.pk,
                patient_id=patient_id,
                detail={"encounter_id": encounter.pk, "medication_id": details.medication.pk},
            )
    return prescription


# --- Warnings and signing ---------------------------------------------------------------------


def warnings_for(prescription: Prescription) -> list[checks.CheckWarning]:
    ignore = [prescription.pk] + (
        [prescription.refill_of_id] if prescription.refill_of_id is not None else []
    )
    return checks.allergy_warnings(
        prescription.patient_id, prescription.medication
    ) + checks.duplicate_warnings(
        prescription.patient_id, prescription.medication, ignore_prescription_ids=ignore
    )


def hard_rule_problems(
    prescriber: User, medication: Medication, episode: Episode, state: str
) -> list[str]:
    """The hard refusals signing would give now, as messages (shown before signing)."""
    problems = []
    try:
        checks.check_licensure(prescriber, state)
    except ActionRefused as refused:
        problems.append(refused.message)
    try:
        checks.check_controlled(prescriber, medication, episode)
    except ActionRefused as refused:
        problems.append(refused.message)
    return problems


def blocking_problems(prescriber: User, prescription: Prescription) -> list[str]:
    problems = []
    try:
        check_still_signable(prescription)
    except ActionRefused as refused:
        problems.append(refused.message)
    problems += hard_rule_problems(
        prescriber, prescription.medication, prescription.episode, prescription.state_of_care
    )
    refusal = pharmacy_refusal(
        prescription.pharmacy, prescription.medication, prescription.state_of_care
    )
    return problems + ([refusal.message] if refusal is not None else [])


def check_still_signable(prescription: Prescription) -> None:
    """What may have changed since the draft was written, checked again at signing (with
    the pharmacy, after the hard rules): the encounter and episode still open, and the
    formulary entry."""
    check_encounter_open_for_orders(
        prescription.encounter, renewal=prescription.refill_of_id is not None
    )
    check_still_on_formulary(prescription)


def _check_overrides(
    warnings: list[checks.CheckWarning], allergy_reason: str, duplicate_reason: str
) -> None:
    for kind, reason, field, what in (
        (checks.ALLERGY, allergy_reason, "allergy_override_reason", "allergy"),
        (checks.DUPLICATE, duplicate_reason, "duplicate_override_reason", "duplicate therapy"),
    ):
        found = [w.message for w in warnings if w.kind == kind]
        if found and not reason:
            raise ActionRefused(
                f"{kind}_override_required",
                f"{' '.join(found)} To sign anyway, acknowledge the {what} warning and give "
                "your reason.",
                field=field,
                status=409,
            )


@dataclass(frozen=True)
class SignOff:
    """What the prescriber adds when signing."""

    allergy_override_reason: str = ""
    duplicate_override_reason: str = ""
    mfa_code: str = ""


def clean_signoff(signoff: SignOff) -> SignOff:
    return SignOff(
        allergy_override_reason=clean_text(
            signoff.allergy_override_reason, field="allergy_override_reason", limit=REASON_MAX
        ),
        duplicate_override_reason=clean_text(
            signoff.duplicate_override_reason, field="duplicate_override_reason", limit=REASON_MAX
        ),
        mfa_code=(signoff.mfa_code or "").strip()[:16],
    )


def record_event(
    prescription: Prescription, kind: str, actor: User | None, detail: str = ""
) -> PrescriptionEvent:
    return PrescriptionEvent.objects.create(
        prescription=prescription, kind=kind, at=clock.now(), actor=actor, detail=detail[:500]
    )


def _add_statement(prescription: Prescription, by: User) -> MedicationStatement:
    return MedicationStatement.objects.create(
        patient_id=prescription.patient_id,
        medication=prescription.medication,
        name=prescription.medication_name,
        dosage=f"{prescription.strength} {prescription.dose_form}: {prescription.sig}"[:300],
        source=StatementSource.PRESCRIPTION,
        prescription=prescription,
        recorded_by=by,
        recorded_at=clock.now(),
    )


def sign_locked(prescriber: User, locked: Prescription, signoff: SignOff) -> Prescription:
    """The signing itself, inside the caller's transaction, on a row it has locked. Shared
    with refill approval, which signs its renewal the same way."""
    if locked.status != PrescriptionStatus.DRAFT:
        raise ActionRefused("not_draft", "Only a draft can be signed.", status=409)
    if locked.prescriber_id != prescriber.pk:
        raise ActionRefused("not_prescriber", "Only the prescriber signs a draft.", status=403)
    check_prescriber(prescriber, locked.patient_id)
    check_still_signable(locked)
    check_hard_rules(prescriber, locked.medication, locked.encounter, locked.state_of_care)
    check_pharmacy(locked.pharmacy, locked.medication, locked.state_of_care)
    warnings = warnings_for(locked)
    _check_overrides(warnings, signoff.allergy_override_reason, signoff.duplicate_override_reason)
    if locked.is_controlled:
        # Last, so a code is spent only on a signature that will otherwise succeed.
        checks.check_mfa_code(prescriber, signoff.mfa_code)
    now = clock.now()
    locked.status = PrescriptionStatus.ACTIVE
    locked.signed_at = now
    locked.allergy_override_reason = signoff.allergy_override_reason if warnings else ""
    locked.duplicate_override_reason = signoff.duplicate_override_reason if warnings else ""
    locked.warnings_at_signing = [w.as_dict() for w in warnings]
    # Handed to the pharmacy app below; its status changes arrive through on_dispatch_status.
    locked.dispatch_state = DispatchState.QUEUED
    locked.save()
    record_event(locked, "signed", prescriber)
    _add_statement(locked, prescriber)
    do_record_audit(
        "prescription.sign",
        actor=prescriber,
        object_type="prescription",
        object_id=locked.pk,
        patient_id=locked.patient_id,
        detail={
            "controlled": locked.schedule,
            "mfa": locked.is_controlled,
            "overrides": [w.kind for w in warnings],
        },
    )
    from carepath.prescribing.handoff import dispatch

    dispatch(locked, by=prescriber)
    return locked


def lock_prescription(prescription_id: int) -> Prescription:
    return (
        Prescription.objects.select_for_update(of=("self",))
        .select_related("medication", "pharmacy", "episode", "encounter__episode", "patient")
        .get(pk=prescription_id)
    )


def do_sign_prescription(
    prescriber: User, prescription: Prescription, signoff: SignOff
) -> Prescription:
    """Sign a draft: it becomes active, joins the patient's medication list, goes to the
    pharmacy as a FHIR MedicationRequest, and the episode hears "prescription.signed"."""
    with audited_refusal(
        "prescription.sign", prescriber, "prescription", prescription.pk, prescription.patient_id
    ):
        signoff = clean_signoff(signoff)
        with transaction.atomic():
            signed = sign_locked(prescriber, lock_prescription(prescription.pk), signoff)
            emit_episode_event(
                signed.episode_id,
                "prescription.signed",
                actor_id=prescriber.pk,
                prescription_id=signed.pk,
                encounter_id=signed.encounter_id,
                controlled=signed.is_controlled,
            )
            notify_patient(
                signed,
                kind="prescription_signed",
                title=f"New prescription: {signed.medication_name}",
            )
    return signed


def notify_patient(prescription: Prescription, *, kind: str, title: str, body: str = "") -> None:
    from carepath.notifications.actions import notify_user

    notify_user(
        prescription.patient,
        kind=kind,
        title=title,
        body=body,
        url=f"/prescriptions/{prescription.pk}/",
    )


# --- Cancelling -------------------------------------------------------------------------------


def stop_statement(prescription: Prescription, *, status: str, reason: str) -> None:
    MedicationStatement.objects.filter(
        prescription=prescription, status=StatementStatus.ACTIVE
    ).update(status=status, stopped_at=clock.now(), stop_reason=reason[:500])


def do_cancel_prescription(
    user: User, prescription: Prescription, *, reason: str, entered_in_error: bool = False
) -> Prescription:
    """Stop an order, never delete it: a draft is discarded (cancelled); an active order is
    cancelled (or marked entered in error), its medication-list entry stopped and any waiting
    refill request withdrawn. The patient is told about signed orders."""
    with audited_refusal(
        "prescription.cancel", user, "prescription", prescription.pk, prescription.patient_id
    ):
        reason = clean_text(reason, field="reason", limit=REASON_MAX, required="Give the reason.")
        with transaction.atomic():
            locked = lock_prescription(prescription.pk)
            if locked.prescriber_id != user.pk:
                raise ActionRefused(
                    "not_prescriber", "Only the prescriber cancels this order.", status=403
                )
            _end(locked, user, reason, entered_in_error)
    return locked


def _end(locked: Prescription, user: User, reason: str, entered_in_error: bool) -> None:
    from carepath.prescribing.refills import withdraw_pending_refills

    allowed = {PrescriptionStatus.DRAFT, PrescriptionStatus.ACTIVE}
    if entered_in_error:
        allowed.add(PrescriptionStatus.COMPLETED)
    if locked.status not in allowed:
        raise ActionRefused("not_cancellable", "This order has already ended.", status=409)
    was_signed = locked.signed_at is not None
    new_status = (
        PrescriptionStatus.ENTERED_IN_ERROR
        if entered_in_error and was_signed
        else PrescriptionStatus.CANCELLED
    )
    locked.status = new_status
    locked.ended_at = clock.now()
    locked.end_reason = reason
    locked.save(update_fields=["status", "ended_at", "end_reason"])
    record_event(locked, new_status, user, reason)
    stop_statement(
        locked,
        status=StatementStatus.ENTERED_IN_ERROR if entered_in_error else StatementStatus.STOPPED,
        reason=f"Prescription {new_status.replace('_', ' ')}: {reason}",
    )
    withdraw_pending_refills(locked, reason="The prescription was cancelled.")
    if was_signed:
        _withdraw_from_pharmacy(locked, user, reason)
    do_record_audit(
        "prescription.cancel",
        actor=user,
        object_type="prescription",
        object_id=locked.pk,
        patient_id=locked.patient_id,
        detail={"status": new_status, "was_signed": was_signed},
    )
    if was_signed:
        notify_patient(
            locked,
            kind="prescription_cancelled",
            title=f"Prescription stopped: {locked.medication_name}",
            body=reason,
        )


def _withdraw_from_pharmacy(locked: Prescription, user: User, reason: str) -> None:
    """Tell the pharmacy the order is withdrawn (a cancelled MedicationRequest through the
    same adapter). One already filled cannot be: the prescriber sees that in the history and
    on the page, and must call the pharmacy."""
    from carepath.pharmacy.actions import do_cancel_dispatch
    from carepath.prescribing.handoff import ORDER_TYPE

    try:
        do_cancel_dispatch(order_type=ORDER_TYPE, order_id=str(locked.pk), reason=reason, by=user)
    except ActionRefused as refused:
        if refused.code != "already_filled":
            raise
        record_event(locked, NOT_WITHDRAWN, user, not_withdrawn_message(locked))


NOT_WITHDRAWN = "not_withdrawn"


def not_withdrawn_message(prescription: Prescription) -> str:
    pharmacy = prescription.pharmacy
    return (
        f"{pharmacy.name} had already filled this prescription, so it could not be withdrawn "
        f"from the pharmacy. Call them on {pharmacy.phone} if the patient must not take it."
    )


# --- The pharmacy's status --------------------------------------------------------------------

# Later statuses never step back to earlier ones (a late "sent" after "filled" is ignored).
PROGRESS: dict[str, int] = {
    DispatchState.QUEUED: 1,
    DispatchState.SENT: 2,
    DispatchState.RECEIVED: 3,
    DispatchState.FILLED: 4,
}

PATIENT_NOTICE: dict[str, Callable[[Prescription], str]] = {
    DispatchState.SENT: lambda p: (
        f"Your {p.medication_name} prescription was sent to {p.pharmacy.name}."
    ),
    DispatchState.RECEIVED: lambda p: (
        f"{p.pharmacy.name} received your {p.medication_name} prescription."
    ),
    DispatchState.FILLED: lambda p: f"Your {p.medication_name} is ready at {p.pharmacy.name}.",
    DispatchState.FAILED: lambda p: (
        f"We could not send your {p.medication_name} prescription "
        "to the pharmacy yet; your care team has been told."
    ),
}


def _moves_forward(current: str, new: str) -> bool:
    if new == current or current == DispatchState.CANCELLED:
        return False  # withdrawn from the pharmacy: final
    if new == DispatchState.CANCELLED:
        return True
    if new == DispatchState.FAILED:
        return current != DispatchState.FILLED
    return PROGRESS.get(new, 0) > PROGRESS.get(current, 0) or current == DispatchState.FAILED


def do_mirror_dispatch_status(order_id: str, status: str) -> bool:
    """The pharmacy app's status listener for MedicationRequest: record the dispatch status
    on the prescription (a status history row) and tell the patient. Idempotent: a status
    already recorded (or one that would step back) changes nothing. Returns whether it
    changed."""
    if status not in PROGRESS and status not in (DispatchState.FAILED, DispatchState.CANCELLED):
        return False
    if not str(order_id).isdigit():
        return False
    with transaction.atomic():
        locked = (
            Prescription.objects.select_for_update(of=("self",))
            .select_related("pharmacy", "patient", "prescriber")
            .filter(pk=int(order_id))
            .first()
        )
        if locked is None or not _moves_forward(locked.dispatch_state, status):
            return False
        locked.dispatch_state = status
        locked.save(update_fields=["dispatch_state"])
        record_event(locked, status, None)
        do_record_audit(
            "prescription.dispatch_status",
            object_type="prescription",
            object_id=locked.pk,
            patient_id=locked.patient_id,
            detail={"status": status},
        )
        notice = PATIENT_NOTICE.get(status)
        if notice is not None:
            notify_patient(locked, kind=f"prescription_{status}", title=notice(locked))
        if status == DispatchState.FAILED:
            from carepath.notifications.actions import notify_user

            notify_user(
                locked.prescriber,
                kind="prescription_failed",
                title=f"Prescription #{locked.pk} could not be sent to the pharmacy",
                url=f"/prescriptions/{locked.pk}/",
            )
    return True


def on_dispatch_status(order_id: str, status: str) -> None:
    do_mirror_dispatch_status(order_id, status)
