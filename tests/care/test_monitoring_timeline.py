"""Remote monitoring on the timeline: readings land on the episode of the enrollment that
watches them and on the patient timeline; a blood pressure pair reads as one entry; alerts
show; entered-in-error readings stay with staff; a long history pages without gaps."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.care.models import Episode
from carepath.care.timeline import timeline_for_episode, timeline_for_patient
from carepath.core import clock
from carepath.rpm.actions import do_enroll, do_mark_reading_in_error, do_register_device
from carepath.rpm.models import Reading
from carepath.rpm.seed import seed_programs
from tests.rpm.conftest import device_client
from tests.rpm.helpers import line, post_ndjson

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 10, 15, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def cuff_client(alice: User, dr_tex: User) -> Client:
    clock.freeze(NOW)
    seed_programs()
    do_add_care_relationship(dr_tex, alice.pk)
    do_enroll(dr_tex, alice.pk, "hypertension", verbal_consent=True)
    issued = do_register_device(dr_tex, alice.pk, device_type="bp_cuff", serial="CUFF-T5")
    clock.advance(dt.timedelta(days=1))
    return device_client(issued.token)


def bp(client: Client, at: dt.datetime, systolic: float, diastolic: float) -> None:
    response = post_ndjson(
        client,
        [
            line("bp_systolic", systolic, "mm[Hg]", at),
            line("bp_diastolic", diastolic, "mm[Hg]", at),
        ],
    )
    assert response.status_code in (200, 201, 207), response.content


def test_readings_on_the_monitoring_episode_and_the_patient_timeline(
    cuff_client: Client, alice: User, dr_tex: User
) -> None:
    bp(cuff_client, NOW + dt.timedelta(hours=2), 128, 82)
    bp(cuff_client, NOW + dt.timedelta(hours=3), 186, 121)  # past the alert threshold
    episode = Episode.objects.get(patient=alice, title__startswith="Remote monitoring")
    other = Episode.objects.create(patient=alice, title="Rash")
    on_episode = timeline_for_episode(alice, episode).entries
    titles = [e.title for e in on_episode if e.kind == "rpm.reading"]
    assert titles == ["Blood pressure 186/121 mmHg", "Blood pressure 128/82 mmHg"]
    assert "rpm.enrolled" in [e.kind for e in on_episode]
    assert any(e.kind == "rpm.alert" for e in on_episode)
    assert not [e for e in timeline_for_episode(alice, other).entries if e.kind.startswith("rpm.")]
    whole = timeline_for_patient(alice, alice.pk).entries
    assert [e.title for e in whole if e.kind == "rpm.reading"] == titles
    assert {e.episode_id for e in whole if e.kind == "rpm.reading"} == {episode.pk}
    # A reading marked wrong leaves the patient's timeline; staff see it marked.
    wrong = Reading.objects.filter(patient=alice, measure="bp_systolic").order_by("effective_at")[0]
    do_mark_reading_in_error(dr_tex, wrong, "Cuff was on over a sleeve.")
    patient_titles = [e.title for e in timeline_for_patient(alice, alice.pk).entries]
    assert "Blood pressure 128/82 mmHg" not in patient_titles
    staff_titles = [e.title for e in timeline_for_patient(dr_tex, alice.pk).entries]
    assert any("entered in error" in title for title in staff_titles)


def test_long_monitoring_history_pages_without_gaps(
    cuff_client: Client, alice: User, client_for: Callable[..., Client]
) -> None:
    start = NOW + dt.timedelta(hours=1)
    lines = []
    for n in range(60):
        lines.append(line("heart_rate", 60 + n % 20, "/min", start + dt.timedelta(minutes=n)))
    assert post_ndjson(cuff_client, lines).status_code in (200, 201, 207)
    client = client_for(alice)
    url = f"/api/v1/care/patients/{alice.pk}/timeline"
    whole = client.get(url, {"limit": "200", "kind": "observations"}).json()["entries"]
    walked: list[dict[str, Any]] = []
    before = None
    for _ in range(50):
        query: dict[str, str] = {"limit": "7", "kind": "observations"}
        if before:
            query["before"] = before
        body = client.get(url, query).json()
        walked += body["entries"]
        before = body["next_before"]
        if before is None:
            break
    assert walked == whole
    assert sum(1 for e in walked if e["kind"] == "rpm.reading") == 60
