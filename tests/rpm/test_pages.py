import datetime as dt
import re
from typing import Any

from django.test import Client

from carepath.accounts.models import User
from carepath.core import clock
from carepath.rpm.actions import do_enroll
from carepath.rpm.models import Alert, Device, Enrollment, Program, TimeEntry
from tests.rpm.conftest import NOW
from tests.rpm.helpers import line, post_ndjson


def week_of_readings(client: Client) -> None:
    lines = []
    for day in range(7):
        at = NOW - dt.timedelta(days=day, hours=2)
        lines += [
            line("bp_systolic", 120 + day * 8, "mm[Hg]", at),
            line("bp_diastolic", 78, "mm[Hg]", at),
            line("heart_rate", 66, "/min", at),
        ]
    assert post_ndjson(client, lines).json()["accepted"] == 21


def test_the_patient_sees_their_own_charts_with_thresholds(
    cuff_client: Client, alice: User, client_for: Any
) -> None:
    week_of_readings(cuff_client)
    page = client_for(alice).get("/rpm/")
    assert page.status_code == 200
    html = page.content.decode()
    # Inline SVG drawn by us, labelled for screen readers, with a table of the same data.
    assert html.count("<svg") == 3
    assert '<title id="chart-bp_systolic-title">Systolic blood pressure' in html
    assert '<desc id="chart-bp_systolic-desc">7 readings; lowest 120, highest 168' in html
    assert "critical 180" in html
    assert "warning 160" in html
    assert "<caption>Systolic blood pressure (mmHg), last 30 days: daily summary" in html
    assert " style=" not in html
    assert not re.search(r'src="(https?:)?//', html)
    # The 168 reading crossed the warning band: the patient got a notice, shown here.
    assert "Your blood pressure reading is high" in html


def test_the_patient_accepts_the_rpm_consent_on_the_page(
    programs: list[Program],
    alice: User,
    bob: User,
    dr_tex: User,
    tex_cares_for_alice: None,
    client_for: Any,
) -> None:
    enrollment = do_enroll(dr_tex, alice.pk, "spo2")
    home = client_for(alice).get("/rpm/").content.decode()
    assert "invited you to Oxygen saturation (SpO2) monitoring" in home
    url = f"/rpm/consent/{enrollment.pk}/"
    assert client_for(bob).get(url).status_code == 404
    page = client_for(alice).get(url)
    assert "not an emergency service" in page.content.decode()
    refused = client_for(alice).post(url, {"version": "rpm-2026.1"})
    assert refused.status_code == 400
    assert "Tick the box" in refused.content.decode()
    accepted = client_for(alice).post(url, {"version": "rpm-2026.1", "accept": "on"})
    assert accepted.status_code == 302
    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    assert enrollment.consent_method == "portal"


def test_the_clinician_enrolls_registers_a_device_and_sees_the_token_once(
    programs: list[Program],
    alice: User,
    dr_tex: User,
    tex_cares_for_alice: None,
    client_for: Any,
) -> None:
    doctor = client_for(dr_tex)
    base = f"/rpm/staff/patients/{alice.pk}/"
    assert doctor.get(base).status_code == 200
    enrolled = doctor.post(base + "enroll/", {"program": "diabetes", "verbal_consent": "on"})
    assert enrolled.status_code == 302
    enrollment = Enrollment.objects.get()
    assert (enrollment.consent_method, enrollment.consent_attested_by_id) == ("verbal", dr_tex.pk)
    duplicate = doctor.post(base + "enroll/", {"program": "diabetes"})
    assert duplicate.status_code == 400
    assert "already enrolled" in duplicate.content.decode()
    shown = doctor.post(base + "devices/", {"device_type": "glucometer", "serial": "GM-5"})
    assert shown.status_code == 200
    token = re.search(r'value="(cpd_[^"]+)"', shown.content.decode())
    assert token is not None
    assert shown["Cache-Control"] == "private, no-store"
    assert token.group(1) not in doctor.get(base).content.decode()
    assert Device.objects.get().serial == "GM-5"
    blank = doctor.post(base + "devices/", {"device_type": "glucometer", "serial": ""})
    assert blank.status_code == 400


