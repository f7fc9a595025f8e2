"""ws/messages/<thread_id>/: live messages of one thread, with resume.

Who: a signed-in user (staff only after MFA) who may see the thread (access_thread); anyone
else is refused with 4403 and the refusal is audited.

Exactly once, in order, no gap (DESIGN.md "Real time"):
  1. the socket joins the thread's group BEFORE reading anything, so every message committed
     from then on also arrives as a live event;
  2. it reads the backlog (seq > after) from the database and sends it in seq order;
  3. live events are handled one at a time after that (they wait in the channel layer while
     the backlog is read; that queue is the buffer) and go through one gate: a seq already
     sent is dropped, the next seq is sent, and a seq further ahead first fills the gap from
     the database. Messages of a thread commit in seq order (actions.py), so when event N
     arrives every message < N is already readable.
A periodic sweep also compares the thread's last_seq with what was sent, so an event the
channel layer dropped (a full channel) is still delivered, and re-checks access.

Client -> server frames: {"type": "resume", "after": N}, {"type": "read", "seq": N},
{"type": "ping"}. Server -> client: hello, message, resumed, correction, read, pong, error."""

import asyncio
import contextlib
import json
import logging
import random
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from carepath.accounts.mfa import staff_mfa_satisfied
from carepath.accounts.models import User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.messaging.actions import do_mark_read
from carepath.messaging.events import message_payload, thread_group
from carepath.messaging.models import Participant, Thread
from carepath.messaging.presence import (
    PRESENCE_REFRESH_SECONDS,
    mark_absent,
    mark_present,
    refresh_presence,
)
from carepath.messaging.selectors import (
    access_thread,
    corrected_messages,
    may_see_thread,
    messages_after,
    messages_between,
    thread_last_seq,
)

logger = logging.getLogger("carepath.messaging")

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
BACKLOG_BATCH = 200
MAX_FRAME_BYTES = 4096
MAX_SEQ = 2**31 - 1

Payload = dict[str, Any]


class _SessionRequest:
    """Just enough of a request for the MFA check: the socket's session."""

    def __init__(self, session: Any) -> None:
        self.session = session


def authorize_socket(scope: dict[str, Any], thread_id: int) -> int | None:
    """The user id this socket speaks for, or None (the refusal audited)."""
    user = scope.get("user")
    if user is None or not getattr(user, "is_authenticated", False) or not isinstance(user, User):
        do_record_audit(
            "message_thread.subscribe",
            object_type="message_thread",
            object_id=thread_id,
            outcome=Outcome.DENIED,
            detail={"code": "not_authenticated"},
        )
        return None
    if user.is_staff_role and not staff_mfa_satisfied(_SessionRequest(scope.get("session")), user):  # type: ignore[arg-type]
        thread = Thread.objects.filter(pk=thread_id).only("patient_id").first()
        do_record_audit(
            "message_thread.subscribe",
            actor=user,
            object_type="message_thread",
            object_id=thread_id,
            patient_id=thread.patient_id if thread else None,
            outcome=Outcome.DENIED,
            detail={"mfa": False},
        )
        return None
    try:
        access_thread(user, thread_id, action="message_thread.subscribe")
    except Http404:
        return None
    return int(user.pk)


def joined_state(user_id: int, thread_id: int, channel_name: str) -> tuple[int, dict[str, int]]:
    """After joining the group: mark the user present; the thread's last seq and everyone's
    read receipt (a receipt published before the socket joined is not missed)."""
    refresh_presence(thread_id, user_id, channel_name)
    receipts = dict(
        Participant.objects.filter(thread_id=thread_id).values_list("user_id", "last_read_seq")
    )
    return thread_last_seq(thread_id), {str(key): int(value) for key, value in receipts.items()}


def sweep_state(user_id: int, thread_id: int, channel_name: str) -> int | None:
    """One trip to the sync thread per sweep: None when the user may no longer see the
    thread; else refresh presence and answer the thread's last seq."""
    user = User.objects.filter(pk=user_id).first()
    thread = Thread.objects.filter(pk=thread_id).first()
    if user is None or thread is None or not may_see_thread(user, thread):
        return None
    refresh_presence(thread_id, user_id, channel_name)
    return int(thread.last_seq)


def payloads_after(thread_id: int, after: int, limit: int) -> list[Payload]:
    return [message_payload(message) for message in messages_after(thread_id, after, limit)]


def payloads_between(thread_id: int, after: int, upto: int) -> list[Payload]:
    return [message_payload(message) for message in messages_between(thread_id, after, upto)]


def corrected_payloads(thread_id: int, upto: int) -> list[Payload]:
    return [message_payload(message) for message in corrected_messages(thread_id, upto)]


def mark_read(user_id: int, thread_id: int, seq: int) -> None:
    user = User.objects.filter(pk=user_id).first()
    thread = Thread.objects.filter(pk=thread_id).first()
    if user is not None and thread is not None and may_see_thread(user, thread):
        do_mark_read(user, thread, seq)


