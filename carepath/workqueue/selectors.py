"""Reads of the work queue. A clinician sees only what they may take: licensed in the
item's state on the day (in their own time zone), specialty and language matching, and not
routed by a coordinator to someone else."""

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404

from carepath.accounts.models import ClinicianProfile, License, Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core import clock
from carepath.workqueue.models import ACTIVE_STATUSES, WorkItem, WorkItemStatus

OVERVIEW_ROLES = frozenset({Role.COORDINATOR, Role.ADMIN})


def local_day(user: User, now: dt.datetime) -> dt.date:
    try:
        zone = ZoneInfo(user.time_zone)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    return now.astimezone(zone).date()


def clinician_languages(profile: ClinicianProfile) -> list[str]:
    """A clinician with no languages recorded is taken to work in English."""
    languages = [str(code) for code in (profile.languages or []) if code]
    return languages or ["en"]


def eligibility_q(
    user: User, now: dt.datetime | None = None, *, ignore_routing: bool = False
) -> Q | None:
    """The filter of items this clinician may take, ignoring status; None: no items at all.
    ignore_routing leaves out "not routed by a coordinator to someone else"."""
    if user.role != Role.CLINICIAN or not user.is_active:
        return None
    profile = ClinicianProfile.objects.filter(user=user).first()
    if profile is None:
        return None
    today = local_day(user, now or clock.now())
    licensed_states = License.objects.filter(clinician=profile, expires_on__gte=today).values(
        "state"
    )
    condition = (
        (Q(required_state="") | Q(required_state__in=licensed_states))
        & (
            Q(required_specialty__isnull=True)
            | Q(required_specialty__in=profile.specialties.values("pk"))
        )
        & (Q(required_language="") | Q(required_language__in=clinician_languages(profile)))
        & ~Q(patient=user)
    )
    if ignore_routing:
        return condition
    return condition & (Q(reassigned_to__isnull=True) | Q(reassigned_to=user))


def takeable_q(user: User, now: dt.datetime) -> Q:
    """Open, or claimed by this user, or held by someone whose lease has lapsed."""
    return (
        Q(status=WorkItemStatus.OPEN)
        | Q(status=WorkItemStatus.CLAIMED, claimed_by=user)
        | Q(status=WorkItemStatus.CLAIMED, lease_expires_at__lte=now)
    )


def eligible_items_for(user: User) -> QuerySet[WorkItem]:
    now = clock.now()
    condition = eligibility_q(user, now)
    if condition is None:
        return WorkItem.objects.none()
    return (
        WorkItem.objects.filter(condition & takeable_q(user, now))
        .select_related("required_specialty")
        .order_by("due_at", "-priority", "pk")
    )


def is_eligible(user: User, item: WorkItem, *, ignore_routing: bool = False) -> bool:
    """May this clinician take this item (routing rules only, not its status)?"""
    condition = eligibility_q(user, ignore_routing=ignore_routing)
    return condition is not None and WorkItem.objects.filter(condition, pk=item.pk).exists()


def queue_overview() -> QuerySet[WorkItem]:
    """Every waiting item, for coordinators: breached first, then by due time."""
    return (
        WorkItem.objects.filter(status__in=ACTIVE_STATUSES)
        .select_related("claimed_by", "reassigned_to", "required_specialty")
        .order_by("due_at", "-priority", "pk")
    )


def sla_status(item: WorkItem, now: dt.datetime) -> str:
    """ "breached" once past due (or flagged), "due_soon" in the last stretch before due_at
    (the smaller of WORK_ITEM_DUE_SOON_MINUTES and a quarter of the item's window), else "ok".
    Finished items are "ok"."""
    if item.status not in ACTIVE_STATUSES:
        return "ok"
    if item.sla_breached_at is not None or now >= item.due_at:
        return "breached"
    window = max(item.due_at - item.created_at, dt.timedelta(0))
    soon = min(dt.timedelta(minutes=settings.WORK_ITEM_DUE_SOON_MINUTES), window / 4)
    return "due_soon" if item.due_at - now <= soon else "ok"


def may_see_item(user: User, item: WorkItem) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.role in OVERVIEW_ROLES:
        return True
    if item.claimed_by_id is not None and item.claimed_by_id == user.pk:
        return True
    if item.status not in ACTIVE_STATUSES:
        return False
    return eligible_items_for(user).filter(pk=item.pk).exists()


def access_work_item(user: User, item_id: int) -> WorkItem:
    item = (
        WorkItem.objects.select_related("claimed_by", "reassigned_to", "required_specialty")
        .filter(pk=item_id)
        .first()
    )
    if item is None or not may_see_item(user, item):
        do_record_audit(
            "work_item.read",
            actor=user,
            object_type="work_item",
            object_id=item_id,
            patient_id=item.patient_id if item else None,
            outcome=Outcome.DENIED,
        )
        raise Http404("No work item with that id.")
    do_record_audit(
        "work_item.read",
        actor=user,
        object_type="work_item",
        object_id=item.pk,
        patient_id=item.patient_id,
    )
    return item


def audit_listing(user: User, items: list[WorkItem]) -> None:
    """One audit event per patient whose items were shown (titles may be clinical), all in
    one transaction: a long queue costs one commit, not one per row."""
    by_patient: dict[int | None, list[int]] = defaultdict(list)
    for item in items:
        by_patient[item.patient_id].append(item.pk)
    if not by_patient:
        return
    with transaction.atomic():
        for patient_id, item_ids in by_patient.items():
            do_record_audit(
                "work_item.list",
                actor=user,
                object_type="work_item",
                object_id=item_ids[0] if len(item_ids) == 1 else "",
                patient_id=patient_id,
                detail={"item_ids": item_ids},
            )


def items_for_page(user: User) -> list[WorkItem]:
    """The list a user's queue shows: coordinators and admins see everything waiting,
    clinicians what they may take. The listing is audited per patient."""
    source = queue_overview() if user.role in OVERVIEW_ROLES else eligible_items_for(user)
    items = list(source[:200])
    audit_listing(user, items)
    return items
