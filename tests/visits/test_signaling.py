"""The signaling consumer over channels.testing.WebsocketCommunicator: who may connect, that an
unadmitted participant receives nothing, malformed messages, the rate limit, and what is saved
on the encounter (chat, modality changes, vitals)."""

import asyncio
import concurrent.futures
import functools
import json
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import Client, override_settings

from carepath.accounts.models import User
from carepath.asgi import application
from carepath.audit.models import AuditEvent
from carepath.visits import actions
from carepath.visits.models import (
    ChatMessage,
    Observation,
    Participant,
    Visit,
    VisitEvent,
    VisitEventKind,
)
from tests.personas import signed_in_client

pytestmark = pytest.mark.usefixtures("flushable_db")


def _cookie(user: User) -> str:
    return str(signed_in_client(user).cookies["sessionid"].value)


async def open_socket(
    visit: Visit, *, user: User | None = None, cookie: str = "", query: str = ""
) -> WebsocketCommunicator:
    if user is not None:
        cookie = await database_sync_to_async(_cookie)(user)
    headers = [(b"origin", b"http://testserver")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    path = f"/ws/visits/{visit.pk}/" + (f"?{query}" if query else "")
    return WebsocketCommunicator(application, path, headers=headers)


async def connected(visit: Visit, **kwargs: Any) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    socket = await open_socket(visit, **kwargs)
    ok, _ = await socket.connect()
    assert ok
    hello = await socket.receive_json_from()
    assert hello["type"] == "hello", hello
    return socket, hello


async def next_of(socket: WebsocketCommunicator, kind: str, timeout: float = 2) -> dict[str, Any]:
    """The next message of `kind`, skipping others (lobby updates arrive in between)."""
    for _ in range(20):
        message = await socket.receive_json_from(timeout=timeout)
        if message["type"] == kind:
            return dict(message)
    raise AssertionError(f"no {kind} message")


async def join(socket: WebsocketCommunicator, session: str = "s1") -> dict[str, Any]:
    await socket.send_json_to({"type": "join", "session": session})
    return await next_of(socket, "joined")


def db(fn: Any) -> Any:
    return database_sync_to_async(fn)


def _close_db() -> None:
    connection.close()


def own_loop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop in its own thread. Playwright's sync API (the
    browser tests of the same session) keeps a loop running in the main thread, where
    pytest-asyncio could not start one."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        async def body() -> None:
            # A fresh channel layer per loop: a Redis layer keeps locks and connections bound
            # to the loop that made them.
            channel_layers.backends.clear()
            try:
                await test(*args, **kwargs)
            finally:
                await db(_close_db)()
                layer = get_channel_layer()
                close_pools = getattr(layer, "close_pools", None)
                if close_pools is not None:
                    await close_pools()
                channel_layers.backends.clear()

        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, body()).result()

    return run


@own_loop
async def test_unadmitted_patient_gets_nothing_until_admitted(
    visit: Visit, alice: User, dr_tex: User
) -> None:
    doctor, hello = await connected(visit, user=dr_tex)
    assert hello["admitted"] is True
    doctor_id = hello["participant"]["id"]
    joined = await join(doctor, "doc")
    assert joined["peers"] == []

    patient, hello = await connected(visit, user=alice)
    assert hello["admitted"] is False
    patient_id = hello["participant"]["id"]
    await patient.send_json_to({"type": "join", "session": "pat"})
    assert (await patient.receive_json_from())["type"] == "waiting"

    # The clinician cannot send the waiting patient an offer, and the patient cannot signal.
    offer = {"type": "offer", "to": patient_id, "sdp": {"type": "offer", "sdp": "v=0"}}
    await doctor.send_json_to(offer)
    assert (await next_of(doctor, "error"))["code"] == "unknown_peer"
    await patient.send_json_to({"type": "chat", "text": "let me in"})
    assert (await patient.receive_json_from())["code"] == "not_in_room"
    assert await patient.receive_nothing(timeout=0.3)

    # Admitted: the waiting socket joins by itself; offers flow both ways.
    await db(actions.do_admit)(dr_tex, visit.pk, patient_id)
    assert (await patient.receive_json_from())["type"] == "admitted"
    joined = await next_of(patient, "joined")
    assert [peer["id"] for peer in joined["peers"]] == [doctor_id]
    assert (await next_of(doctor, "peer-joined"))["peer"]["id"] == patient_id
    await doctor.send_json_to(offer)
    relayed = await next_of(patient, "offer")
    assert (relayed["from"], relayed["sdp"]["sdp"]) == (doctor_id, "v=0")
    assert "to" not in relayed
    await patient.disconnect()
    assert (await next_of(doctor, "peer-left"))["peer"] == patient_id
    await doctor.disconnect()


