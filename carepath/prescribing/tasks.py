"""Deferred prescribing work. Idempotent: safe to run twice, or in two workers."""

from django.tasks import task

from carepath.prescribing.refills import sweep_refill_routing


@task()
def widen_refill_routing() -> int:
    """Open refill requests past the prescriber's window to every eligible clinician."""
    return sweep_refill_routing()
