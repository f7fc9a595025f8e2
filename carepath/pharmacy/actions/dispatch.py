"""Fulfillment handoff: the outbox row of an order, its delivery attempts and its status.

    do_dispatch(...)            creates the Dispatch (queued) once per (order_type, order_id)
                                and enqueues delivery when the transaction commits
    do_claim_delivery(id)       a worker takes one attempt (a lease, attempts + 1)
    do_record_delivered(...)    the adapter succeeded: sent
    do_record_delivery_failure  transient: queued again with a backoff; permanent or out of
                                attempts: failed
    do_report_status(...)       the pharmacy (network token or signed request) says received,
                                filled or failed
    do_retry_dispatch(...)      staff put a failed dispatch back in the queue
    do_cancel_dispatch(...)     the prescriber withdrew the order: cancelled, and the pharmacy
                                is told (outbox feed / webhook POST of the cancelled document)

Every status change writes a history row and an audit event in the same transaction and
calls the registered status listeners on commit (carepath.pharmacy.registry)."""

import datetime as dt
import json
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.pharmacy.callers import InboundCaller
from carepath.pharmacy.models import (
    Dispatch,
    DispatchSource,
    DispatchStatus,
    DispatchStatusChange,
    HandoffAdapter,
    Pharmacy,
)
from carepath.pharmacy.registry import notify_status_on_commit
from carepath.pharmacy.transitions import check_reported_status

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_ERROR_LENGTH = 500
RETRY_STAFF = frozenset({Role.ADMIN, Role.COORDINATOR})
STATUS_TIMESTAMPS = {
    DispatchStatus.SENT: "sent_at",
    DispatchStatus.RECEIVED: "received_at",
    DispatchStatus.FILLED: "filled_at",
    DispatchStatus.FAILED: "failed_at",
    DispatchStatus.CANCELLED: "cancelled_at",
}


# --- Settings --------------------------------------------------------------------------------


def max_attempts() -> int:
    return max(1, int(getattr(settings, "PHARMACY_DISPATCH_MAX_ATTEMPTS", 5)))


def retry_delay(attempt: int) -> dt.timedelta:
    """Exponential backoff after the attempt-th failure: base, 2x base, 4x base, ... capped."""
    base = float(getattr(settings, "PHARMACY_DISPATCH_BACKOFF_SECONDS", 30))
    cap = float(getattr(settings, "PHARMACY_DISPATCH_BACKOFF_MAX_SECONDS", 3600))
    return dt.timedelta(seconds=min(cap, base * 2 ** max(0, attempt - 1)))


def delivery_lease() -> dt.timedelta:
    from carepath.pharmacy.netguard import timeout_seconds

    # Connect + send + read, each bounded by the timeout, plus slack.
    return dt.timedelta(seconds=3 * timeout_seconds() + 30)


# --- Shared ------------------------------------------------------------------------------------


def _record_change(
    dispatch: Dispatch,
    to_status: str,
    *,
    source: str,
    actor: User | None = None,
    detail: str = "",
    audit_detail: dict[str, Any] | None = None,
) -> None:
    """Move the (locked) dispatch to `to_status`: timestamps, history, audit, listeners."""
    from_status = dispatch.status
    now = clock.now()
    dispatch.status = to_status
    dispatch.updated_at = now
    stamp = STATUS_TIMESTAMPS.get(DispatchStatus(to_status))
    if stamp and to_status != from_status:
        setattr(dispatch, stamp, now)
    dispatch.save()
    DispatchStatusChange.objects.create(
        dispatch=dispatch,
        from_status=from_status,
        to_status=to_status,
        source=source,
        actor=actor,
        attempt=dispatch.attempts,
        detail=detail[:MAX_ERROR_LENGTH],
        occurred_at=now,
    )
    do_record_audit(
        "dispatch.status",
        actor=actor,
        object_type="dispatch",
        object_id=dispatch.pk,
        patient_id=dispatch.patient_id,
        detail={"from": from_status, "to": to_status, "source": source, **(audit_detail or {})},
    )
    if to_status != from_status:
        notify_status_on_commit(dispatch.order_type, dispatch.order_id, to_status)


def _enqueue_delivery_on_commit(dispatch_id: int) -> None:
    from carepath.pharmacy.tasks import enqueue_delivery

    transaction.on_commit(partial(enqueue_delivery, dispatch_id))


def _locked(dispatch_id: int) -> Dispatch | None:
    return Dispatch.objects.select_for_update().filter(pk=dispatch_id).first()


