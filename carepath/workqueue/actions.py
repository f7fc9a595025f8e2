"""The only writes to the work queue. Each change: one transaction, an audit event, then a
queue event published on commit. Refusals are decided before anything is written and are
audited after the transaction, so the denial record survives.

Single holder: a claim locks the row with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL) and
then takes it with a conditional UPDATE (open, or lease lapsed); only the UPDATE that changes
one row wins, so SQLite (which serializes writers) is just as safe. The CHECK constraint makes
a "claimed" row without a holder and a lease impossible."""

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Q

from carepath.access.actions import do_add_care_relationship
from carepath.access.models import CareRelationship, RelationshipKind
from carepath.accounts.models import Role, Specialty, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.workqueue.events import publish_queue_event
from carepath.workqueue.models import ACTIVE_STATUSES, SlaBreach, WorkItem, WorkItemStatus
from carepath.workqueue.selectors import (
    OVERVIEW_ROLES,
    eligible_items_for,
    is_eligible,
    takeable_q,
)

CLAIM_NEXT_ATTEMPTS = 5
CLAIM_NEXT_CANDIDATES = 8
SLA_BREACH_PRIORITY_BUMP = 10


@dataclass
class Refusal:
    exc: ActionRefused
    item: WorkItem | None


# SQLite has one writer at a time; threads of this process that would wait for it queue
# here (woken at once) instead of in SQLite's busy handler (which sleeps in steps of up to
# 100 ms). PostgreSQL needs no such thing.
_SQLITE_WRITER = threading.Lock()


@contextmanager
def single_writer() -> Iterator[None]:
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    with _SQLITE_WRITER:
        yield


def default_lease() -> dt.timedelta:
    return dt.timedelta(minutes=settings.WORK_ITEM_LEASE_MINUTES)


def audit_item(
    action: str,
    actor: User | None,
    item: WorkItem | None,
    item_id: object = "",
    *,
    outcome: str = Outcome.ALLOWED,
    detail: dict[str, object] | None = None,
) -> None:
    do_record_audit(
        action,
        actor=actor,
        object_type="work_item",
        object_id=item.pk if item else item_id,
        patient_id=item.patient_id if item else None,
        outcome=outcome,
        detail=detail,
    )


def _settle(
    action: str, actor: User | None, item_id: object, result: WorkItem | Refusal
) -> WorkItem:
    """Outside the transaction: audit and raise a refusal, or hand back the item."""
    if isinstance(result, Refusal):
        audit_item(
            action,
            actor,
            result.item,
            item_id,
            outcome=Outcome.DENIED,
            detail={"code": result.exc.code},
        )
        raise result.exc
    return result


def _not_found() -> Refusal:
    return Refusal(ActionRefused("not_found", "No work item with that id.", status=404), None)


def _hidden(item: WorkItem) -> Refusal:
    """Not one this user may take: answered as if it did not exist."""
    return Refusal(ActionRefused("not_found", "No work item with that id.", status=404), item)


def do_enqueue(
    *,
    kind: str,
    patient: User | None,
    subject_type: str,
    subject_id: str,
    title: str,
    due_at: dt.datetime,
    priority: int = 0,
    required_state: str = "",
    required_specialty: Specialty | None = None,
    required_language: str = "",
) -> WorkItem:
    """Put work on the queue. Idempotent: while an open or claimed item exists for the same
    (kind, subject), that item is returned and nothing new is created."""
    subject_id = str(subject_id)
    active = WorkItem.objects.filter(
        kind=kind, subject_type=subject_type, subject_id=subject_id, status__in=ACTIVE_STATUSES
    )
    existing = active.first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            item = WorkItem.objects.create(
                kind=kind,
                patient=patient,
                subject_type=subject_type,
                subject_id=subject_id,
                title=title[:200],
                due_at=due_at,
                priority=priority,
                required_state=required_state,
                required_specialty=required_specialty,
                required_language=required_language,
                created_at=clock.now(),
            )
            audit_item(
                "work_item.create",
                None,
                item,
                detail={"kind": kind, "subject_type": subject_type, "subject_id": subject_id},
            )
            publish_queue_event(item, "created")
    except IntegrityError:
        # The same subject was enqueued at the same moment: that item is the one.
        return active.get()
    return item


