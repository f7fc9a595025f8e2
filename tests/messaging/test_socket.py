"""ws/messages/<thread_id>/ against the real ASGI stack (origin check, session auth, router,
consumer) and a real-commit database: resume gets every missed message exactly once, in order,
then live ones with no gap and no duplicate; strangers are refused and audited."""

import datetime as dt
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core import mail

from carepath.accounts.models import Role, User
from carepath.audit.models import AuditEvent
from carepath.core import clock
from carepath.messaging import actions, consumers
from carepath.messaging.actions import do_send_message
from carepath.messaging.events import message_event, thread_group
from carepath.messaging.models import Message, Participant, Thread
from tests.messaging.helpers import (
    care_team,
    close_db,
    frames_until,
    messages_received,
    patient_thread,
    socket_for,
)
from tests.personas import make_clinic, make_clinician, make_patient, make_staff

pytestmark = pytest.mark.usefixtures("flushable_db")


def people() -> dict[str, Any]:
    make_clinic()
    alice = make_patient("alice@example.com", "TX")
    dr_tex = make_clinician("dr.tex@example.com", "1234567893", ["TX"], ["dermatology"])
    care_team(dr_tex, alice)
    return {
        "alice": alice,
        "bob": make_patient("bob@example.com", "NY"),
        "dr_tex": dr_tex,
        "dr_ny": make_clinician("dr.ny@example.com", "1245319599", ["NY"], ["primary-care"]),
        "cody": make_staff("cody@example.com", Role.COORDINATOR),
    }


async def setup_thread() -> tuple[dict[str, Any], Thread]:
    who = await database_sync_to_async(people)()
    thread = await database_sync_to_async(patient_thread)(who["alice"], "My first message")
    return who, thread


async def send(author: User, thread: Thread, body: str) -> Message:
    message: Message = await database_sync_to_async(do_send_message)(author, thread, body)
    return message


async def test_reconnect_with_last_id_receives_exactly_the_ten_missed_in_order() -> None:
    who, thread = await setup_thread()
    socket = await socket_for(who["alice"], thread.pk, after=0)
    connected, _ = await socket.connect()
    assert connected
    frames = await frames_until(socket, "resumed")
    seen = [frame["message"] for frame in frames if frame["type"] == "message"]
    assert [m["body"] for m in seen] == ["My first message"]
    last_id = seen[-1]["seq"]
    await socket.disconnect()

    for n in range(10):
        await send(who["dr_tex"], thread, f"reply {n}")

    socket = await socket_for(who["alice"], thread.pk, after=last_id)
    connected, _ = await socket.connect()
    assert connected
    frames = await frames_until(socket, "resumed")
    missed = [frame["message"] for frame in frames if frame["type"] == "message"]
    assert [m["body"] for m in missed] == [f"reply {n}" for n in range(10)]
    assert [m["seq"] for m in missed] == list(range(last_id + 1, last_id + 11))
    assert frames[-1] == {"type": "resumed", "last_seq": last_id + 10}
    # Then live, with nothing repeated.
    await send(who["dr_tex"], thread, "live one")
    live = await messages_received(socket, 1)
    assert [m["body"] for m in live] == ["live one"]
    assert live[0]["seq"] == last_id + 11
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()
    await database_sync_to_async(close_db)()


async def test_resume_frame_on_an_open_socket_replays_from_that_seq() -> None:
    who, thread = await setup_thread()
    for n in range(3):
        await send(who["dr_tex"], thread, f"m{n}")
    socket = await socket_for(who["alice"], thread.pk)  # no after: live only
    assert (await socket.connect())[0]
    hello = await socket.receive_json_from(timeout=5)
    assert hello["type"] == "hello"
    assert (hello["thread_id"], hello["last_seq"]) == (thread.pk, 4)
    assert hello["receipts"] == {str(who["alice"].pk): 1, str(who["dr_tex"].pk): 4}
    assert await socket.receive_nothing(timeout=0.2)
    await socket.send_json_to({"type": "resume", "after": 2})
    frames = await frames_until(socket, "resumed")
    assert [f["message"]["seq"] for f in frames if f["type"] == "message"] == [3, 4]
    await socket.send_json_to({"type": "resume", "after": "x"})
    assert (await socket.receive_json_from(timeout=5))["code"] == "invalid_after"
    await socket.disconnect()
    await database_sync_to_async(close_db)()