# --- Creating a dispatch -----------------------------------------------------------------------


def _check_dispatch_request(
    pharmacy: Pharmacy, order_type: str, order_id: str, document: dict[str, Any]
) -> None:
    if not order_type or len(order_type) > 40 or not order_id or len(order_id) > 64:
        raise ActionRefused("invalid_order", "order_type and order_id are required.")
    if not isinstance(document, dict) or document.get("resourceType") != order_type:
        raise ActionRefused(
            "invalid_document", f"The document must be a FHIR {order_type} resource."
        )
    if len(json.dumps(document, default=str)) > MAX_DOCUMENT_BYTES:
        raise ActionRefused("document_too_large", "The document is larger than 256 KB.")
    if not pharmacy.active:
        raise ActionRefused(
            "pharmacy_inactive",
            "This pharmacy is no longer in the directory; choose another.",
            field="pharmacy",
        )


def do_dispatch(
    *,
    pharmacy: Pharmacy,
    order_type: str,
    order_id: str,
    patient_id: int,
    document: dict[str, Any],
    by: User,
) -> Dispatch:
    """Hand an order to a pharmacy. Idempotent per (order_type, order_id): a repeat returns
    the first dispatch unchanged (even under concurrent calls, the database's unique
    constraint decides). Delivery runs in a task after the caller's transaction commits."""
    existing = Dispatch.objects.filter(order_type=order_type, order_id=order_id).first()
    if existing is not None:
        return existing
    if not by.is_staff_role:
        do_record_audit("dispatch.create", actor=by, outcome=Outcome.DENIED)
        raise ActionRefused("forbidden", "Only care staff hand orders to a pharmacy.", status=403)
    _check_dispatch_request(pharmacy, order_type, order_id, document)
    with transaction.atomic():
        try:
            with transaction.atomic():
                dispatch = Dispatch.objects.create(
                    pharmacy=pharmacy,
                    adapter=pharmacy.adapter,
                    order_type=order_type,
                    order_id=order_id,
                    patient_id=patient_id,
                    document=document,
                    created_by=by,
                    next_attempt_at=clock.now(),
                )
        except IntegrityError:
            # A concurrent call created it first: answer as it did.
            return Dispatch.objects.get(order_type=order_type, order_id=order_id)
        DispatchStatusChange.objects.create(
            dispatch=dispatch,
            to_status=DispatchStatus.QUEUED,
            source=DispatchSource.SYSTEM,
            actor=by,
            detail=f"Queued for {pharmacy.name} ({pharmacy.get_adapter_display()}).",
            occurred_at=dispatch.created_at,
        )
        do_record_audit(
            "dispatch.create",
            actor=by,
            object_type="dispatch",
            object_id=dispatch.pk,
            patient_id=patient_id,
            detail={
                "order_type": order_type,
                "order_id": order_id,
                "pharmacy": pharmacy.ncpdp_id,
                "adapter": dispatch.adapter,
            },
        )
        _enqueue_delivery_on_commit(dispatch.pk)
    return dispatch


# --- Delivery attempts (called by the task) ----------------------------------------------------


@dataclass(frozen=True)
class DeliveryJob:
    """What an adapter needs for one attempt, read under the lease (no ORM object escapes)."""

    dispatch_id: int
    delivery_id: str
    attempt: int
    adapter: str
    pharmacy_id: int
    order_type: str
    document: dict[str, Any]


def deliverable() -> Q:
    """What a delivery attempt may take: a queued order, or a cancellation a webhook pharmacy
    has not taken yet (the outbox serves cancellations from its feed instead)."""
    return Q(status=DispatchStatus.QUEUED) | Q(
        status=DispatchStatus.CANCELLED,
        cancel_acknowledged_at__isnull=True,
        adapter=HandoffAdapter.WEBHOOK,
    )


def _claimable(now: dt.datetime) -> Q:
    return (
        deliverable()
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        & (Q(delivering_until__isnull=True) | Q(delivering_until__lte=now))
    )


@transaction.atomic
def do_claim_delivery(dispatch_id: int) -> DeliveryJob | None:
    """Take the next attempt of a queued, due dispatch, or None (already delivered, not due,
    or another worker holds it): this is what makes the delivery task idempotent."""
    now = clock.now()
    dispatch = Dispatch.objects.select_for_update().filter(_claimable(now), pk=dispatch_id).first()
    if dispatch is None:
        return None
    dispatch.attempts += 1
    dispatch.delivering_until = now + delivery_lease()
    dispatch.updated_at = now
    dispatch.save(update_fields=["attempts", "delivering_until", "updated_at"])
    return DeliveryJob(
        dispatch_id=dispatch.pk,
        delivery_id=str(dispatch.delivery_id),
        attempt=dispatch.attempts,
        adapter=dispatch.adapter,
        pharmacy_id=dispatch.pharmacy_id,
        order_type=dispatch.order_type,
        document=dispatch.document,
    )


