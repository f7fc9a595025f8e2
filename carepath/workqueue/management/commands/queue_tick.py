from typing import Any

from django.core.management.base import BaseCommand

from carepath.workqueue.tasks import run_lease_expiry, run_sla_check, schedule_next_tick


class Command(BaseCommand):
    help = (
        "Run the work queue's housekeeping once (return lapsed leases, flag SLA breaches) "
        "and make sure the next scheduled check is enqueued."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        expired = run_lease_expiry()
        flagged = run_sla_check()
        scheduled = schedule_next_tick()
        self.stdout.write(
            f"leases returned: {expired}; SLA breaches flagged: {flagged}; "
            f"next check scheduled: {'yes' if scheduled else 'already pending or not deferrable'}"
        )
