"""Channel-layer groups of a visit and publishing on commit (persist first, publish after).

visit.<id>.room       sockets that joined the room (admitted participants only)
visit.<id>.staff      the clinician's sockets: lobby changes
visit.participant.<id> every socket of one participant: admission, removal, relayed signals
"""

from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction


def room_group(visit_id: int) -> str:
    return f"visit.{visit_id}.room"


def staff_group(visit_id: int) -> str:
    return f"visit.{visit_id}.staff"


def participant_group(participant_id: int) -> str:
    return f"visit.participant.{participant_id}"


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def publish(group: str, message: dict[str, Any]) -> None:
    """Sent after the surrounding transaction commits; never if it rolls back."""
    transaction.on_commit(partial(_send, group, message))


def publish_lobby_changed(visit_id: int) -> None:
    publish(staff_group(visit_id), {"type": "staff.lobby"})


def publish_to_room(visit_id: int, event: dict[str, Any]) -> None:
    publish(room_group(visit_id), {"type": "room.event", "event": event})


def publish_to_participant(participant_id: int, kind: str, **fields: Any) -> None:
    publish(participant_group(participant_id), {"type": kind, **fields})
