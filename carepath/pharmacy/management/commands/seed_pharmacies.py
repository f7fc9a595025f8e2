from typing import Any

from django.core.management.base import BaseCommand

from carepath.pharmacy.seed import seed_pharmacies


class Command(BaseCommand):
    help = "Add the starter pharmacy directory (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        pharmacies = seed_pharmacies()
        self.stdout.write(f"pharmacies in the starter directory: {len(pharmacies)}")