def _take(user: User, item_id: int, now: dt.datetime, lease: dt.timedelta) -> bool:
    """The conditional UPDATE that decides a claim: exactly one row changed = won."""
    won = (
        WorkItem.objects.filter(takeable_q(user, now), pk=item_id)
        .filter(Q(reassigned_to__isnull=True) | Q(reassigned_to=user))
        .update(
            status=WorkItemStatus.CLAIMED,
            claimed_by=user,
            claimed_at=now,
            lease_expires_at=now + lease,
        )
    )
    return won == 1


def _current_claim_relationships(
    item: WorkItem, staff_id: int, now: dt.datetime
) -> "models.QuerySet[CareRelationship]":
    return CareRelationship.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        kind=RelationshipKind.WORK_ITEM,
        source_id=str(item.pk),
        staff_id=staff_id,
    )


def end_claim_relationships(item: WorkItem, staff_id: int | None, now: dt.datetime) -> None:
    """A claim that ends without the work being done ends the access it gave."""
    if staff_id is not None:
        _current_claim_relationships(item, staff_id, now).update(ends_at=now)


def _after_claim(user: User, item: WorkItem, previous_holder: int | None, now: dt.datetime) -> None:
    if previous_holder is not None and previous_holder != user.pk:
        end_claim_relationships(item, previous_holder, now)
    already_related = (
        previous_holder == user.pk and _current_claim_relationships(item, user.pk, now).exists()
    )
    if item.patient_id is not None and not already_related:
        do_add_care_relationship(
            user, item.patient_id, kind=RelationshipKind.WORK_ITEM, source_id=str(item.pk)
        )
    lease_until = item.lease_expires_at.isoformat() if item.lease_expires_at else ""
    audit_item("work_item.claim", user, item, detail={"lease_expires_at": lease_until})
    publish_queue_event(item, "claimed")


def _mark_taken(item: WorkItem, user: User, now: dt.datetime, lease: dt.timedelta) -> WorkItem:
    """What the winning UPDATE wrote, without reading the row again."""
    item.status = WorkItemStatus.CLAIMED
    item.claimed_by = user
    item.claimed_at = now
    item.lease_expires_at = now + lease
    return item


def _try_take(user: User, item: WorkItem, lease: dt.timedelta) -> bool:
    """One short write transaction: lock (PostgreSQL: skip a row another claimer holds),
    the conditional UPDATE, the care relationship, the audit event."""
    with single_writer(), transaction.atomic():
        now = clock.now()
        previous_holder = item.claimed_by_id
        if connection.features.has_select_for_update_skip_locked:
            row = list(
                WorkItem.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=item.pk)
                .values_list("claimed_by_id", flat=True)
            )
            if not row:
                return False  # another transaction is claiming it right now
            previous_holder = row[0]
        if not _take(user, item.pk, now, lease):
            return False
        _after_claim(user, _mark_taken(item, user, now, lease), previous_holder, now)
    return True


def do_claim(user: User, item_id: int, *, lease: dt.timedelta | None = None) -> WorkItem:
    """Take an item for `lease` (default WORK_ITEM_LEASE_MINUTES) and gain access to its
    patient (a work_item care relationship). Claiming an item you already hold renews it.
    Losing the race is a 409 "already_claimed"; an item you may not take is a 404.

    The reads (the item, eligibility) happen before the write transaction, so the write
    lock is held only for the claim itself; the conditional UPDATE re-checks the state."""
    item = WorkItem.objects.select_related("required_specialty").filter(pk=item_id).first()
    if item is None:
        return _settle("work_item.claim", user, item_id, _not_found())
    if user.role != Role.CLINICIAN or not is_eligible(user, item):
        return _settle("work_item.claim", user, item_id, _hidden(item))
    if _try_take(user, item, lease or default_lease()):
        return item
    item.refresh_from_db()
    if item.status in (WorkItemStatus.DONE, WorkItemStatus.CANCELLED):
        exc = ActionRefused("not_open", "This work item is already finished.", status=409)
    else:
        exc = ActionRefused(
            "already_claimed", "Another clinician has claimed this item.", status=409
        )
    return _settle("work_item.claim", user, item_id, Refusal(exc, item))


