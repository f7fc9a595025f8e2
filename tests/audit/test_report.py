import csv
import datetime as dt
import io
from collections.abc import Callable

from django.test import Client

from carepath.accounts.models import User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import AuditEvent
from carepath.core import clock

ClientFor = Callable[..., Client]


def seed_events(alice: User, bob: User) -> None:
    clock.freeze(dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC))
    do_record_audit("patient.read", actor=alice, patient_id=alice.pk, object_type="patient")
    clock.advance(dt.timedelta(days=1))
    do_record_audit("patient.read", actor=bob, patient_id=bob.pk, object_type="patient")
    do_record_audit(
        "patient.read", actor=bob, patient_id=alice.pk, outcome="denied", object_type="patient"
    )
    clock.advance(dt.timedelta(days=1))
    do_record_audit('=HYPERLINK("http://x")', actor=alice, detail={"note": "+1"})
    clock.unfreeze()


def test_report_filters_by_patient_user_action_and_time(
    client_for: ClientFor, ada: User, alice: User, bob: User
) -> None:
    seed_events(alice, bob)
    client = client_for(ada)
    by_patient = client.get(
        "/api/v1/audit/events", data={"patient_id": str(alice.pk), "action": "patient"}
    )
    assert {e["actor_id"] for e in by_patient.json()["items"]} == {alice.pk, bob.pk}
    denied = client.get("/api/v1/audit/events", data={"outcome": "denied"}).json()["items"]
    assert [(e["actor_id"], e["patient_id"]) for e in denied] == [(bob.pk, alice.pk)]
    window = client.get(
        "/api/v1/audit/events",
        {"since": "2026-11-02T00:00:00Z", "until": "2026-11-03T00:00:00Z", "actor_id": str(bob.pk)},
    )
    assert window.json()["count"] == 2
    oldest_first = client.get(
        "/api/v1/audit/events", data={"sort": "occurred_at", "action": "patient"}
    )
    times = [e["occurred_at"] for e in oldest_first.json()["items"]]
    assert times == sorted(times)


def test_report_page_and_csv_export(
    client_for: ClientFor, ada: User, alice: User, bob: User
) -> None:
    seed_events(alice, bob)
    client = client_for(ada)
    page = client.get("/staff/admin/audit/", {"patient": str(alice.pk), "sort": "-occurred_at"})
    assert page.status_code == 200
    assert b"denied" in page.content
    bad = client.get("/staff/admin/audit/", {"since": "yesterday-ish"})
    assert bad.status_code == 400
    assert b"Enter a valid date" in bad.content
    export = client.get("/staff/admin/audit/export.csv", {"actor": alice.pk})
    assert export["Content-Type"].startswith("text/csv")
    assert "attachment" in export["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))  # type: ignore[attr-defined]
    assert rows[0][:3] == ["seq", "occurred_at", "actor_id"]
    actions = [row[5] for row in rows[1:]]
    assert '\'=HYPERLINK("http://x")' in actions  # a formula cannot run in a spreadsheet
    assert AuditEvent.objects.filter(action="audit.export", actor_id=ada.pk).exists()


def test_only_admins_read_the_audit_log(client_for: ClientFor, cody: User, alice: User) -> None:
    for user in (cody, alice):
        client = client_for(user)
        assert client.get("/api/v1/audit/events").status_code == 403
        assert client.get("/staff/admin/audit/export.csv").status_code == 403


def test_verify_endpoint(client_for: ClientFor, ada: User) -> None:
    body = client_for(ada).get("/api/v1/audit/verify").json()
    assert body["intact"] is True
    assert body["events"] > 0