async def test_a_message_committed_during_resume_is_neither_lost_nor_duplicated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One message commits after the socket joined the group but before the backlog is read
    (it is in the backlog AND arrives as an event: sent once); another commits right after
    the backlog was read (only an event: sent once, after the backlog)."""
    who, thread = await setup_thread()
    for n in range(3):
        await send(who["dr_tex"], thread, f"offline {n}")
    real = consumers.payloads_after
    calls: list[int] = []

    def racing(thread_id: int, after: int, limit: int) -> list[dict[str, Any]]:
        first = not calls
        calls.append(after)
        if first:
            do_send_message(who["dr_tex"], thread, "during the read, before")
        result = real(thread_id, after, limit)
        if first:
            do_send_message(who["dr_tex"], thread, "during the read, after")
        return result

    monkeypatch.setattr(consumers, "payloads_after", racing)
    socket = await socket_for(who["alice"], thread.pk, after=1)
    assert (await socket.connect())[0]
    got = await messages_received(socket, 5)
    assert [m["body"] for m in got] == [
        "offline 0",
        "offline 1",
        "offline 2",
        "during the read, before",
        "during the read, after",
    ]
    assert [m["seq"] for m in got] == [2, 3, 4, 5, 6]
    rest = []
    while not await socket.receive_nothing(timeout=0.5):
        rest.append(await socket.receive_json_from())
    assert [f for f in rest if f["type"] == "message"] == []
    await socket.disconnect()
    await database_sync_to_async(close_db)()


async def test_events_out_of_order_are_gap_filled_from_the_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Across workers the channel layer may deliver N+2 before N+1: the socket fills the gap
    from the database and drops the late event."""
    who, thread = await setup_thread()
    socket = await socket_for(who["alice"], thread.pk)
    assert (await socket.connect())[0]
    await socket.receive_json_from(timeout=5)  # hello
    held: list[Message] = []
    monkeypatch.setattr(actions, "publish_message", held.append)
    first = await send(who["dr_tex"], thread, "second message")
    second = await send(who["dr_tex"], thread, "third message")
    assert held == [first, second]
    events = [await database_sync_to_async(message_event)(m) for m in (second, first)]
    layer = get_channel_layer()
    for event in events:  # the later one first
        await layer.group_send(thread_group(thread.pk), event)
    got = await messages_received(socket, 2)
    assert [(m["seq"], m["body"]) for m in got] == [(2, "second message"), (3, "third message")]
    assert await socket.receive_nothing(timeout=0.3)
    await socket.disconnect()
    await database_sync_to_async(close_db)()


async def test_a_patient_cannot_subscribe_to_another_patients_thread() -> None:
    who, thread = await setup_thread()
    socket = await socket_for(who["bob"], thread.pk, after=0)
    connected, code = await socket.connect()
    assert not connected
    assert code == 4403
    await socket.disconnect()
    denied = await database_sync_to_async(
        lambda: list(
            AuditEvent.objects.filter(
                action="message_thread.subscribe", actor_id=who["bob"].pk, outcome="denied"
            ).values_list("patient_id", "object_id")
        )
    )()
    assert denied == [(who["alice"].pk, str(thread.pk))]
    await database_sync_to_async(close_db)()


async def test_staff_without_access_or_without_mfa_are_refused() -> None:
    who, thread = await setup_thread()
    for user, mfa in [(who["dr_ny"], True), (who["cody"], True), (who["dr_tex"], False)]:
        socket = await socket_for(user, thread.pk, mfa=mfa)
        connected, code = await socket.connect()
        assert not connected, user.email
        assert code == 4403
        await socket.disconnect()
    refused = await database_sync_to_async(
        lambda: AuditEvent.objects.filter(
            action="message_thread.subscribe", outcome="denied"
        ).count()
    )()
    assert refused == 3
    # The care-team clinician with MFA is let in (and the subscription audited).
    socket = await socket_for(who["dr_tex"], thread.pk)
    assert (await socket.connect())[0]
    await socket.disconnect()
    await database_sync_to_async(close_db)()


async def test_live_delivery_read_receipts_and_no_nudge_while_present() -> None:
    who, thread = await setup_thread()
    mail.outbox.clear()
    doctor = await socket_for(who["dr_tex"], thread.pk)
    patient = await socket_for(who["alice"], thread.pk)
    assert (await doctor.connect())[0]
    assert (await patient.connect())[0]
    await doctor.receive_json_from(timeout=5)
    await patient.receive_json_from(timeout=5)
    message = await send(who["alice"], thread, "Is the cream working?")
    [live] = await messages_received(doctor, 1)
    assert live["body"] == "Is the cream working?"
    assert live["author_name"] == who["alice"].display_name
    # dr_tex has the thread open: nobody is nudged.
    assert mail.outbox == []
    # The doctor's socket reports it read; the patient's socket hears the receipt.
    await doctor.send_json_to({"type": "read", "seq": message.seq})
    frame = await patient.receive_json_from(timeout=5)
    while frame["type"] != "read":
        frame = await patient.receive_json_from(timeout=5)
    assert frame == {"type": "read", "user_id": who["dr_tex"].pk, "seq": message.seq}
    receipt = await database_sync_to_async(
        lambda: Participant.objects.get(thread=thread, user=who["dr_tex"]).last_read_seq
    )()
    assert receipt == message.seq
    # Once the doctor closes the thread, the next message nudges (e-mail without content),
    # the nudge window of the first message (sent before anyone connected) having passed.
    await doctor.disconnect()
    clock.advance(dt.timedelta(minutes=16))
    await send(who["alice"], thread, "Also my rash is spreading")
    assert [m.to for m in mail.outbox] == [[who["dr_tex"].email]]
    assert "rash" not in mail.outbox[0].body
    await patient.disconnect()
    await database_sync_to_async(close_db)()


async def test_bad_frames_get_an_error_not_a_crash() -> None:
    who, thread = await setup_thread()
    socket = await socket_for(who["alice"], thread.pk)
    assert (await socket.connect())[0]
    await socket.receive_json_from(timeout=5)
    await socket.send_to(text_data="not json")
    assert (await socket.receive_json_from(timeout=5))["code"] == "bad_frame"
    await socket.send_to(text_data="x" * 5000)
    assert (await socket.receive_json_from(timeout=5))["code"] == "bad_frame"
    await socket.send_json_to({"type": "shout"})
    assert (await socket.receive_json_from(timeout=5))["code"] == "unknown_type"
    await socket.send_json_to({"type": "ping"})
    assert (await socket.receive_json_from(timeout=5)) == {"type": "pong"}
    await socket.disconnect()
    await database_sync_to_async(close_db)()