@own_loop
async def test_another_patient_cannot_connect_and_is_audited(visit: Visit, bob: User) -> None:
    socket = await open_socket(visit, user=bob)
    ok, _ = await socket.connect()
    assert ok  # accepted only to say why, then closed
    error = await socket.receive_json_from()
    assert error == {
        "type": "error",
        "code": "forbidden",
        "message": "You are not a participant of this visit.",
    }
    assert (await socket.receive_output())["code"] == 4403
    denied = await db(
        AuditEvent.objects.filter(
            action="visit.signal_connect", actor_id=bob.pk, outcome="denied"
        ).first
    )()
    assert denied is not None
    assert denied.patient_id == visit.patient_id


@own_loop
async def test_anonymous_and_other_clinician_are_refused(visit: Visit, dr_ny: User) -> None:
    for user in (None, dr_ny):
        socket = await open_socket(visit, user=user)
        await socket.connect()
        assert (await socket.receive_json_from())["code"] == "forbidden"
        assert (await socket.receive_output())["code"] == 4403


@own_loop
async def test_malformed_messages_are_rejected_and_not_relayed(
    visit: Visit, alice: User, dr_tex: User
) -> None:
    doctor, _ = await connected(visit, user=dr_tex)
    await join(doctor)
    bad = [
        "not json",
        "[1, 2]",
        json.dumps({"type": "launch"}),
        json.dumps({"type": "chat", "text": "hi", "extra": 1}),
        json.dumps({"type": "offer", "to": "everyone", "sdp": {"type": "offer", "sdp": "x"}}),
        json.dumps({"type": "ice", "to": 5, "candidate": {"candidate": 1}}),
        json.dumps({"type": "mode", "mode": "hologram"}),
        json.dumps({"type": "vitals", "values": {"heart_rate": 900}}),
        json.dumps({"type": "chat", "text": "x" * 70_000}),
    ]
    for text in bad:
        await doctor.send_to(text_data=text)
        reply = await next_of(doctor, "error")
        assert reply["code"] == "malformed", (text[:40], reply)
    await doctor.send_to(bytes_data=b"\x00\x01")
    assert (await next_of(doctor, "error"))["code"] == "malformed"
    await doctor.send_json_to({"type": "ping", "ts": 12.5})
    assert await next_of(doctor, "pong") == {"type": "pong", "ts": 12.5}  # still open
    await doctor.disconnect()


@own_loop
@override_settings(VISIT_SIGNAL_RATE_PER_SECOND=50, VISIT_SIGNAL_BURST=100)
async def test_flooding_socket_is_closed_with_a_clear_code(visit: Visit, dr_tex: User) -> None:
    doctor, _ = await connected(visit, user=dr_tex)
    for _ in range(160):
        await doctor.send_json_to({"type": "ping"})
    codes = []
    for _ in range(200):
        output = await doctor.receive_output(timeout=2)
        if output["type"] == "websocket.close":
            codes.append(output["code"])
            break
        message = json.loads(output["text"])
        if message["type"] == "error":
            codes.append(message["code"])
    assert codes == ["rate_limited", 4429]