def do_claim_next(user: User) -> WorkItem | None:
    """Claim the first item this clinician may take (by due_at, then priority) that nobody
    else holds; None when there is nothing to take.

    PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED picks the first row no other claimer has
    locked. SQLite (one writer at a time): the candidates are read before the write lock
    and taken in order with the conditional UPDATE; a lost race moves on to the next."""
    if user.role != Role.CLINICIAN:
        return None
    lease = default_lease()
    skip_locked = connection.features.has_select_for_update_skip_locked
    for _attempt in range(CLAIM_NEXT_ATTEMPTS):
        now = clock.now()
        takeable = eligible_items_for(user).filter(
            Q(status=WorkItemStatus.OPEN)
            | Q(status=WorkItemStatus.CLAIMED, lease_expires_at__lte=now)
        )
        if skip_locked:
            with transaction.atomic():
                item = takeable.select_for_update(skip_locked=True, of=("self",)).first()
                if item is None:
                    return None
                previous_holder = item.claimed_by_id
                if _take(user, item.pk, now, lease):
                    _after_claim(user, _mark_taken(item, user, now, lease), previous_holder, now)
                    return item
            continue
        candidates = list(takeable[:CLAIM_NEXT_CANDIDATES])
        if not candidates:
            return None
        for item in candidates:
            if _try_take(user, item, lease):
                return item
    return None


def _held_tx(user: User, item_id: int) -> WorkItem | Refusal:
    """The item, locked, if this user holds it (a lapsed lease still counts while nobody
    else has taken it)."""
    item = WorkItem.objects.select_for_update().filter(pk=item_id).first()
    if item is None:
        return _not_found()
    if item.status == WorkItemStatus.CLAIMED and item.claimed_by_id == user.pk:
        return item
    if item.claimed_by_id != user.pk and not is_eligible(user, item):
        return _hidden(item)
    return Refusal(ActionRefused("not_held", "You do not hold this work item.", status=409), item)


def do_renew_lease(user: User, item_id: int) -> WorkItem:
    """Extend the lease while the clinician is still working (the page does this)."""
    with transaction.atomic():
        result = _held_tx(user, item_id)
        if isinstance(result, WorkItem):
            result.lease_expires_at = clock.now() + default_lease()
            result.save(update_fields=["lease_expires_at"])
            audit_item("work_item.renew", user, result)
            publish_queue_event(result, "renewed")
    return _settle("work_item.renew", user, item_id, result)


def _reopen(item: WorkItem) -> list[str]:
    item.status = WorkItemStatus.OPEN
    item.claimed_by = None
    item.claimed_at = None
    item.lease_expires_at = None
    return ["status", "claimed_by", "claimed_at", "lease_expires_at"]


def do_release(user: User, item_id: int) -> WorkItem:
    """Give the item back to the queue; the claimer's access through it ends."""
    with transaction.atomic():
        result = _held_tx(user, item_id)
        if isinstance(result, WorkItem):
            result.save(update_fields=_reopen(result))
            end_claim_relationships(result, user.pk, clock.now())
            audit_item("work_item.release", user, result)
            publish_queue_event(result, "released")
    return _settle("work_item.release", user, item_id, result)


def do_complete(user: User, item_id: int) -> WorkItem:
    """The work is done. The clinician keeps the care relationship (they treated the
    patient); claimed_by stays as the record of who did it."""
    with transaction.atomic():
        result = _held_tx(user, item_id)
        if isinstance(result, WorkItem):
            result.status = WorkItemStatus.DONE
            result.completed_at = clock.now()
            result.lease_expires_at = None
            result.save(update_fields=["status", "completed_at", "lease_expires_at"])
            audit_item("work_item.complete", user, result)
            publish_queue_event(result, "completed")
    return _settle("work_item.complete", user, item_id, result)


def _reassign_tx(coordinator: User, item_id: int, clinician: User) -> WorkItem | Refusal:
    item = WorkItem.objects.select_for_update().filter(pk=item_id).first()
    if coordinator.role not in OVERVIEW_ROLES:
        return Refusal(
            ActionRefused("forbidden", "Only coordinators reassign work.", status=403), item
        )
    if item is None:
        return _not_found()
    if item.status not in ACTIVE_STATUSES:
        return Refusal(
            ActionRefused("not_open", "This work item is already finished.", status=409), item
        )
    if not clinician.is_active or not is_eligible(clinician, item, ignore_routing=True):
        return Refusal(
            ActionRefused(
                "not_eligible",
                "That clinician may not take this item (license, specialty or language).",
                field="clinician_id",
            ),
            item,
        )
    fields = ["reassigned_to"]
    if item.status == WorkItemStatus.CLAIMED and item.claimed_by_id != clinician.pk:
        end_claim_relationships(item, item.claimed_by_id, clock.now())
        fields += _reopen(item)
    item.reassigned_to = clinician
    item.save(update_fields=fields)
    audit_item("work_item.reassign", coordinator, item, detail={"clinician_id": clinician.pk})
    publish_queue_event(item, "reassigned")
    return item


