"""/api/v1/queue: the work queue. Clinicians list and claim what they may take;
coordinators see everything with its SLA status and reassign."""

from django.http import HttpRequest
from ninja import Router, Status

from carepath.accounts.models import Role, User
from carepath.accounts.permissions import check_role
from carepath.core import clock
from carepath.core.api import current_user
from carepath.core.errors import ActionRefused
from carepath.workqueue.actions import (
    do_claim,
    do_claim_next,
    do_complete,
    do_reassign,
    do_release,
    do_renew_lease,
)
from carepath.workqueue.schemas import ReassignIn, WorkItemOut, work_item_out
from carepath.workqueue.selectors import access_work_item, items_for_page

router = Router(tags=["queue"])

QUEUE_ROLES = frozenset({Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN})


def _queue_user(request: HttpRequest, action: str) -> User:
    user = current_user(request)
    check_role(user, QUEUE_ROLES, action)
    return user


@router.get(
    "",
    response=list[WorkItemOut],
    summary="My queue: items I may take by due time (coordinators: every waiting item)",
)
def list_items(request: HttpRequest) -> list[WorkItemOut]:
    user = _queue_user(request, "work_item.list")
    now = clock.now()
    return [work_item_out(item, now) for item in items_for_page(user)]


@router.post(
    "/claim-next",
    response={200: WorkItemOut, 204: None},
    summary="Claim the most urgent item I may take (204 when there is none)",
)
def claim_next(request: HttpRequest) -> Status[WorkItemOut | None]:
    user = _queue_user(request, "work_item.claim")
    item = do_claim_next(user)
    if item is None:
        return Status(204, None)
    return Status(200, work_item_out(item, clock.now()))


@router.get("/{item_id}", response=WorkItemOut, summary="One work item")
def get_item(request: HttpRequest, item_id: int) -> WorkItemOut:
    return work_item_out(access_work_item(current_user(request), item_id), clock.now())


@router.post("/{item_id}/claim", response=WorkItemOut, summary="Claim an item (a lease)")
def claim(request: HttpRequest, item_id: int) -> WorkItemOut:
    user = _queue_user(request, "work_item.claim")
    return work_item_out(do_claim(user, item_id), clock.now())


@router.post("/{item_id}/renew", response=WorkItemOut, summary="Renew my lease on an item")
def renew(request: HttpRequest, item_id: int) -> WorkItemOut:
    user = _queue_user(request, "work_item.renew")
    return work_item_out(do_renew_lease(user, item_id), clock.now())


@router.post("/{item_id}/release", response=WorkItemOut, summary="Give an item back")
def release(request: HttpRequest, item_id: int) -> WorkItemOut:
    user = _queue_user(request, "work_item.release")
    return work_item_out(do_release(user, item_id), clock.now())


@router.post("/{item_id}/complete", response=WorkItemOut, summary="Mark my item done")
def complete(request: HttpRequest, item_id: int) -> WorkItemOut:
    user = _queue_user(request, "work_item.complete")
    return work_item_out(do_complete(user, item_id), clock.now())


@router.post(
    "/{item_id}/reassign",
    response=WorkItemOut,
    summary="Route an item to one eligible clinician (coordinators)",
)
def reassign(request: HttpRequest, item_id: int, payload: ReassignIn) -> WorkItemOut:
    user = current_user(request)
    check_role(user, {Role.COORDINATOR, Role.ADMIN}, "work_item.reassign")
    if payload.clinician_id is None:
        raise ActionRefused(
            "validation_error", "Choose a clinician.", field="clinician_id", status=422
        )
    clinician = User.objects.filter(
        pk=payload.clinician_id, role=Role.CLINICIAN, is_active=True
    ).first()
    if clinician is None:
        raise ActionRefused(
            "unknown_clinician", "No active clinician with that id.", field="clinician_id"
        )
    return work_item_out(do_reassign(user, item_id, clinician), clock.now())
