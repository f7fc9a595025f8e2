"""Idempotency-Key for booking POSTs: a retry with the same key returns the first booking."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from carepath.accounts.models import User


def idempotent_create(
    request: HttpRequest,
    actor: User,
    *,
    scope: str,
    payload: dict[str, Any],
    create: Callable[[], int],
) -> int:
    """Run `create` once per (actor, scope, Idempotency-Key); return the created object's id."""
    return create()
