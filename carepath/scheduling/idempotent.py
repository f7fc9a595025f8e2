"""Idempotency-Key for booking POSTs (API header, or the booking page's hidden key): a retry
with the same key returns the first booking, never a second one."""

from collections.abc import Callable
from typing import Any

from carepath.accounts.models import User
from carepath.core.idempotency import idempotent


def idempotent_create(
    key: str | None,
    actor: User,
    *,
    scope: str,
    payload: dict[str, Any],
    create: Callable[[], int],
) -> int:
    """Run `create` once per (actor, scope, key); return the created object's id."""

    def run() -> tuple[int, Any]:
        return 201, {"id": create()}

    _, body = idempotent(actor, key, scope, payload, run)
    return int(body["id"])
