"""Check-in delivery. Idempotent: a check-in is sent once however often this runs, and two
workers running it at once send each one once (do_send_check_in locks and re-checks).

Run from the queue's periodic tick (carepath.workqueue.tasks.check_sla_breaches) and callable
directly (tests: clock.advance(...) then deliver_due_check_ins())."""

import logging

from django.tasks import task

from carepath.carepaths.actions import do_send_check_in
from carepath.carepaths.selectors import due_check_in_ids
from carepath.core import clock

logger = logging.getLogger("carepath.carepaths")


def deliver_due_check_ins() -> int:
    """Send every check-in that is due; returns how many were sent now."""
    sent = sum(1 for check_in_id in due_check_in_ids(clock.now()) if do_send_check_in(check_in_id))
    if sent:
        logger.info("check-ins sent", extra={"count": sent})
    return sent


@task()
def deliver_check_ins() -> int:
    return deliver_due_check_ins()