def do_reassign(coordinator: User, item_id: int, clinician: User) -> WorkItem:
    """A coordinator routes a waiting item to one clinician, who must be eligible for it.
    Someone else holding it loses the claim; from then on only that clinician sees the item
    (until an SLA breach re-routes it to every eligible clinician)."""
    with transaction.atomic():
        result = _reassign_tx(coordinator, item_id, clinician)
    return _settle("work_item.reassign", coordinator, item_id, result)


def do_route_to(item: WorkItem, clinician: User, *, reason: str) -> bool:
    """The system (not a coordinator) offers a new, unclaimed item to one clinician first: a
    refill to its prescriber, a check-in to the clinician who last saw the patient. Only an
    eligible clinician, only an open item nobody has routed yet. Whoever routed it lifts the
    routing later (do_lift_routing); an SLA breach lifts it too, so nobody waits on one person.
    Returns whether the item is now routed to them."""
    if not clinician.is_active or not is_eligible(clinician, item, ignore_routing=True):
        return False
    routed = WorkItem.objects.filter(
        pk=item.pk, status=WorkItemStatus.OPEN, reassigned_to__isnull=True
    ).update(reassigned_to=clinician)
    if not routed:
        return False
    item.reassigned_to = clinician
    audit_item(
        "work_item.route", None, item, detail={"clinician_id": clinician.pk, "reason": reason}
    )
    publish_queue_event(item, "reassigned")
    return True


def do_lift_routing(item: WorkItem, *, routed_to_id: int) -> bool:
    """Open a routed item to every eligible clinician, if it is still active and still routed
    to `routed_to_id` (a coordinator's later reassignment is left alone)."""
    lifted = WorkItem.objects.filter(
        pk=item.pk, status__in=ACTIVE_STATUSES, reassigned_to_id=routed_to_id
    ).update(reassigned_to=None)
    if not lifted:
        return False
    item.reassigned_to = None
    audit_item("work_item.widen", None, item, detail={"was_routed_to": routed_to_id})
    publish_queue_event(item, "rerouted")
    return True


def do_cancel(item_id: int, reason: str) -> WorkItem:
    """The work no longer exists (e.g. the patient withdrew the case). Nothing is deleted;
    cancelling a finished item changes nothing."""
    with transaction.atomic():
        item = WorkItem.objects.select_for_update().filter(pk=item_id).first()
        result: WorkItem | Refusal = item if item is not None else _not_found()
        if item is not None and item.status in ACTIVE_STATUSES:
            now = clock.now()
            end_claim_relationships(item, item.claimed_by_id, now)
            item.status = WorkItemStatus.CANCELLED
            item.lease_expires_at = None
            item.completed_at = now
            item.save(update_fields=["status", "lease_expires_at", "completed_at"])
            audit_item("work_item.cancel", None, item, detail={"reason": reason[:500]})
            publish_queue_event(item, "cancelled")
    return _settle("work_item.cancel", None, item_id, result)


def _requeue_tx(item_id: int, due_at: dt.datetime) -> WorkItem | Refusal:
    item = WorkItem.objects.select_for_update().filter(pk=item_id).first()
    if item is None:
        return _not_found()
    if item.status == WorkItemStatus.CANCELLED:
        return Refusal(
            ActionRefused("cancelled", "A cancelled work item cannot return.", status=409), item
        )
    if (
        item.status not in ACTIVE_STATUSES
        and WorkItem.objects.filter(
            kind=item.kind,
            subject_type=item.subject_type,
            subject_id=item.subject_id,
            status__in=ACTIVE_STATUSES,
        ).exists()
    ):
        return Refusal(
            ActionRefused(
                "duplicate", "Another active work item exists for this subject.", status=409
            ),
            item,
        )
    now = clock.now()
    item.due_at = due_at
    item.sla_breached_at = None
    item.completed_at = None
    held = (
        item.status == WorkItemStatus.CLAIMED
        and item.lease_expires_at is not None
        and item.lease_expires_at > now
    )
    if not held:
        if item.status == WorkItemStatus.CLAIMED:
            end_claim_relationships(item, item.claimed_by_id, now)
        _reopen(item)
    item.save()
    audit_item("work_item.requeue", None, item, detail={"due_at": due_at.isoformat()})
    publish_queue_event(item, "requeued")
    return item