def _current_attempt(job: DeliveryJob) -> Dispatch | None:
    """The locked dispatch if this job's attempt is still the live one (a stale worker whose
    lease lapsed must not overwrite a newer attempt's outcome)."""
    dispatch = _locked(job.dispatch_id)
    if (
        dispatch is None
        or dispatch.attempts != job.attempt
        or not (dispatch.status == DispatchStatus.QUEUED or dispatch.cancellation_pending)
    ):
        return None
    return dispatch


@transaction.atomic
def do_record_delivered(job: DeliveryJob, detail: str) -> bool:
    dispatch = _current_attempt(job)
    if dispatch is None:
        return False
    dispatch.delivering_until = None
    dispatch.next_attempt_at = None
    dispatch.last_error = ""
    if dispatch.status == DispatchStatus.CANCELLED:
        dispatch.cancel_acknowledged_at = clock.now()
        _record_change(
            dispatch,
            DispatchStatus.CANCELLED,
            source=DispatchSource.ADAPTER,
            detail=f"Cancellation delivered. {detail}",
        )
        return True
    _record_change(dispatch, DispatchStatus.SENT, source=DispatchSource.ADAPTER, detail=detail)
    return True


@dataclass(frozen=True)
class FailureOutcome:
    status: str
    retry_at: dt.datetime | None  # on the carepath clock
    retry_delay: dt.timedelta | None


@transaction.atomic
def do_record_delivery_failure(
    job: DeliveryJob, error: str, *, permanent: bool
) -> FailureOutcome | None:
    """A failed attempt: retried with backoff while attempts remain and the error is
    transient; otherwise the dispatch fails (staff see it and may retry)."""
    dispatch = _current_attempt(job)
    if dispatch is None:
        return None
    error = error[:MAX_ERROR_LENGTH]
    dispatch.delivering_until = None
    dispatch.last_error = error
    if dispatch.status == DispatchStatus.CANCELLED:
        return _cancellation_not_delivered(dispatch, error, permanent=permanent)
    if permanent or dispatch.attempts >= max_attempts():
        dispatch.next_attempt_at = None
        why = "not retried" if permanent else f"gave up after {dispatch.attempts} attempts"
        _record_change(
            dispatch,
            DispatchStatus.FAILED,
            source=DispatchSource.ADAPTER,
            detail=f"{error} ({why})",
            audit_detail={"attempt": dispatch.attempts},
        )
        return FailureOutcome(DispatchStatus.FAILED, None, None)
    delay = retry_delay(dispatch.attempts)
    dispatch.next_attempt_at = clock.now() + delay
    _record_change(
        dispatch,
        DispatchStatus.QUEUED,
        source=DispatchSource.ADAPTER,
        detail=f"{error} (retry in {int(delay.total_seconds())} s)",
        audit_detail={"attempt": dispatch.attempts},
    )
    return FailureOutcome(DispatchStatus.QUEUED, dispatch.next_attempt_at, delay)


def _cancellation_not_delivered(
    dispatch: Dispatch, error: str, *, permanent: bool
) -> FailureOutcome:
    """The cancelled document did not reach the webhook: retried like an order; when it
    gives up the dispatch stays cancelled (our side is final) and staff see the pending
    withdrawal with its error, and may retry."""
    if permanent or dispatch.attempts >= max_attempts():
        dispatch.next_attempt_at = None
        _record_change(
            dispatch,
            DispatchStatus.CANCELLED,
            source=DispatchSource.ADAPTER,
            detail=f"Cancellation not delivered: {error} (gave up; staff may retry)",
            audit_detail={"attempt": dispatch.attempts},
        )
        return FailureOutcome(DispatchStatus.CANCELLED, None, None)
    delay = retry_delay(dispatch.attempts)
    dispatch.next_attempt_at = clock.now() + delay
    _record_change(
        dispatch,
        DispatchStatus.CANCELLED,
        source=DispatchSource.ADAPTER,
        detail=f"Cancellation not delivered: {error} (retry in {int(delay.total_seconds())} s)",
        audit_detail={"attempt": dispatch.attempts},
    )
    return FailureOutcome(DispatchStatus.CANCELLED, dispatch.next_attempt_at, delay)


