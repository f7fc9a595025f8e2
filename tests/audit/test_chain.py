from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from carepath.audit.actions import do_record_audit
from carepath.audit.models import AuditChainHead, AuditEvent
from carepath.audit.selectors import find_chain_break

pytestmark = pytest.mark.django_db


def record_events(count: int) -> list[AuditEvent]:
    return [do_record_audit("test.event", object_type="thing", object_id=i) for i in range(count)]


def tamper(sql: str, params: list[int | str]) -> None:
    """What an attacker with database access would do: switch the guard off, then write."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_append_only")
            cursor.execute(sql, params)
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_append_only")
        else:
            cursor.execute("DROP TRIGGER audit_no_update")
            cursor.execute("DROP TRIGGER audit_no_delete")
            cursor.execute(sql, params)


def test_chain_links_each_event_to_the_previous() -> None:
    events = record_events(3)
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    assert AuditChainHead.objects.get().last_hash == events[2].hash
    assert find_chain_break() is None


def test_audit_verify_passes_on_an_intact_chain(capsys: pytest.CaptureFixture[str]) -> None:
    record_events(5)
    call_command("audit_verify")
    assert "intact: 5 events" in capsys.readouterr().out


def test_audit_verify_names_an_edited_row() -> None:
    events = record_events(5)
    tamper("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["innocent", events[2].pk])
    with pytest.raises(CommandError, match=r"seq=3 .*content does not match"):
        call_command("audit_verify")


def test_audit_verify_names_a_deleted_row() -> None:
    events = record_events(5)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    with pytest.raises(CommandError, match=r"seq=2 .*missing"):
        call_command("audit_verify")


def test_audit_verify_notices_a_deleted_tail() -> None:
    events = record_events(4)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])
    with pytest.raises(CommandError, match="after seq 3 are missing"):
        call_command("audit_verify")


@pytest.mark.parametrize(
    "statement",
    [
        lambda pk: ("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [pk]),
        lambda pk: ("DELETE FROM audit_auditevent WHERE id = %s", [pk]),
    ],
    ids=["update", "delete"],
)
def test_database_refuses_update_and_delete(
    statement: Callable[[int], tuple[str, list[int]]],
) -> None:
    event = record_events(1)[0]
    sql, params = statement(event.pk)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


def test_events_carry_request_context(client_for: Callable[..., object], alice: object) -> None:
    from django.test import Client

    client = client_for(alice)
    assert isinstance(client, Client)
    response = client.get("/api/v1/me", HTTP_X_REQUEST_ID="req-abcdef123456")
    assert response.status_code == 200
    event = AuditEvent.objects.filter(action="patient.read").latest("seq")
    assert event.request_id == "req-abcdef123456"
    assert event.source_ip == "127.0.0.1"
    assert event.actor_role == "patient"
    assert event.patient_id == alice.pk  # type: ignore[attr-defined]
