from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.asgi import application
from carepath.messaging.actions import do_start_thread
from carepath.messaging.models import Thread, ThreadKind
from tests.personas import signed_in_client


def care_team(staff: User, patient: User) -> None:
    do_add_care_relationship(staff, patient.pk)


def patient_thread(
    patient: User, body: str = "Hello care team", subject: str = "Question"
) -> Thread:
    thread, _message = do_start_thread(
        patient, kind=ThreadKind.PATIENT, patient_id=patient.pk, subject=subject, body=body
    )
    return thread


def session_cookie(user: User, mfa: bool = True) -> str:
    return str(signed_in_client(user, mfa=mfa).cookies["sessionid"].value)


async def socket_for(
    user: User, thread_id: int, *, after: int | None = None, mfa: bool = True
) -> WebsocketCommunicator:
    """A socket through the real ASGI stack (origin check, session auth, URL router)."""
    cookie = await database_sync_to_async(session_cookie)(user, mfa)
    query = f"?after={after}" if after is not None else ""
    return WebsocketCommunicator(
        application,
        f"/ws/messages/{thread_id}/{query}",
        headers=[(b"cookie", f"sessionid={cookie}".encode()), (b"origin", b"http://testserver")],
    )


async def frames_until(
    socket: WebsocketCommunicator, kind: str, *, timeout: float = 5
) -> list[dict[str, Any]]:
    """Every frame up to and including the first of type `kind`."""
    seen: list[dict[str, Any]] = []
    while True:
        frame = await socket.receive_json_from(timeout=timeout)
        seen.append(frame)
        if frame["type"] == kind:
            return seen


async def messages_received(
    socket: WebsocketCommunicator, count: int, *, timeout: float = 5
) -> list[dict[str, Any]]:
    """The next `count` message frames' payloads (other frame types are skipped)."""
    got: list[dict[str, Any]] = []
    while len(got) < count:
        frame = await socket.receive_json_from(timeout=timeout)
        if frame["type"] == "message":
            got.append(frame["message"])
    return got


def close_db() -> None:
    connection.close()