# --- Status reported by the pharmacy -----------------------------------------------------------


def do_report_status(
    caller: InboundCaller, dispatch_id: int, status: str, reason: str = ""
) -> tuple[Dispatch, bool]:
    """(dispatch, changed). Repeats are no-ops (idempotent); a move the transition rules
    refuse is a 409, audited as denied (after the refused transaction rolled back). On a
    cancelled dispatch the only report is "cancelled": the withdrawal is acknowledged."""
    if "\x00" in reason:
        raise ActionRefused(
            "invalid_character", "The reason contains a NUL character.", field="reason", status=422
        )
    try:
        return _apply_report(caller, dispatch_id, status, reason.strip())
    except ActionRefused as refused:
        if refused.status == 409:
            do_record_audit(
                "dispatch.status",
                object_type="dispatch",
                object_id=dispatch_id,
                outcome=Outcome.DENIED,
                detail={**caller.audit_detail, "status": status, "code": refused.code},
            )
        raise


@transaction.atomic
def _apply_report(
    caller: InboundCaller, dispatch_id: int, status: str, reason: str
) -> tuple[Dispatch, bool]:
    dispatch = _locked(dispatch_id)
    if dispatch is None:
        raise ActionRefused("not_found", "No dispatch with that id.", status=404)
    if status == DispatchStatus.FAILED and not reason:
        raise ActionRefused(
            "reason_required", "Say why the order failed.", field="reason", status=422
        )
    if dispatch.status == DispatchStatus.CANCELLED:
        return dispatch, _acknowledge_cancellation(caller, dispatch, status)
    changed = check_reported_status(dispatch.status, status)
    if changed:
        if status == DispatchStatus.FAILED:
            dispatch.last_error = f"Refused by the pharmacy: {reason}"[:MAX_ERROR_LENGTH]
        dispatch.delivering_until = None
        dispatch.next_attempt_at = None
        _record_change(
            dispatch,
            status,
            source=caller.source,
            detail=reason or f"Reported {status} by the {caller.source}.",
            audit_detail=caller.audit_detail,
        )
    return dispatch, changed


def _acknowledge_cancellation(caller: InboundCaller, dispatch: Dispatch, status: str) -> bool:
    if status != DispatchStatus.CANCELLED:
        raise ActionRefused(
            "order_cancelled",
            'The prescriber cancelled this order: do not dispense it. Report "cancelled" to '
            "acknowledge.",
            status=409,
        )
    if dispatch.cancel_acknowledged_at is not None:
        return False
    dispatch.cancel_acknowledged_at = clock.now()
    dispatch.delivering_until = None
    dispatch.next_attempt_at = None
    _record_change(
        dispatch,
        DispatchStatus.CANCELLED,
        source=caller.source,
        detail=f"Cancellation acknowledged by the {caller.source}.",
        audit_detail=caller.audit_detail,
    )
    return True


# --- Cancelling ----------------------------------------------------------------------------------

CANCEL_REASON_MAX = 500


def cancelled_document(document: dict[str, Any], reason: str) -> dict[str, Any]:
    """The order's document as withdrawn: a FHIR MedicationRequest with status "cancelled"
    and the prescriber's reason (validated like the original)."""
    withdrawn = {**document, "status": "cancelled"}
    if reason:
        withdrawn["statusReason"] = {"text": reason}
    if withdrawn.get("resourceType") == "MedicationRequest":
        from fhir.resources.R4B.medicationrequest import MedicationRequest

        validated = MedicationRequest.model_validate(withdrawn)
        checked: dict[str, Any] = validated.model_dump(mode="json", exclude_none=True)
        return checked
    return withdrawn


def _never_left_us(dispatch: Dispatch, now: dt.datetime) -> bool:
    """Queued, never attempted and no attempt running: the pharmacy never saw it."""
    leased = dispatch.delivering_until is not None and dispatch.delivering_until > now
    return dispatch.status == DispatchStatus.QUEUED and dispatch.attempts == 0 and not leased


