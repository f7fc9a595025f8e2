from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection

from carepath.accounts.models import User
from carepath.asgi import application
from carepath.audit.models import AuditEvent
from carepath.workqueue.actions import do_claim
from tests.personas import make_clinic, make_clinician, make_patient, make_staff, signed_in_client
from tests.workqueue.helpers import make_item


def session_cookie(user: User, mfa: bool) -> str:
    return str(signed_in_client(user, mfa=mfa).cookies["sessionid"].value)


async def socket_for(user: User, *, mfa: bool = True) -> WebsocketCommunicator:
    cookie = await database_sync_to_async(session_cookie)(user, mfa)
    return WebsocketCommunicator(
        application,
        "/ws/queue/",
        headers=[(b"cookie", f"sessionid={cookie}".encode()), (b"origin", b"http://testserver")],
    )


def close_db() -> None:
    connection.close()


def people() -> dict[str, Any]:
    make_clinic()
    from carepath.accounts.models import Role

    return {
        "alice": make_patient("alice@example.com", "TX"),
        "dr_tex": make_clinician("dr.tex@example.com", "1234567893", ["TX"], ["dermatology"]),
        "cody": make_staff("cody@example.com", Role.COORDINATOR),
    }


async def test_a_patient_socket_is_closed_and_audited(flushable_db: None) -> None:
    who = await database_sync_to_async(people)()
    socket = await socket_for(who["alice"])
    connected, _code = await socket.connect()
    assert not connected
    await socket.disconnect()
    await database_sync_to_async(close_db)()
    denied = await database_sync_to_async(
        AuditEvent.objects.filter(
            action="work_item.subscribe", actor_id=who["alice"].pk, outcome="denied"
        ).exists
    )()
    assert denied


async def test_staff_without_mfa_in_session_is_refused(flushable_db: None) -> None:
    who = await database_sync_to_async(people)()
    socket = await socket_for(who["cody"], mfa=False)
    connected, _code = await socket.connect()
    assert not connected
    await socket.disconnect()
    await database_sync_to_async(close_db)()


async def test_staff_receive_a_claim_event_without_health_information(flushable_db: None) -> None:
    who = await database_sync_to_async(people)()
    item = await database_sync_to_async(make_item)(who["alice"], title="Mole on back")
    socket = await socket_for(who["cody"])
    connected, _code = await socket.connect()
    assert connected
    await database_sync_to_async(do_claim)(who["dr_tex"], item.pk)
    message = await socket.receive_json_from(timeout=5)
    assert message["type"] == "queue.event"
    event = message["event"]
    assert event["id"] == item.pk
    assert event["action"] == "claimed"
    assert event["status"] == "claimed"
    assert event["claimed_by_id"] == who["dr_tex"].pk
    assert "Mole" not in str(message)
    assert "patient" not in str(message)
    await socket.disconnect()
    await database_sync_to_async(close_db)()
