"""Signaling for one visit at ws/visits/<id>/ (see carepath.visits.protocol).

Who: a signed-in patient or clinician of the visit (staff only after MFA), someone bound to
the visit in this browser session by a link, or `?link=<token>` for a link bound to an account.
Anyone else is refused (4403) and the refusal audited.
What: until the clinician admits a participant, its sockets are in no room group, receive no
offers, answers, candidates or chat, and may send nothing but "join"/"ping" (a join waits).
Every socket has a token bucket (4429 when exceeded); malformed messages are answered with an
error and never relayed. Offers/answers/candidates go to one peer of the same room only."""

import json
import logging
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import InMemoryChannelLayer
from django.conf import settings

from carepath.accounts.mfa import staff_mfa_satisfied
from carepath.accounts.models import User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core.errors import ActionRefused
from carepath.visits import actions
from carepath.visits.events import participant_group, room_group, staff_group
from carepath.visits.models import AdmissionState, Participant, ParticipantRole, Visit
from carepath.visits.protocol import RELAYED_TYPES, Malformed, TokenBucket, parse_message
from carepath.visits.selectors import entitled_role, find_participant, is_room_peer, lobby_of

logger = logging.getLogger("carepath.visits")

# Sockets of this process by participant id. With the in-memory channel layer (the embedded
# default: one process) every socket is here, so a relayed offer/answer/candidate is handed to
# the target consumer directly instead of through the layer, whose send/receive scan every
# channel and group (O(sockets) per message). Any other layer (Redis, N workers) is used as is.
_local_sockets: dict[int, set["VisitSignalConsumer"]] = defaultdict(set)

CLOSE_FORBIDDEN = 4403
CLOSE_RATE_LIMITED = 4429
CLOSE_REPLACED = 4409
CLOSE_ENDED = 4410


class _SessionRequest:
    """Just enough of a request for the MFA check: the socket's session."""

    def __init__(self, session: Any) -> None:
        self.session = session


def _signed_in_user(scope: dict[str, Any]) -> User | None:
    user = scope.get("user")
    if user is None or not user.is_authenticated or not isinstance(user, User):
        return None
    if not user.is_active:
        return None
    if user.is_staff_role and not staff_mfa_satisfied(_SessionRequest(scope.get("session")), user):  # type: ignore[arg-type]
        return None
    return user


def authenticate_socket(
    visit_id: int, scope: dict[str, Any], link_token: str
) -> Participant | None:
    """The participant this socket speaks for, or None (the refusal is audited)."""
    user = _signed_in_user(scope)
    participant: Participant | None = None
    try:
        if link_token:
            # do_open_link audits its own refusals; a guest link is no good here (guests use
            # the browser session that gave their name).
            participant = actions.do_open_link(
                visit_id, link_token, user=user, bound_participant=None, staff_mfa_ok=True
            ).participant
        else:
            participant = find_participant(visit_id, user, scope.get("session"))
            if participant is None and user is not None:
                visit = Visit.objects.filter(pk=visit_id).first()
                if visit is not None and entitled_role(user, visit) is not None:
                    participant = actions.do_ensure_participant(visit, user)
    except actions.LinkRefused:
        return None
    except ActionRefused as refused:
        _deny(visit_id, user, refused.code)
        return None
    code = ""
    if participant is None:
        code = "guest_needs_session" if link_token else "not_participant"
    elif participant.state == AdmissionState.REMOVED:
        code = "removed"
    elif not participant.visit.is_live:
        code = "visit_over"
    if code:
        _deny(visit_id, user, code)
        return None
    return participant


def _deny(visit_id: int, user: User | None, code: str) -> None:
    visit = Visit.objects.filter(pk=visit_id).only("pk", "patient_id").first()
    do_record_audit(
        "visit.signal_connect",
        actor=user,
        object_type="visit",
        object_id=visit_id,
        patient_id=visit.patient_id if visit else None,
        outcome=Outcome.DENIED,
        detail={"code": code},
    )


def _admission_state(participant_id: int) -> str:
    return str(
        Participant.objects.filter(pk=participant_id).values_list("state", flat=True).first() or ""
    )


class VisitSignalConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    participant_id: int | None = None

    async def connect(self) -> None:
        self.visit_id = int(self.scope["url_route"]["kwargs"]["visit_id"])
        self.bucket = TokenBucket(
            settings.VISIT_SIGNAL_RATE_PER_SECOND, settings.VISIT_SIGNAL_BURST
        )
        self.joined = False
        self.admitted = False
        self.closing = False
        self.wants_join: str | None = None
        self.peers: set[int] = set()
        self.my_groups: list[str] = []
        query = parse_qs(self.scope.get("query_string", b"").decode(errors="replace"))
        link_token = (query.get("link") or [""])[0]
        participant = await database_sync_to_async(authenticate_socket)(
            self.visit_id, self.scope, link_token
        )
        if participant is None:
            await self.accept()
            await self._error("forbidden", "You are not a participant of this visit.")
            await self._close(CLOSE_FORBIDDEN)
            return
        self.participant_id = participant.pk
        self.role = participant.role
        self.name = participant.display_name
        self.admitted = participant.state == AdmissionState.ADMITTED
        _local_sockets[participant.pk].add(self)
        await self._add_group(participant_group(participant.pk))
        if self.role == ParticipantRole.CLINICIAN:
            await self._add_group(staff_group(self.visit_id))
        await self.accept()
        await self._send(
            {
                "type": "hello",
                "participant": {"id": participant.pk, "role": self.role, "name": self.name},
                "admitted": self.admitted,
                "visit": {"id": self.visit_id, "status": participant.visit.status},
            }
        )
        if self.role == ParticipantRole.CLINICIAN:
            await self.staff_lobby({})

    async def disconnect(self, code: int) -> None:
        if self.participant_id is not None:
            local = _local_sockets.get(self.participant_id)
            if local is not None:
                local.discard(self)
                if not local:
                    _local_sockets.pop(self.participant_id, None)
        for group in self.my_groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.my_groups = []
        if self.joined and self.participant_id is not None:
            self.joined = False
            await database_sync_to_async(actions.do_leave_room)(
                self.participant_id, self.channel_name
            )

    # --- from the browser ----------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.participant_id is None or self.closing:
            return
        if not self.bucket.take():
            await self._error("rate_limited", "Too many messages; the connection was closed.")
            await self._close(CLOSE_RATE_LIMITED)
            return
        if text_data is None:
            await self._error("malformed", "binary messages are not accepted")
            return
        try:
            message = parse_message(text_data, settings.VISIT_SIGNAL_MAX_BYTES)
        except Malformed as malformed:
            await self._error("malformed", malformed.message)
            return
        kind = message["type"]
        if kind == "ping":
            await self._send({"type": "pong", **({"ts": message["ts"]} if "ts" in message else {})})
        elif kind == "join":
            await self._join(message["session"])
        elif not self.joined:
            await self._error("not_in_room", "Join the room first (after admission).")
        elif kind in RELAYED_TYPES:
            await self._relay(message)
        elif kind == "leave":
            await self._leave()
        else:
            await self._act(message)

    async def _join(self, session: str) -> None:
        if self.joined:
            return
        if not self.admitted:
            state = await database_sync_to_async(_admission_state)(self.participant_id)
            self.admitted = state == AdmissionState.ADMITTED
        if not self.admitted:
            self.wants_join = session
            await self._send({"type": "waiting"})
            return
        try:
            joined = await database_sync_to_async(actions.do_join_room)(
                self.participant_id, self.channel_name, session
            )
        except ActionRefused as refused:
            await self._error(refused.code, refused.message)
            return
        await self._add_group(room_group(self.visit_id))
        self.joined = True
        self.wants_join = None
        self.peers = {peer["id"] for peer in joined.peers}
        await self._send(
            {
                "type": "joined",
                "self": joined.participant,
                "peers": joined.peers,
                "mode": joined.mode,
                "rejoin": joined.rejoin,
            }
        )

    async def _leave(self) -> None:
        self.joined = False
        await self.channel_layer.group_discard(room_group(self.visit_id), self.channel_name)
        if room_group(self.visit_id) in self.my_groups:
            self.my_groups.remove(room_group(self.visit_id))
        await database_sync_to_async(actions.do_leave_room)(self.participant_id, self.channel_name)
        await self._send({"type": "left"})

    async def _relay(self, message: dict[str, Any]) -> None:
        target = message["to"]
        if target not in self.peers:
            if target == self.participant_id or not await database_sync_to_async(is_room_peer)(
                self.visit_id, target
            ):
                await self._error("unknown_peer", "That participant is not in this room.")
                return
            self.peers.add(target)
        payload = {key: value for key, value in message.items() if key != "to"}
        payload.update({"from": self.participant_id, "name": self.name, "role": self.role})
        event = {"type": "signal.relay", "visit": self.visit_id, "message": payload}
        if isinstance(self.channel_layer, InMemoryChannelLayer):
            for consumer in list(_local_sockets.get(target, ())):
                try:
                    await consumer.signal_relay(event)
                except Exception:  # the target's socket is closing: its problem, not ours
                    logger.debug("relay to a closing socket dropped", exc_info=True)
        else:
            await self.channel_layer.group_send(participant_group(target), event)

    async def _act(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        try:
            if kind == "chat":
                await database_sync_to_async(actions.do_post_chat)(
                    self.participant_id, message["text"]
                )
            elif kind == "mode":
                await database_sync_to_async(actions.do_change_mode)(
                    self.participant_id, message["mode"]
                )
            elif kind == "vitals":
                await database_sync_to_async(actions.do_record_vitals)(
                    self.participant_id, message["values"]
                )
        except ActionRefused as refused:
            await self._error(refused.code, refused.message)

    # --- from the channel layer ----------------------------------------------------------

    async def signal_relay(self, event: dict[str, Any]) -> None:
        # Only a socket that is in this visit's room ever sees an offer, answer or candidate.
        if not self.joined or event.get("visit") != self.visit_id:
            return
        sender = event["message"].get("from")
        if isinstance(sender, int):
            self.peers.add(sender)
        await self._send(event["message"])

    async def room_event(self, event: dict[str, Any]) -> None:
        if not self.joined:
            return
        payload = event["event"]
        kind = payload.get("type")
        if kind == "peer-joined":
            peer = payload["peer"]
            if peer["id"] == self.participant_id:
                if payload.get("channel") != self.channel_name:
                    await self._replaced()
                return
            self.peers.add(peer["id"])
            await self._send({"type": "peer-joined", "peer": peer})
            return
        if kind == "peer-left":
            if payload["peer"] == self.participant_id:
                return
            self.peers.discard(payload["peer"])
        await self._send(payload)

    async def participant_admitted(self, event: dict[str, Any]) -> None:
        self.admitted = True
        await self._send({"type": "admitted"})
        if self.wants_join is not None:
            await self._join(self.wants_join)

    async def participant_removed(self, event: dict[str, Any]) -> None:
        self.joined = False
        self.admitted = False
        await self._send({"type": "removed"})
        await self._close(CLOSE_FORBIDDEN)

    async def participant_ended(self, event: dict[str, Any]) -> None:
        self.joined = False
        await self._send({"type": "ended"})
        await self._close(CLOSE_ENDED)

    async def staff_lobby(self, event: dict[str, Any]) -> None:
        lobby = await database_sync_to_async(lobby_of)(self.visit_id)
        await self._send({"type": "lobby", "participants": lobby})

    # --- helpers -------------------------------------------------------------------------

    async def _replaced(self) -> None:
        """Another socket of this participant joined (a reconnect): this one steps aside."""
        self.joined = False
        await self.channel_layer.group_discard(room_group(self.visit_id), self.channel_name)
        await self._send({"type": "replaced"})
        await self._close(CLOSE_REPLACED)

    async def _add_group(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.my_groups.append(group)

    async def _send(self, payload: dict[str, Any]) -> None:
        if not self.closing:
            await self.send(text_data=json.dumps(payload, separators=(",", ":")))

    async def _error(self, code: str, message: str) -> None:
        await self._send({"type": "error", "code": code, "message": message})

    async def _close(self, code: int) -> None:
        if not self.closing:
            self.closing = True
            await self.close(code=code)
