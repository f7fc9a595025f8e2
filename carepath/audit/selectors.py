import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from carepath.audit.actions import compute_hash
from carepath.audit.chain import GENESIS_HASH
from carepath.audit.models import AuditChainHead, AuditEvent


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    event_id: int | None
    reason: str


def find_chain_break(batch_size: int = 2000) -> ChainBreak | None:
    """Walk the chain in order; return the first event where it does not hold."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    last_id: int | None = None
    for event in _events_in_order(batch_size):
        if event.seq != expected_seq:
            return ChainBreak(expected_seq, event.pk, f"event seq {expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return ChainBreak(event.seq, event.pk, "prev_hash does not match the previous event")
        if compute_hash(event) != event.hash:
            return ChainBreak(event.seq, event.pk, "content does not match its hash")
        prev_hash = event.hash
        last_id = event.pk
        expected_seq += 1
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is not None and (head.seq != expected_seq - 1 or head.last_hash != prev_hash):
        return ChainBreak(expected_seq, last_id, f"events after seq {expected_seq - 1} are missing")
    return None


def _events_in_order(batch_size: int) -> Iterator[AuditEvent]:
    after = 0
    while True:
        batch = list(AuditEvent.objects.filter(seq__gt=after).order_by("seq")[:batch_size])
        if not batch:
            return
        yield from batch
        after = batch[-1].seq


SORTABLE_FIELDS = {
    "occurred_at",
    "-occurred_at",
    "action",
    "-action",
    "actor_email",
    "-actor_email",
    "patient_id",
    "-patient_id",
    "outcome",
    "-outcome",
}


def filter_audit_events(
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    actor_id: int | None = None,
    patient_id: int | None = None,
    action: str = "",
    outcome: str = "",
    sort: str = "-occurred_at",
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.all()
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    if actor_id is not None:
        events = events.filter(actor_id=actor_id)
    if patient_id is not None:
        events = events.filter(patient_id=patient_id)
    if action:
        events = events.filter(action__startswith=action)
    if outcome:
        events = events.filter(outcome=outcome)
    order = sort if sort in SORTABLE_FIELDS else "-occurred_at"
    return events.order_by(order, "-seq")
