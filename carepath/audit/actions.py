import datetime as dt
from typing import Any

from django.db import transaction

from carepath.audit.chain import GENESIS_HASH, HASHED_FIELDS, event_hash
from carepath.audit.models import AuditChainHead, AuditEvent, Outcome
from carepath.core import clock
from carepath.core.metrics import AUDIT_EVENTS
from carepath.core.request_context import request_id_var, source_ip_var


def _hashable_fields(event: AuditEvent) -> dict[str, Any]:
    fields = {name: getattr(event, name) for name in HASHED_FIELDS}
    occurred_at: dt.datetime = fields["occurred_at"]
    fields["occurred_at"] = occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return fields


def compute_hash(event: AuditEvent) -> str:
    return event_hash(event.prev_hash, _hashable_fields(event))


def do_record_audit(
    action: str,
    *,
    actor: Any = None,
    object_type: str = "",
    object_id: object = "",
    patient_id: int | None = None,
    outcome: str = Outcome.ALLOWED,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Joins the caller's transaction, so a write and its audit event
    commit or roll back together."""
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(
            pk=1, defaults={"seq": 0, "last_hash": GENESIS_HASH}
        )
        is_person = actor is not None and getattr(actor, "is_authenticated", False)
        event = AuditEvent(
            seq=head.seq + 1,
            occurred_at=clock.now(),
            actor_id=actor.pk if is_person else None,
            actor_email=actor.email if is_person else "",
            actor_role=actor.role if is_person else "",
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            patient_id=patient_id,
            outcome=outcome,
            source_ip=source_ip_var.get(),
            request_id=request_id_var.get(),
            detail=detail or {},
            prev_hash=head.last_hash,
        )
        event.hash = compute_hash(event)
        event.save()
        head.seq = event.seq
        head.last_hash = event.hash
        head.save(update_fields=["seq", "last_hash"])
    AUDIT_EVENTS.labels(outcome).inc()
    return event