@own_loop
async def test_chat_mode_and_end_are_saved_on_the_encounter(
    visit: Visit, alice: User, dr_tex: User
) -> None:
    patient_row = await db(actions.do_ensure_participant)(visit, alice)
    await db(actions.do_admit)(dr_tex, visit.pk, patient_row.pk)
    doctor, _ = await connected(visit, user=dr_tex)
    await join(doctor, "doc")
    patient, _ = await connected(visit, user=alice)
    await join(patient, "pat")
    await patient.send_json_to({"type": "chat", "text": "  My rash is itchy  "})
    for socket in (doctor, patient):
        chat = await next_of(socket, "chat")
        assert (chat["text"], chat["name"]) == ("My rash is itchy", alice.display_name)
    await doctor.send_json_to({"type": "mode", "mode": "audio"})
    for socket in (doctor, patient):
        assert (await next_of(socket, "mode"))["mode"] == "audio"
    await patient.send_json_to({"type": "mode", "mode": "video"})
    assert (await next_of(doctor, "mode"))["from_mode"] == "audio"

    def saved() -> tuple[Any, ...]:
        fresh = Visit.objects.get(pk=visit.pk)
        message = ChatMessage.objects.get(visit=visit)
        changes = list(
            VisitEvent.objects.filter(visit=visit, kind=VisitEventKind.MODE_CHANGED).values_list(
                "from_mode", "to_mode", "encounter_id"
            )
        )
        return fresh.encounter_id, message.encounter_id, changes

    encounter_id, chat_encounter, changes = await db(saved)()
    assert encounter_id is not None
    assert chat_encounter == encounter_id
    assert changes == [("video", "audio", encounter_id), ("audio", "video", encounter_id)]

    ended = await db(actions.do_end_visit)(dr_tex, visit.pk)
    assert ended.status == "ended"
    assert ended.duration_seconds is not None
    assert (await next_of(patient, "ended"))["type"] == "ended"
    assert (await patient.receive_output())["code"] == 4410
    await doctor.disconnect()


@own_loop
async def test_vitals_from_the_telefacilitator_reach_the_clinician_and_are_stored(
    visit: Visit, alice: User, dr_tex: User, faye: User
) -> None:
    def setup() -> tuple[Participant, Participant]:
        patient = actions.do_ensure_participant(visit, alice)
        actions.do_admit(dr_tex, visit.pk, patient.pk)
        _link, _token = actions.do_issue_link(visit, by=dr_tex, role="telefacilitator", user=faye)
        facilitator = Participant.objects.create(
            visit=visit, user=faye, role="telefacilitator", display_name="Faye"
        )
        return patient, facilitator

    _patient_row, facilitator_row = await db(setup)()
    doctor, _ = await connected(visit, user=dr_tex)
    await join(doctor, "doc")
    facilitator, hello = await connected(visit, user=faye)
    assert hello["admitted"] is False
    await facilitator.send_json_to({"type": "vitals", "values": {"heart_rate": 72}})
    assert (await facilitator.receive_json_from())["code"] == "not_in_room"
    await db(actions.do_admit)(dr_tex, visit.pk, facilitator_row.pk)
    await join(facilitator, "fac")
    values = {
        "bp_systolic": 128,
        "bp_diastolic": 82,
        "heart_rate": 72,
        "temperature": 37.1,
        "spo2": 97,
        "weight": 70.5,
    }
    await facilitator.send_json_to(
        {"type": "vitals", "values": {"bp_systolic": 80, "bp_diastolic": 90}}
    )
    assert "above diastolic" in (await next_of(facilitator, "error"))["message"]
    await facilitator.send_json_to({"type": "vitals", "values": values})
    shown = await next_of(doctor, "vitals")
    assert {v["code"]: v["value"] for v in shown["values"]} == {
        "8480-6": 128,
        "8462-4": 82,
        "8867-4": 72,
        "8310-5": 37.1,
        "59408-5": 97,
        "29463-7": 70.5,
    }

    def stored() -> list[tuple[str, str, str, int]]:
        return [
            (o.code, str(o.value), o.unit, o.recorded_by_id)
            for o in Observation.objects.filter(visit=visit).order_by("code")
        ]

    rows = await db(stored)()
    assert ("8480-6", "128.00", "mm[Hg]", faye.pk) in rows
    assert ("8310-5", "37.10", "Cel", faye.pk) in rows
    assert len(rows) == 6
    # The patient may not enter vitals.
    patient, _ = await connected(visit, user=alice)
    await join(patient, "pat")
    await patient.send_json_to({"type": "vitals", "values": {"heart_rate": 60}})
    assert (await next_of(patient, "error"))["code"] == "forbidden"
    for socket in (doctor, facilitator, patient):
        await socket.disconnect()


