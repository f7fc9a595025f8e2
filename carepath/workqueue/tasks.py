"""Queue housekeeping. Both tasks are idempotent (safe to run twice, or in two workers).
check_sla_breaches keeps itself scheduled: after each run it enqueues the next tick with
run_after ~QUEUE_TICK_SECONDS later, unless one is already waiting."""

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from carepath.carepaths.tasks import deliver_due_check_ins
from carepath.core import clock
from carepath.workqueue.actions import do_expire_lease, do_record_sla_breach
from carepath.workqueue.models import ACTIVE_STATUSES, WorkItem, WorkItemStatus

logger = logging.getLogger("carepath.workqueue")


def run_sla_check() -> int:
    """Flag every overdue item not yet flagged; returns how many were flagged now."""
    overdue = list(
        WorkItem.objects.filter(
            status__in=ACTIVE_STATUSES, sla_breached_at__isnull=True, due_at__lte=clock.now()
        )
        .order_by("due_at")
        .values_list("pk", flat=True)[:1000]
    )
    return sum(1 for item_id in overdue if do_record_sla_breach(item_id) is not None)


def run_lease_expiry() -> int:
    """Give back every item whose lease lapsed; returns how many."""
    lapsed = list(
        WorkItem.objects.filter(
            status=WorkItemStatus.CLAIMED, lease_expires_at__lte=clock.now()
        ).values_list("pk", flat=True)[:1000]
    )
    return sum(1 for item_id in lapsed if do_expire_lease(item_id))


def _tick_pending() -> bool:
    """Is a future check_sla_breaches already waiting in the database backend?"""
    try:
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # pragma: no cover - the backend is a dependency
        return False
    return bool(
        DBTaskResult.objects.filter(
            status="READY", task_path=check_sla_breaches.module_path
        ).exists()
    )


def schedule_next_tick() -> bool:
    """Enqueue the next check with run_after, if the backend can defer and none is waiting
    (the immediate backend used by tests cannot defer: no self-rescheduling there)."""
    backend = check_sla_breaches.get_backend()
    if not backend.supports_defer or _tick_pending():
        return False
    # The worker compares run_after with the real time, not the clock seam.
    run_after = timezone.now() + dt.timedelta(seconds=settings.QUEUE_TICK_SECONDS)
    transaction.on_commit(lambda: check_sla_breaches.using(run_after=run_after).enqueue())
    return True


@task()
def check_sla_breaches() -> int:
    """Flag SLA breaches (also returns lapsed leases to the queue), then schedule the next
    run."""
    run_lease_expiry()
    flagged = run_sla_check()
    deliver_due_check_ins()
    if flagged:
        logger.info("sla breaches flagged", extra={"count": flagged})
    schedule_next_tick()
    return flagged


@task()
def expire_leases() -> int:
    return run_lease_expiry()
