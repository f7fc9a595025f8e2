from types import SimpleNamespace
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from carepath.accounts.mfa import has_totp, session_used_mfa
from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.workqueue.events import QUEUE_GROUP

QUEUE_SOCKET_ROLES = frozenset({Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN})


def socket_allowed(user: Any, session: Any) -> bool:
    """Queue staff whose session passed MFA; anyone else is refused (and audited)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not isinstance(user, User) or not user.is_active or user.role not in QUEUE_SOCKET_ROLES:
        do_record_audit("work_item.subscribe", actor=user, outcome=Outcome.DENIED)
        return False
    request = SimpleNamespace(session=session if session is not None else {})
    if not (has_totp(user) and session_used_mfa(request, user)):  # type: ignore[arg-type]
        do_record_audit(
            "work_item.subscribe", actor=user, outcome=Outcome.DENIED, detail={"mfa": False}
        )
        return False
    return True


class QueueConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """ws/queue/: queue events (ids, kind, status, due time; no health information) for
    clinicians and coordinators whose session passed MFA. Clients re-fetch the list."""

    async def connect(self) -> None:
        allowed = await database_sync_to_async(socket_allowed)(
            self.scope.get("user"), self.scope.get("session")
        )
        if not allowed:
            await self.close(code=4403)
            return
        self.joined = True
        await self.channel_layer.group_add(QUEUE_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "joined", False):
            await self.channel_layer.group_discard(QUEUE_GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        return  # server-to-client only

    async def queue_event(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "queue.event", "event": event["event"]})
