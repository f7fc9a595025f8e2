"""Live events of a thread, published to its channel-layer group only after the transaction
that wrote them commits (persist first, publish on commit). Subscribers are sockets that
passed access_thread(), so the payload may carry the message itself."""

from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from carepath.messaging.models import Message, Participant


def thread_group(thread_id: int) -> str:
    return f"messages.thread.{thread_id}"


def author_name(message: Message) -> str:
    return message.author.display_name if message.author is not None else "Carepath"


def message_payload(message: Message) -> dict[str, Any]:
    """The one shape of a message, for the API, the socket and the page's script."""
    return {
        "id": message.pk,
        "thread_id": message.thread_id,
        "seq": message.seq,
        "author_id": message.author_id,
        "author_name": author_name(message),
        "author_role": message.author.role if message.author is not None else "system",
        "body": message.body,
        "created_at": message.created_at.isoformat(),
        "entered_in_error": message.entered_in_error_at is not None,
        "entered_in_error_reason": message.entered_in_error_reason,
        "attachments": [
            {
                "id": attachment.pk,
                "file_id": attachment.file_id,
                "name": attachment.file.original_name,
                "kind": attachment.file.kind,
                "url": f"/messages/attachments/{attachment.pk}/",
            }
            for attachment in message.attachments.all()
        ],
    }


def _send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, event)


def _on_commit(thread_id: int, event: dict[str, Any]) -> None:
    transaction.on_commit(partial(_send, thread_group(thread_id), event))


def message_event(message: Message) -> dict[str, Any]:
    return {
        "type": "thread.message",
        "thread_id": message.thread_id,
        "seq": message.seq,
        "message": message_payload(message),
    }


def publish_message(message: Message) -> None:
    _on_commit(message.thread_id, message_event(message))


def publish_correction(message: Message) -> None:
    _on_commit(
        message.thread_id,
        {
            "type": "thread.correction",
            "thread_id": message.thread_id,
            "seq": message.seq,
            "message": message_payload(message),
        },
    )


def publish_read(participant: Participant) -> None:
    _on_commit(
        participant.thread_id,
        {
            "type": "thread.read",
            "thread_id": participant.thread_id,
            "user_id": participant.user_id,
            "seq": participant.last_read_seq,
        },
    )