def test_thresholds_page(
    enrolled_alice: Enrollment,
    dr_tex: User,
    faye: User,
    client_for: Any,
    alice: User,
) -> None:
    url = f"/rpm/staff/enrollments/{enrolled_alice.pk}/thresholds/"
    page = client_for(dr_tex).get(url)
    assert page.status_code == 200
    data = {
        field.html_name: "" if field.initial is None else field.initial
        for field in page.context["form"]
    }
    data["bp_systolic__warning_high"] = "150"
    data["heart_rate__warning_high"] = ""
    saved = client_for(dr_tex).post(url, data)
    assert saved.status_code == 302
    enrolled_alice.refresh_from_db()
    assert enrolled_alice.thresholds == {
        "bp_systolic": {"warning_high": 150.0},
        "heart_rate": {"warning_high": None},
    }
    data["bp_systolic__warning_high"] = "200"
    wrong = client_for(dr_tex).post(url, data)
    assert wrong.status_code == 400
    assert client_for(alice).get(url).status_code == 403


def test_timer_and_minutes_on_the_clinicians_page(
    enrolled_alice: Enrollment, alice: User, dr_tex: User, client_for: Any
) -> None:
    doctor = client_for(dr_tex)
    base = f"/rpm/staff/patients/{alice.pk}/"
    assert doctor.post(base + "timer/start/", {"kind": "interactive"}).status_code == 302
    page = doctor.get(base).content.decode()
    assert "data-rpm-timer" in page
    assert doctor.post(base + "timer/start/", {"kind": "review"}).status_code == 400
    clock.advance(dt.timedelta(minutes=21, seconds=40))
    # The idle session timed out during the call; the timer kept running on the server.
    doctor = client_for(dr_tex)
    assert doctor.post("/rpm/staff/timer/stop/", {"note": "Call"}).status_code == 302
    timed = TimeEntry.objects.get()
    assert (timed.kind, timed.minutes) == ("interactive", 21)
    # Minutes typed in, with the time in the clinician's own zone (America/Chicago here).
    dr_tex.time_zone = "America/Chicago"
    dr_tex.save(update_fields=["time_zone"])
    typed = doctor.post(
        base + "time/", {"kind": "review", "minutes": "7", "occurred_at": "2026-10-15T09:30"}
    )
    assert typed.status_code == 302
    entry = TimeEntry.objects.get(kind="review")
    assert entry.occurred_at == dt.datetime(2026, 10, 15, 14, 30, tzinfo=dt.UTC)
    bad = doctor.post(
        base + "time/", {"kind": "review", "minutes": "0", "occurred_at": "2026-10-15T09:30"}
    )
    assert bad.status_code == 400
    assert "period" in doctor.get(base).context


def test_resolve_an_alert_on_the_page_and_the_list(
    cuff_client: Client, alice: User, dr_tex: User, cody: User, client_for: Any
) -> None:
    post_ndjson(cuff_client, [line("bp_systolic", 190, "mm[Hg]", NOW - dt.timedelta(hours=1))])
    listing = client_for(dr_tex).get("/rpm/staff/").content.decode()
    assert "critical · 1" in listing
    assert "Alice Patient" in listing
    alert = Alert.objects.get()
    page = client_for(dr_tex).get(f"/rpm/staff/patients/{alice.pk}/").content.decode()
    assert "Systolic blood pressure 190 mm[Hg] at or above 180 (critical)" in page
    url = f"/rpm/staff/alerts/{alert.pk}/resolve/"
    assert client_for(dr_tex).post(url, {"note": ""}).status_code == 302
    alert.refresh_from_db()
    assert alert.status == "open"
    assert client_for(dr_tex).post(url, {"note": "Called; repeat 142/88."}).status_code == 302
    alert.refresh_from_db()
    assert alert.status == "resolved"
    # Coordinators see every monitored patient in the list (they run billing).
    assert "Alice Patient" in client_for(cody).get("/rpm/staff/").content.decode()
