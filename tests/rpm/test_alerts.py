import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.messaging.models import Message, Thread
from carepath.notifications.models import Notification
from carepath.rpm.actions import do_enroll, do_register_device, do_set_thresholds
from carepath.rpm.models import Alert, Enrollment
from carepath.workqueue.actions import do_claim, do_complete
from carepath.workqueue.models import WorkItem
from tests.rpm.conftest import NOW, device_client
from tests.rpm.helpers import line, post_ndjson, post_one

EARLIER = NOW - dt.timedelta(hours=3)


def queue_titles(client: Client) -> list[tuple[str, int]]:
    return [(row["title"], row["priority"]) for row in client.get("/api/v1/queue").json()]


def test_readings_past_thresholds_open_alerts_in_the_queue_by_severity(
    cuff_client: Client,
    alice: User,
    dr_tex: User,
    dr_ny: User,
    client_for: Any,
    django_capture_on_commit_callbacks: Any,
    enrolled_alice: Enrollment,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        body = post_ndjson(
            cuff_client,
            [
                line("bp_systolic", 124, "mm[Hg]", EARLIER),
                line("bp_systolic", 165, "mm[Hg]", EARLIER + dt.timedelta(minutes=1)),  # warning
                line("bp_diastolic", 125, "mm[Hg]", EARLIER),  # critical
                line("heart_rate", 72, "/min", EARLIER),
            ],
        ).json()
    assert {(a["measure"], a["severity"], a["opened"]) for a in body["alerts"]} == {
        ("bp_systolic", "warning", True),
        ("bp_diastolic", "critical", True),
    }
    items = {item.title: item for item in WorkItem.objects.filter(kind="rpm_alert")}
    critical = items["Monitoring alert (critical): diastolic blood pressure"]
    warning = items["Monitoring alert (warning): systolic blood pressure"]
    assert critical.priority > warning.priority
    assert critical.due_at == NOW + dt.timedelta(hours=1)
    assert warning.due_at == NOW + dt.timedelta(hours=24)
    assert critical.patient_id == alice.pk
    assert critical.required_state == "TX"
    # In the queue of a clinician licensed in Texas, most urgent first; not in New York's.
    titles = queue_titles(client_for(dr_tex))
    assert titles[0] == ("Monitoring alert (critical): diastolic blood pressure", 80)
    assert ("Monitoring alert (warning): systolic blood pressure", 20) in titles
    assert queue_titles(client_for(dr_ny)) == []
    subject = client_for(dr_tex).get(f"/api/v1/queue/{critical.pk}").json()["subject_url"]
    assert subject == f"/rpm/staff/patients/{alice.pk}/"
    # The patient is told in the app (with what to do) and nudged by e-mail (without health
    # information).
    notices = {n.title: n for n in Notification.objects.filter(user=alice, kind="rpm_alert")}
    assert set(notices) == {
        "Your blood pressure reading is very high",
        "Your blood pressure reading is high",
    }
    critical_notice = notices["Your blood pressure reading is very high"]
    assert "call 911" in critical_notice.body
    assert "chest pain" in critical_notice.body
    assert "will contact you" in critical_notice.body
    # The same words reach the monitoring episode's thread as a system message, which the
    # care team sees too; e-mail nudges (to Alice and to her care team) say nothing about
    # health.
    thread = Thread.objects.get(patient=alice, episode=enrolled_alice.episode)
    bodies = list(Message.objects.filter(thread=thread).values_list("body", flat=True))
    assert any("call 911 now" in body for body in bodies)
    assert any(alice.email in m.to for m in mail.outbox)
    for message in mail.outbox:
        text = f"{message.subject} {message.body}".lower()
        for word in ("blood", "pressure", "reading", "monitor", "high", "mm[hg]", "911"):
            assert word not in text


def test_one_open_alert_per_patient_and_measure(cuff_client: Client, alice: User) -> None:
    for n in range(3):
        post_ndjson(
            cuff_client,
            [
                line("bp_systolic", 170 + n, "mm[Hg]", EARLIER + dt.timedelta(minutes=10 * n)),
                line("bp_systolic", 165, "mm[Hg]", EARLIER + dt.timedelta(minutes=10 * n + 1)),
            ],
        )
    alert = Alert.objects.get()
    assert alert.reading_count == 6
    assert alert.status == "open"
    assert WorkItem.objects.filter(kind="rpm_alert").count() == 1
    assert Notification.objects.filter(user=alice, kind="rpm_alert").count() == 1


def test_a_critical_reading_escalates_an_open_warning(cuff_client: Client, alice: User) -> None:
    post_one(cuff_client, "bp_systolic", 165, "mm[Hg]", EARLIER)
    warning_item = WorkItem.objects.get(kind="rpm_alert")
    assert warning_item.priority == 20
    body = post_one(cuff_client, "bp_systolic", 190, "mm[Hg]", EARLIER + dt.timedelta(minutes=5))
    assert body.json()["alerts"][0]["escalated"] is True
    alert = Alert.objects.get()
    assert alert.severity == "critical"
    warning_item.refresh_from_db()
    assert warning_item.status == "cancelled"
    active = WorkItem.objects.get(kind="rpm_alert", status="open")
    assert active.priority == 80
    assert active.subject_id == str(alert.pk)
    assert alert.work_item_id == active.pk
    assert Notification.objects.filter(user=alice, kind="rpm_alert").count() == 2


def test_a_claimed_alert_stays_with_its_clinician_when_it_escalates(
    cuff_client: Client, dr_tex: User
) -> None:
    post_one(cuff_client, "bp_systolic", 165, "mm[Hg]", EARLIER)
    item = WorkItem.objects.get(kind="rpm_alert")
    do_claim(dr_tex, item.pk)
    post_one(cuff_client, "bp_systolic", 190, "mm[Hg]", EARLIER + dt.timedelta(minutes=5))
    item.refresh_from_db()
    assert item.status == "claimed"
    assert item.claimed_by_id == dr_tex.pk
    assert item.due_at == NOW + dt.timedelta(hours=1)
    assert WorkItem.objects.filter(kind="rpm_alert").count() == 1


def test_after_the_work_item_is_done_a_new_crossing_opens_a_new_alert(
    cuff_client: Client, dr_tex: User
) -> None:
    post_one(cuff_client, "bp_systolic", 165, "mm[Hg]", EARLIER)
    first = Alert.objects.get()
    assert first.work_item is not None
    do_claim(dr_tex, first.work_item.pk)
    do_complete(dr_tex, first.work_item.pk)
    post_one(cuff_client, "bp_systolic", 166, "mm[Hg]", EARLIER + dt.timedelta(hours=1))
    first.refresh_from_db()
    assert first.status == "resolved"
    second = Alert.objects.get(status="open")
    assert second.pk != first.pk
    assert WorkItem.objects.filter(kind="rpm_alert", status="open").count() == 1


def test_resolving_an_alert_closes_its_work_item(
    cuff_client: Client, alice: User, dr_tex: User, dr_ny: User, client_for: Any
) -> None:
    post_one(cuff_client, "bp_systolic", 185, "mm[Hg]", EARLIER)
    alert = Alert.objects.get()
    # Neither a clinician without access nor the patient may resolve it.
    nobody = client_for(dr_ny).post(
        f"/api/v1/rpm/alerts/{alert.pk}/resolve", {"note": "x"}, content_type="application/json"
    )
    assert nobody.status_code == 404
    patient = client_for(alice).post(
        f"/api/v1/rpm/alerts/{alert.pk}/resolve", {"note": "x"}, content_type="application/json"
    )
    assert patient.status_code == 403
    done = client_for(dr_tex).post(
        f"/api/v1/rpm/alerts/{alert.pk}/resolve",
        {"note": "Called the patient; repeat reading 138/86, no symptoms."},
        content_type="application/json",
    )
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "resolved"
    assert WorkItem.objects.get(kind="rpm_alert").status == "cancelled"
    assert AuditEvent.objects.filter(action="rpm.alert.resolve", actor_id=dr_tex.pk).exists()


def test_per_patient_thresholds_override_the_program(
    cuff_client: Client, enrolled_alice: Enrollment, dr_tex: User
) -> None:
    do_set_thresholds(dr_tex, enrolled_alice, {"bp_systolic": {"warning_high": 150}})
    post_one(cuff_client, "bp_systolic", 152, "mm[Hg]", EARLIER)
    assert Alert.objects.get().severity == "warning"
    # Removing a band (null) turns it off.
    do_set_thresholds(dr_tex, enrolled_alice, {"heart_rate": {"warning_high": None}})
    post_one(cuff_client, "heart_rate", 115, "/min", EARLIER)
    assert not Alert.objects.filter(measure="heart_rate").exists()


def test_thresholds_out_of_order_are_refused(
    enrolled_alice: Enrollment, dr_tex: User, client_for: Any
) -> None:
    response = client_for(dr_tex).put(
        f"/api/v1/rpm/enrollments/{enrolled_alice.pk}/thresholds",
        {"thresholds": {"bp_systolic": {"warning_high": 190}}},  # above critical 180
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"][0]["field"].startswith("thresholds.bp_systolic")


@pytest.fixture
def alice_scale(programs: Any, alice: User, dr_tex: User, tex_cares_for_alice: None) -> Client:
    do_enroll(dr_tex, alice.pk, "heart-failure", verbal_consent=True)
    return device_client(
        do_register_device(dr_tex, alice.pk, device_type="scale", serial="SCALE-1").token
    )


def test_heart_failure_weight_gain_alerts(alice_scale: Client) -> None:
    days = [NOW - dt.timedelta(days=d) for d in (6, 5, 4, 3, 2, 1)]
    body = post_ndjson(
        alice_scale,
        [
            line("weight", kg, "kg", at)
            for kg, at in zip([80.0, 80.1, 80.3, 80.6, 81.0, 81.2], days, strict=True)
        ],
    ).json()
    assert body["alerts"] == []  # 1.2 kg in 5 days: under 2.3 kg a week, under 0.9 a day
    body = post_one(alice_scale, "weight", 182, "[lb_av]", NOW - dt.timedelta(hours=1)).json()
    [alert] = body["alerts"]  # 82.55 kg: +1.35 kg in a day -> warning (critical is 1.4)
    assert alert["severity"] == "warning"
    reason = Alert.objects.get().reason
    assert "gain of 1.4 kg in 24 hours" in reason
