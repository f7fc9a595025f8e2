"""Delivery of dispatches. `deliver_dispatch` does one attempt; it is idempotent (a dispatch
already sent, not yet due, or leased by another worker is skipped: see do_claim_delivery), so
running it twice, or in two workers, never delivers twice from our side.

Retries: after a transient failure the next attempt is enqueued with run_after (backoff from
actions.retry_delay, at most PHARMACY_DISPATCH_MAX_ATTEMPTS attempts). Backends that cannot
defer (the test suite's immediate backend) get no self-scheduled retry; `run_due_deliveries`
(the `pharmacy_dispatch_tick` command, or a scheduler) picks up whatever is due, which also
recovers dispatches whose worker died mid-attempt once their lease lapses."""

import datetime as dt
import logging

from django.db import transaction
from django.tasks import task
from django.utils import timezone

from carepath.core import clock
from carepath.pharmacy import actions
from carepath.pharmacy.adapters import DeliveryError, adapter_for
from carepath.pharmacy.models import Dispatch

logger = logging.getLogger("carepath.pharmacy")


def run_delivery(dispatch_id: int) -> str:
    """One attempt; returns what happened: skipped, sent, retrying, failed."""
    job = actions.do_claim_delivery(dispatch_id)
    if job is None:
        return "skipped"
    try:
        detail = adapter_for(job.adapter).deliver(job)
    except DeliveryError as error:
        return _failed(job, error.message, permanent=error.permanent)
    except Exception:
        # A bug must not leave the lease held or the dispatch silently stuck.
        logger.exception("dispatch delivery crashed", extra={"dispatch_id": dispatch_id})
        return _failed(job, "Internal error while delivering; see the logs.", permanent=False)
    actions.do_record_delivered(job, detail)
    return "sent"


def _failed(job: actions.DeliveryJob, message: str, *, permanent: bool) -> str:
    outcome = actions.do_record_delivery_failure(job, message, permanent=permanent)
    if outcome is None:
        return "skipped"
    if outcome.retry_delay is not None:
        schedule_retry(job.dispatch_id, outcome.retry_delay.total_seconds())
        return "retrying"
    return "failed"


def schedule_retry(dispatch_id: int, delay_seconds: float) -> bool:
    backend = deliver_dispatch.get_backend()
    if not backend.supports_defer:
        return False
    # The worker compares run_after with the real time, not the clock seam.
    run_after = timezone.now() + dt.timedelta(seconds=delay_seconds)
    transaction.on_commit(lambda: deliver_dispatch.using(run_after=run_after).enqueue(dispatch_id))
    return True


def enqueue_delivery(dispatch_id: int) -> None:
    deliver_dispatch.enqueue(dispatch_id)


def run_due_deliveries(limit: int = 200) -> dict[str, int]:
    """Attempt every queued dispatch that is due (and not leased); returns counts by outcome."""
    now = clock.now()
    due = list(
        Dispatch.objects.filter(actions.deliverable(), next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    counts: dict[str, int] = {}
    for dispatch_id in due:
        outcome = run_delivery(dispatch_id)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@task()
def deliver_dispatch(dispatch_id: int) -> str:
    return run_delivery(dispatch_id)