def do_requeue(item_id: int, *, due_at: dt.datetime) -> WorkItem:
    """Send an item back to the queue, e.g. when the patient answers a request for more
    information.

    SLA rule: the patient's reply starts a fresh clock. The caller passes
    due_at = time of the reply + the service line's full SLA (not what was left of the
    first one). The breach flag is cleared, so missing the new due_at is flagged and
    recorded as a new breach; priority keeps any earlier bumps. If the item is still held
    under a live lease, the holder keeps it and only the due time changes; otherwise it is
    open again for every eligible clinician (a coordinator's routing is kept). A cancelled
    item does not come back."""
    with transaction.atomic():
        result = _requeue_tx(item_id, due_at)
    return _settle("work_item.requeue", None, item_id, result)


def do_record_sla_breach(item_id: int) -> SlaBreach | None:
    """Flag one overdue item: set sla_breached_at, bump its priority, lift a coordinator's
    routing so every eligible clinician sees it, record the SlaBreach, alert every active
    coordinator (in-app, and an e-mail with no health information). Idempotent: an item
    already flagged for this due_at gives None and changes nothing."""
    from carepath.notifications.actions import enqueue_email, notify_user

    with transaction.atomic():
        now = clock.now()
        flagged = WorkItem.objects.filter(
            pk=item_id,
            status__in=ACTIVE_STATUSES,
            sla_breached_at__isnull=True,
            due_at__lte=now,
        ).update(sla_breached_at=now, priority=F("priority") + SLA_BREACH_PRIORITY_BUMP)
        if flagged != 1:
            return None
        item = WorkItem.objects.get(pk=item_id)
        actions = [f"priority raised by {SLA_BREACH_PRIORITY_BUMP}"]
        if item.status == WorkItemStatus.OPEN and item.reassigned_to_id is not None:
            item.reassigned_to = None
            item.save(update_fields=["reassigned_to"])
            actions.append("coordinator routing lifted")
        coordinators = list(User.objects.filter(role=Role.COORDINATOR, is_active=True))
        actions.append(f"{len(coordinators)} coordinator(s) alerted")
        breach = SlaBreach.objects.create(
            item=item, breached_at=now, due_at=item.due_at, action_taken="; ".join(actions)
        )
        title = f"SLA breached: work item #{item.pk}"
        body = (
            f"Work item #{item.pk} ({item.get_kind_display()}) was due at "
            f"{item.due_at:%Y-%m-%d %H:%M} UTC and is still waiting."
        )
        for coordinator in coordinators:
            notify_user(
                coordinator, kind="sla_breach", title=title, body=body, url="/staff/queue/overview/"
            )
        if coordinators:
            enqueue_email(
                [coordinator.email for coordinator in coordinators],
                f"Carepath: {title}",
                f"{body}\n\nSign in to Carepath to see the queue.",
            )
        audit_item(
            "work_item.sla_breach",
            None,
            item,
            detail={"due_at": item.due_at.isoformat(), "breach_id": breach.pk},
        )
        publish_queue_event(item, "sla_breached")
    return breach


def do_expire_lease(item_id: int) -> bool:
    """Return an item whose lease lapsed to the queue; False if it was renewed or taken in
    the meantime."""
    with transaction.atomic():
        now = clock.now()
        item = (
            WorkItem.objects.select_for_update()
            .filter(pk=item_id, status=WorkItemStatus.CLAIMED, lease_expires_at__lte=now)
            .first()
        )
        if item is None:
            return False
        holder = item.claimed_by_id
        item.save(update_fields=_reopen(item))
        end_claim_relationships(item, holder, now)
        audit_item("work_item.lease_expired", None, item, detail={"holder_id": holder})
        publish_queue_event(item, "lease_expired")
    return True