def do_cancel_dispatch(*, order_type: str, order_id: str, reason: str, by: User) -> Dispatch | None:
    """Withdraw an order from its pharmacy (the prescriber cancelled it, or marked it entered
    in error). The dispatch becomes "cancelled" (history, audit, listeners told) and its
    document the cancelled MedicationRequest, which the outbox feed serves until the network
    acknowledges it, or which is POSTed (signed, through the same guard, with retries) to a
    webhook pharmacy. None when the order was never dispatched; idempotent for one already
    cancelled. One already filled cannot be withdrawn: refused with code "already_filled"
    (nothing changes). Call inside the caller's transaction."""
    if "\x00" in reason:
        raise ActionRefused(
            "invalid_character", "The reason contains a NUL character.", field="reason", status=422
        )
    reason = " ".join(reason.split())[:CANCEL_REASON_MAX]
    with transaction.atomic():
        dispatch = (
            Dispatch.objects.select_for_update()
            .filter(order_type=order_type, order_id=order_id)
            .first()
        )
        if dispatch is None or dispatch.status == DispatchStatus.CANCELLED:
            return dispatch
        if not by.is_staff_role:
            raise ActionRefused("forbidden", "Only care staff withdraw orders.", status=403)
        if dispatch.status == DispatchStatus.FILLED:
            raise ActionRefused(
                "already_filled",
                "The pharmacy already filled this order; it can no longer be withdrawn.",
                status=409,
            )
        _cancel(dispatch, reason, by)
    return dispatch


def _cancel(dispatch: Dispatch, reason: str, by: User) -> None:
    now = clock.now()
    previous = dispatch.status
    silent = _never_left_us(dispatch, now)
    dispatch.document = cancelled_document(dispatch.document, reason)
    dispatch.attempts = 0  # a running attempt of the order is now stale and will be ignored
    dispatch.delivering_until = None
    dispatch.last_error = ""
    dispatch.cancel_acknowledged_at = now if silent else None
    wants_post = not silent and dispatch.adapter == HandoffAdapter.WEBHOOK
    dispatch.next_attempt_at = now if wants_post else None
    why = "never sent, nothing to withdraw" if silent else "the pharmacy is being told"
    _record_change(
        dispatch,
        DispatchStatus.CANCELLED,
        source=DispatchSource.STAFF,
        actor=by,
        detail=f"Cancelled by the prescriber ({why}): {reason}",
        audit_detail={"previous": previous, "notify_pharmacy": not silent},
    )
    if wants_post:
        _enqueue_delivery_on_commit(dispatch.pk)


# --- Staff -------------------------------------------------------------------------------------


@transaction.atomic
def do_retry_dispatch(actor: User, dispatch_id: int) -> Dispatch:
    """Put a failed dispatch back in the queue with a fresh round of attempts, using the
    pharmacy's adapter as it is configured now (an admin may have fixed it)."""
    if actor.role not in RETRY_STAFF:
        do_record_audit("dispatch.retry", actor=actor, outcome=Outcome.DENIED)
        raise ActionRefused("forbidden", "Your role may not retry dispatches.", status=403)
    dispatch = _locked(dispatch_id)
    if dispatch is None:
        raise ActionRefused("not_found", "No dispatch with that id.", status=404)
    if not dispatch.can_retry:
        raise ActionRefused(
            "not_failed",
            "Only a failed dispatch (or a cancellation that could not be delivered) can be "
            "retried.",
            status=409,
        )
    if dispatch.status == DispatchStatus.CANCELLED:
        return _retry_cancellation(actor, dispatch)
    pharmacy = Pharmacy.objects.get(pk=dispatch.pharmacy_id)
    if not pharmacy.active:
        raise ActionRefused(
            "pharmacy_inactive", "This pharmacy was deactivated; it cannot be retried.", status=409
        )
    previous_attempts = dispatch.attempts
    dispatch.attempts = 0
    dispatch.adapter = pharmacy.adapter
    dispatch.next_attempt_at = clock.now()
    dispatch.delivering_until = None
    _record_change(
        dispatch,
        DispatchStatus.QUEUED,
        source=DispatchSource.STAFF,
        actor=actor,
        detail=f"Retried by staff after {previous_attempts} attempts.",
    )
    _enqueue_delivery_on_commit(dispatch.pk)
    return dispatch


def _retry_cancellation(actor: User, dispatch: Dispatch) -> Dispatch:
    previous_attempts = dispatch.attempts
    dispatch.attempts = 0
    dispatch.next_attempt_at = clock.now()
    dispatch.delivering_until = None
    _record_change(
        dispatch,
        DispatchStatus.CANCELLED,
        source=DispatchSource.STAFF,
        actor=actor,
        detail=f"Cancellation notice retried by staff after {previous_attempts} attempts.",
    )
    _enqueue_delivery_on_commit(dispatch.pk)
    return dispatch
