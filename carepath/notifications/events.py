from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def publish_to_user(user_id: int, message: dict[str, Any]) -> None:
    """Persist first, publish on commit: a rolled-back write never reaches a screen."""
    transaction.on_commit(partial(_send, user_group(user_id), message))