def parse_after(raw: object) -> int | None:
    """A resume point: a whole number 0..2^31-1 (a string of digits from a query string)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and raw.isdigit() and len(raw) <= 10:
        raw = int(raw)
    if isinstance(raw, int) and 0 <= raw <= MAX_SEQ:
        return raw
    return None


class ThreadConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    user_id: int | None = None
    joined = False

    async def connect(self) -> None:
        self.thread_id = int(self.scope["url_route"]["kwargs"]["thread_id"])
        self.sent_seq = 0
        self.lock = asyncio.Lock()
        self.keeper: asyncio.Task[None] | None = None
        query = parse_qs(self.scope.get("query_string", b"").decode(errors="replace"))
        raw_after = (query.get("after") or [None])[0]
        after = parse_after(raw_after) if raw_after is not None else None
        user_id = await database_sync_to_async(authorize_socket)(self.scope, self.thread_id)
        if user_id is None:
            user = self.scope.get("user")
            signed_in = user is not None and getattr(user, "is_authenticated", False)
            await self.close(code=CLOSE_FORBIDDEN if signed_in else CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user_id
        self.group = thread_group(self.thread_id)
        # 1. Join first: from here on every committed message also arrives as an event.
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.joined = True
        await self.accept()
        self.keeper = asyncio.create_task(self._keep_alive())
        async with self.lock:
            last, receipts = await database_sync_to_async(joined_state)(
                user_id, self.thread_id, self.channel_name
            )
            await self.send_json(
                {
                    "type": "hello",
                    "thread_id": self.thread_id,
                    "last_seq": last,
                    "receipts": receipts,
                }
            )
            if raw_after is not None and after is None:
                await self._error("invalid_after", "after must be a whole number.")
            if after is None:
                self.sent_seq = last  # live only; the page rendered what came before
            else:
                await self._resume(after)

    async def disconnect(self, code: int) -> None:
        if self.keeper is not None:
            self.keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.keeper
        if self.joined:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.joined = False
        if self.user_id is not None:
            with contextlib.suppress(Exception):
                await mark_absent(self.thread_id, self.user_id, self.channel_name)

    # --- Client frames -------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None or len(text_data) > MAX_FRAME_BYTES:
            await self._error("bad_frame", "Send JSON text frames of at most 4 KB.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self._error("bad_frame", "That was not JSON.")
            return
        if not isinstance(content, dict):
            await self._error("bad_frame", "Send a JSON object.")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type")
        if kind == "ping":
            if self.user_id is not None:
                await mark_present(self.thread_id, self.user_id, self.channel_name)
            await self.send_json({"type": "pong"})
        elif kind == "resume":
            after = parse_after(content.get("after"))
            if after is None:
                await self._error("invalid_after", "after must be a whole number.")
                return
            async with self.lock:
                await self._resume(after)
        elif kind == "read":
            seq = parse_after(content.get("seq"))
            if seq is None or self.user_id is None:
                await self._error("invalid_seq", "seq must be a whole number.")
                return
            await database_sync_to_async(mark_read)(self.user_id, self.thread_id, seq)
        else:
            await self._error("unknown_type", "Unknown frame type.")

    # --- Group events --------------------------------------------------------------------------

    async def thread_message(self, event: dict[str, Any]) -> None:
        async with self.lock:
            await self._deliver(int(event["seq"]), event["message"])

    async def thread_correction(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "correction", "message": event["message"]})

    async def thread_read(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "read", "user_id": event["user_id"], "seq": event["seq"]})

    # --- Delivery (call with the lock held) ----------------------------------------------------

    async def _send_message(self, payload: Payload) -> None:
        await self.send_json({"type": "message", "message": payload})
        self.sent_seq = int(payload["seq"])

    async def _deliver(self, seq: int, payload: Payload) -> None:
        if seq <= self.sent_seq:
            return  # already sent (from the backlog, or a duplicate event)
        if seq == self.sent_seq + 1:
            await self._send_message(payload)
            return
        await self._fill(seq)

    async def _fill(self, upto: int) -> None:
        """Send what lies between the last sent seq and `upto`, from the database."""
        for payload in await database_sync_to_async(payloads_between)(
            self.thread_id, self.sent_seq, upto
        ):
            if int(payload["seq"]) > self.sent_seq:
                await self._send_message(payload)

    async def _resume(self, after: int) -> None:
        """2. The backlog after `after`, in batches, then corrections of what the client
        already had, then a marker. Events queued meanwhile are gated by seq afterwards."""
        self.sent_seq = after
        while True:
            batch = await database_sync_to_async(payloads_after)(
                self.thread_id, self.sent_seq, BACKLOG_BATCH
            )
            for payload in batch:
                await self._send_message(payload)
            if len(batch) < BACKLOG_BATCH:
                break
        for payload in await database_sync_to_async(corrected_payloads)(self.thread_id, after):
            await self.send_json({"type": "correction", "message": payload})
        await self.send_json({"type": "resumed", "last_seq": self.sent_seq})

    async def _error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    # --- Presence and the safety sweep ---------------------------------------------------------

    async def _keep_alive(self) -> None:
        # Spread the sweeps of sockets that connected together over the refresh period.
        await asyncio.sleep(PRESENCE_REFRESH_SECONDS * (0.5 + random.random() / 2))
        while True:
            try:
                await self._sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("message socket sweep failed")
            await asyncio.sleep(PRESENCE_REFRESH_SECONDS)

    async def _sweep(self) -> None:
        if self.user_id is None:
            return
        last = await database_sync_to_async(sweep_state)(
            self.user_id, self.thread_id, self.channel_name
        )
        if last is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        if last > self.sent_seq:
            async with self.lock:
                await self._fill(last)
