import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import StringConstraints

from carepath.accounts.models import Role
from carepath.accounts.permissions import check_role
from carepath.audit.actions import do_record_audit
from carepath.audit.models import AuditEvent, Outcome
from carepath.audit.selectors import filter_audit_events, find_chain_break
from carepath.core.api import current_user, only

router = Router(tags=["audit"])


class AuditEventOut(Schema):
    seq: int
    occurred_at: dt.datetime
    actor_id: int | None
    actor_email: str
    actor_role: str
    action: str
    object_type: str
    object_id: str
    patient_id: int | None
    outcome: str
    source_ip: str
    request_id: str
    detail: dict[str, Any]
    hash: str


class AuditFilter(Schema):
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor_id: int | None = None
    patient_id: int | None = None
    action: Annotated[str, StringConstraints(max_length=64)] = ""
    outcome: Outcome | None = None
    sort: Annotated[str, StringConstraints(max_length=20)] = "-occurred_at"


class ChainStatusOut(Schema):
    intact: bool
    events: int
    first_bad_seq: int | None = None
    reason: str = ""


@router.get(
    "/events",
    response=list[AuditEventOut],
    summary="The audit report (admin)",
    auth=only(Role.ADMIN),
)
@paginate(LimitOffsetPagination)
def list_events(request: HttpRequest, filters: Query[AuditFilter]) -> Any:
    admin = current_user(request)
    check_role(admin, {Role.ADMIN}, "audit.read")
    do_record_audit("audit.read", actor=admin, detail=filters.model_dump(mode="json"))
    return filter_audit_events(
        since=filters.since,
        until=filters.until,
        actor_id=filters.actor_id,
        patient_id=filters.patient_id,
        action=filters.action,
        outcome=filters.outcome or "",
        sort=filters.sort,
    )


@router.get(
    "/verify",
    response=ChainStatusOut,
    summary="Verify the hash chain (admin)",
    auth=only(Role.ADMIN),
)
def verify_chain(request: HttpRequest) -> ChainStatusOut:
    check_role(current_user(request), {Role.ADMIN}, "audit.verify")
    broken = find_chain_break()
    count = AuditEvent.objects.count()
    if broken is None:
        return ChainStatusOut(intact=True, events=count)
    return ChainStatusOut(
        intact=False, events=count, first_bad_seq=broken.seq, reason=broken.reason
    )
