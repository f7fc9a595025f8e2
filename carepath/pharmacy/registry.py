"""Who wants to hear about dispatch status changes. The prescribing app registers a listener
for "MedicationRequest" in its AppConfig.ready:

    register_status_listener("MedicationRequest", on_dispatch_status)

and is then called as fn(order_id, status) after the transaction that changed a dispatch of
that type commits (never for a change that rolled back). Statuses are DispatchStatus values:
"queued" (only when staff re-queue a failed dispatch; creation is not a change), "sent",
"received", "filled", "failed", and "cancelled" (the order was withdrawn through
do_cancel_dispatch; final: no other status follows it). A failing listener is logged and does
not stop the others."""

import logging
from collections.abc import Callable
from functools import partial

from django.db import transaction

logger = logging.getLogger("carepath.pharmacy")

StatusListener = Callable[[str, str], None]

_listeners: dict[str, list[StatusListener]] = {}


def register_status_listener(order_type: str, fn: StatusListener) -> None:
    listeners = _listeners.setdefault(order_type, [])
    if fn not in listeners:  # ready() may run twice (tests, reloads): register once
        listeners.append(fn)


def listeners_for(order_type: str) -> list[StatusListener]:
    return list(_listeners.get(order_type, ()))


def _deliver(order_type: str, order_id: str, status: str) -> None:
    for fn in listeners_for(order_type):
        try:
            fn(order_id, status)
        except Exception:
            logger.exception(
                "dispatch status listener failed",
                extra={"order_type": order_type, "status": status},
            )


def notify_status_on_commit(order_type: str, order_id: str, status: str) -> None:
    transaction.on_commit(partial(_deliver, order_type, order_id, status))
