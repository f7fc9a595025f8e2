from typing import Any

from django.core.management.base import BaseCommand, CommandError

from carepath.audit.models import AuditEvent
from carepath.audit.selectors import find_chain_break


class Command(BaseCommand):
    help = "Verify the audit log's hash chain. Exits non-zero naming the first bad event."

    def handle(self, *args: Any, **options: Any) -> None:
        broken = find_chain_break()
        if broken is not None:
            raise CommandError(
                f"audit chain broken at event seq={broken.seq} (id={broken.event_id}): "
                f"{broken.reason}"
            )
        count = AuditEvent.objects.count()
        self.stdout.write(f"audit chain intact: {count} events verified")