@own_loop
async def test_a_third_participant_joins_only_after_admission(
    visit: Visit, alice: User, dr_tex: User
) -> None:
    def invite() -> tuple[str, int]:
        patient = actions.do_ensure_participant(visit, alice)
        actions.do_admit(dr_tex, visit.pk, patient.pk)
        client = signed_in_client(alice)
        response = client.post(
            f"/api/v1/visits/{visit.pk}/invites",
            {"role": "interpreter", "name": "Ana"},
            content_type="application/json",
        )
        guest = Client()
        guest.post(response.json()["url"], {"name": "Ana (interpreter)"})
        participant = Participant.objects.get(visit=visit, role="interpreter")
        return str(guest.cookies["sessionid"].value), participant.pk

    cookie, guest_id = await db(invite)()
    doctor, _ = await connected(visit, user=dr_tex)
    lobby = await next_of(doctor, "lobby")
    assert any(p["id"] == guest_id and p["state"] == "waiting" for p in lobby["participants"])
    await join(doctor, "doc")
    patient, _ = await connected(visit, user=alice)
    await join(patient, "pat")
    guest, hello = await connected(visit, cookie=cookie)
    assert hello["participant"] == {
        "id": guest_id,
        "role": "interpreter",
        "name": "Ana (interpreter)",
    }
    await guest.send_json_to({"type": "join", "session": "g"})
    assert (await guest.receive_json_from())["type"] == "waiting"
    await patient.send_json_to({"type": "chat", "text": "hello doctor"})
    await next_of(doctor, "chat")
    assert await guest.receive_nothing(timeout=0.3)  # no chat, no peers while waiting
    await db(actions.do_admit)(dr_tex, visit.pk, guest_id)
    joined = await next_of(guest, "joined")
    assert len(joined["peers"]) == 2
    for socket in (doctor, patient):
        assert (await next_of(socket, "peer-joined"))["peer"]["id"] == guest_id
    for socket in (doctor, patient, guest):
        await socket.disconnect()


@own_loop
async def test_a_reconnect_replaces_the_old_socket(visit: Visit, dr_tex: User) -> None:
    first, _ = await connected(visit, user=dr_tex)
    await join(first, "page")
    second, _ = await connected(visit, user=dr_tex)
    joined = await join(second, "page")
    assert joined["rejoin"] is True
    assert (await next_of(first, "replaced"))["type"] == "replaced"
    assert (await first.receive_output())["code"] == 4409
    await second.disconnect()


@own_loop
async def test_patient_link_token_authenticates_the_socket(
    visit: Visit, alice: User, dr_tex: User
) -> None:
    _link, token = await db(actions.do_issue_link)(visit, by=dr_tex, role="patient", user=alice)
    socket, hello = await connected(visit, query=f"link={token}")
    assert hello["participant"]["role"] == "patient"
    await socket.disconnect()
    tampered = await open_socket(visit, query=f"link={token[:-2]}xx")
    await tampered.connect()
    assert (await tampered.receive_json_from())["code"] == "forbidden"
