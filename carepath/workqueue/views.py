"""/staff/queue/: one list ordered by due time, live patients and async work side by side,
each with its clock and SLA badge. /staff/queue/overview/: the coordinator's whole queue."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from carepath.accounts.models import Role, User
from carepath.core import clock
from carepath.core.decorators import request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.workqueue.actions import (
    do_claim,
    do_claim_next,
    do_complete,
    do_reassign,
    do_release,
)
from carepath.workqueue.models import WorkItem
from carepath.workqueue.registry import DEFAULT_URL, subject_url
from carepath.workqueue.selectors import items_for_page, sla_status

OVERVIEW_URL = "/staff/queue/overview/"


def _rows(items: list[WorkItem]) -> list[dict[str, object]]:
    now = clock.now()
    return [
        {"item": item, "sla": sla_status(item, now), "url": subject_url(item)} for item in items
    ]


@role_required(Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN)
def queue_page(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if user.role != Role.CLINICIAN:
        return HttpResponseRedirect(OVERVIEW_URL)
    return render(
        request,
        "workqueue/queue.html",
        {"rows": _rows(items_for_page(user)), "now": clock.now()},
    )


@role_required(Role.COORDINATOR, Role.ADMIN)
def overview_page(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    clinicians = User.objects.filter(role=Role.CLINICIAN, is_active=True).order_by(
        "last_name", "first_name"
    )
    return render(
        request,
        "workqueue/overview.html",
        {"rows": _rows(items_for_page(user)), "clinicians": clinicians, "now": clock.now()},
    )


def _refused(request: HttpRequest, refused: ActionRefused, back: str = DEFAULT_URL) -> HttpResponse:
    messages.error(request, refused.message)
    return HttpResponseRedirect(back)


def _item_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) < 12 else None


@role_required(Role.CLINICIAN)
@require_POST
def claim(request: HttpRequest, item_id: int) -> HttpResponse:
    try:
        item = do_claim(request_user(request), item_id)
    except ActionRefused as refused:
        return _refused(request, refused)
    return HttpResponseRedirect(subject_url(item))


@role_required(Role.CLINICIAN)
@require_POST
def claim_next(request: HttpRequest) -> HttpResponse:
    item = do_claim_next(request_user(request))
    if item is None:
        messages.info(request, "Nothing is waiting that you may take.")
        return HttpResponseRedirect(DEFAULT_URL)
    return HttpResponseRedirect(subject_url(item))


@role_required(Role.CLINICIAN)
@require_POST
def release(request: HttpRequest, item_id: int) -> HttpResponse:
    try:
        do_release(request_user(request), item_id)
    except ActionRefused as refused:
        return _refused(request, refused)
    messages.success(request, "The item is back in the queue.")
    return HttpResponseRedirect(DEFAULT_URL)


@role_required(Role.CLINICIAN)
@require_POST
def complete(request: HttpRequest, item_id: int) -> HttpResponse:
    try:
        do_complete(request_user(request), item_id)
    except ActionRefused as refused:
        return _refused(request, refused)
    messages.success(request, "Marked as done.")
    return HttpResponseRedirect(DEFAULT_URL)


@role_required(Role.COORDINATOR, Role.ADMIN)
@require_POST
def reassign(request: HttpRequest, item_id: int) -> HttpResponse:
    clinician_id = _item_id(request.POST.get("clinician_id", ""))
    clinician = (
        User.objects.filter(pk=clinician_id, role=Role.CLINICIAN, is_active=True).first()
        if clinician_id is not None
        else None
    )
    if clinician is None:
        messages.error(request, "Choose a clinician.")
        return HttpResponseRedirect(OVERVIEW_URL)
    try:
        do_reassign(request_user(request), item_id, clinician)
    except ActionRefused as refused:
        return _refused(request, refused, OVERVIEW_URL)
    messages.success(request, f"Item #{item_id} routed to {clinician.display_name}.")
    return HttpResponseRedirect(OVERVIEW_URL)
