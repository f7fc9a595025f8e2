from typing import Any

from django.core.management.base import BaseCommand

from carepath.pharmacy.tasks import run_due_deliveries


class Command(BaseCommand):
    help = (
        "Attempt every pharmacy dispatch that is due (queued, past its backoff, not leased). "
        "Safe to run at any time and in parallel with workers."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = run_due_deliveries()
        summary = ", ".join(f"{name}: {count}" for name, count in sorted(counts.items()))
        self.stdout.write(f"dispatches attempted: {summary or 'none due'}")
