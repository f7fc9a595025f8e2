"""Queue events: ids, kind, status and due_at only (never health information), published to
one channel-layer group after the transaction commits."""

import asyncio
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from carepath.workqueue.models import WorkItem

QUEUE_GROUP = "workqueue"


def queue_event(item: WorkItem, action: str) -> dict[str, Any]:
    return {
        "id": item.pk,
        "action": action,
        "kind": item.kind,
        "status": item.status,
        "due_at": item.due_at.isoformat(),
        "priority": item.priority,
        "claimed_by_id": item.claimed_by_id,
        "reassigned_to_id": item.reassigned_to_id,
        "sla_breached": item.sla_breached_at is not None,
    }


_pending: set[asyncio.Task[None]] = set()


def _send(message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(layer.group_send)(QUEUE_GROUP, message)
        return
    # Called from code running inside an event loop's thread: schedule, do not block it.
    task = loop.create_task(layer.group_send(QUEUE_GROUP, message))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def publish_queue_event(item: WorkItem, action: str) -> None:
    """Persist first, publish on commit: a rolled-back change never reaches a screen."""
    message = {"type": "queue.event", "event": queue_event(item, action)}
    transaction.on_commit(partial(_send, message))
