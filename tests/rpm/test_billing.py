import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.core import clock
from carepath.rpm.actions import do_record_time
from carepath.rpm.billing import billing_for_patient, compute_periods
from carepath.rpm.models import Enrollment
from tests.rpm.conftest import NOW
from tests.rpm.helpers import line, post_ndjson

UTC = dt.UTC
pytestmark = pytest.mark.usefixtures("cuff")


def at_utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def send(client: Client, moments: list[dt.datetime], measure: str = "heart_rate") -> None:
    body = post_ndjson(client, [line(measure, 70, "/min", m) for m in moments]).json()
    assert body["accepted"] == len(moments), body


def period(patient: User, number: int) -> Any:
    return next(p for p in billing_for_patient(patient) if p.number == number)


def test_days_are_the_patients_local_days_not_utc_days(
    cuff_client: Client, alice: User, enrolled_alice: Enrollment
) -> None:
    # Alice lives in America/Chicago (CDT, UTC-5, in October). Monitoring started Oct 15.
    clock.freeze(at_utc("2026-10-25T12:00:00"))
    # Two UTC days (Oct 18, Oct 19), one local day: 18:30 and 19:30 on Oct 18.
    send(cuff_client, [at_utc("2026-10-18T23:30:00"), at_utc("2026-10-19T00:30:00")])
    assert period(alice, 1).reading_days == 1  # UTC days would say 2
    # One UTC day (Oct 17), two local days: 23:30 on Oct 16 and 00:30 on Oct 17.
    send(cuff_client, [at_utc("2026-10-17T04:30:00"), at_utc("2026-10-17T05:30:00")])
    first = period(alice, 1)
    assert first.reading_days == 3  # Oct 16, 17, 18: two more from one UTC day
    assert (first.start, first.end) == (dt.date(2026, 10, 15), dt.date(2026, 11, 13))


def test_days_and_periods_are_right_across_the_dst_change(
    cuff_client: Client, alice: User, enrolled_alice: Enrollment
) -> None:
    # 2026-11-01: America/Chicago goes from CDT (UTC-5) back to CST (UTC-6) at 02:00.
    clock.freeze(at_utc("2026-11-20T12:00:00"))
    send(
        cuff_client,
        [
            at_utc("2026-11-01T06:00:00"),  # 01:00 CDT, Nov 1
            at_utc("2026-11-02T05:30:00"),  # 23:30 CST, still Nov 1 (25-hour day)
            at_utc("2026-11-14T05:30:00"),  # 23:30 CST Nov 13: the last day of period 1
            at_utc("2026-11-14T06:30:00"),  # 00:30 CST Nov 14: the first day of period 2
        ],
    )
    first, second = period(alice, 1), period(alice, 2)
    # A fixed UTC-5 offset or UTC days would count Nov 1 twice and put 23:30 Nov 13 into
    # period 2.
    assert first.reading_days == 2  # Nov 1, Nov 13
    assert (second.start, second.reading_days) == (dt.date(2026, 11, 14), 1)
    assert second.in_progress
    assert not first.in_progress


def test_99454_needs_sixteen_local_days(
    cuff_client: Client, alice: User, enrolled_alice: Enrollment
) -> None:
    clock.freeze(at_utc("2026-11-12T12:00:00"))
    # One reading a day at 23:50 local (04:50 UTC the next day), Oct 15 .. Oct 29: 15 days.
    days = [at_utc("2026-10-16T04:50:00") + dt.timedelta(days=n) for n in range(15)]
    send(cuff_client, days)
    assert period(alice, 1).reading_days == 15
    assert not period(alice, 1).cpt_99454
    assert not period(alice, 1).cpt_99453
    send(cuff_client, [at_utc("2026-11-05T15:00:00")])
    assert period(alice, 1).reading_days == 16
    assert period(alice, 1).cpt_99454
    assert period(alice, 1).cpt_99453  # set-up: once, in the first period


def test_interactive_minutes_for_99457_and_99458(
    alice: User, dr_tex: User, enrolled_alice: Enrollment
) -> None:
    clock.freeze(NOW + dt.timedelta(days=3))

    def record(kind: str, minutes: int) -> None:
        do_record_time(dr_tex, alice.pk, kind=kind, minutes=minutes, occurred_at=clock.now())

    record("review", 30)
    record("interactive", 19)
    assert not period(alice, 1).cpt_99457
    record("interactive", 1)
    assert period(alice, 1).cpt_99457
    assert period(alice, 1).cpt_99458 == 0
    record("interactive", 25)  # 45 minutes: one further 20
    assert period(alice, 1).cpt_99458 == 1
    record("interactive", 15)  # 60 minutes
    assert period(alice, 1).cpt_99458 == 2
    assert period(alice, 1).review_minutes == 30


def test_compute_periods_is_pure_and_anchored_at_enrollment() -> None:
    anchor = dt.date(2026, 1, 31)
    periods = compute_periods(
        1,
        anchor,
        dt.date(2026, 3, 5),
        dt.date(2026, 3, 5),
        {dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 1, 30)},
        {dt.date(2026, 3, 2): {"interactive": 40}},
    )
    assert [(p.start, p.end) for p in periods] == [
        (dt.date(2026, 1, 31), dt.date(2026, 3, 1)),
        (dt.date(2026, 3, 2), dt.date(2026, 3, 31)),
    ]
    assert [p.reading_days for p in periods] == [1, 1]
    assert periods[1].cpt_99457
    assert periods[1].cpt_99458 == 1


def test_billing_report_page_and_csv(
    cuff_client: Client,
    alice: User,
    bob: User,
    dr_tex: User,
    dr_ny: User,
    faye: User,
    cody: User,
    ada: User,
    enrolled_alice: Enrollment,
    client_for: Any,
) -> None:
    alice.first_name = '=HYPERLINK("http://evil")'
    alice.save(update_fields=["first_name"])
    send(cuff_client, [NOW - dt.timedelta(hours=1)])
    for user in (dr_tex, cody, ada):
        page = client_for(user).get("/rpm/staff/billing/")
        assert page.status_code == 200
        assert "HYPERLINK" in page.content.decode()
        exported = client_for(user).get("/rpm/staff/billing.csv")
        assert exported.status_code == 200
        assert exported["Content-Disposition"].startswith("attachment")
        rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
        assert rows[0][:4] == ["patient_id", "patient", "time_zone", "period"]
        assert rows[1][1].startswith("'=HYPERLINK")
        assert rows[1][2] == "America/Chicago"
        assert rows[1][7] == "1"  # days with readings
    # A clinician without a care relationship sees no row for Alice; patients and
    # telefacilitators may not open the report at all.
    assert "HYPERLINK" not in client_for(dr_ny).get("/rpm/staff/billing/").content.decode()
    for user in (alice, faye):
        assert client_for(user).get("/rpm/staff/billing/").status_code == 403
        assert client_for(user).get("/rpm/staff/billing.csv").status_code == 403
    assert AuditEvent.objects.filter(action="rpm.billing.read", patient_id=alice.pk).exists()
    api = client_for(ada).get(f"/api/v1/rpm/patients/{alice.pk}/billing").json()
    assert api[0]["reading_days"] == 1
    assert client_for(dr_ny).get(f"/api/v1/rpm/patients/{alice.pk}/billing").status_code == 404
