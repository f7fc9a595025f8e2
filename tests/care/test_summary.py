"""The after-visit summary: plain language from the signed note, sections from providers,
amendments, the PDF, who may read it (audited), and "Your visit summary is ready" once."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.care import summary as summary_module
from carepath.care.actions import do_amend_note
from carepath.care.events import EpisodeEvent
from carepath.care.models import Encounter
from carepath.care.summary import build_summary, on_episode_event, plain_language
from carepath.core import clock
from carepath.notifications.models import Notification
from tests.care.conftest import Escalated

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("written", "read"),
    [
        (
            "A: Atopic dermatitis. No sx of infection.",
            "Atopic dermatitis. No symptoms of infection.",
        ),
        (
            "P: Triamcinolone 0.1% cream BID x14d",
            "Triamcinolone 0.1% cream twice a day for 14 days",
        ),
        (
            "Ibuprofen 400 mg po q6h prn pain",
            "Ibuprofen 400 mg by mouth every 6 hours as needed pain",
        ),
        (
            "Plan: cetirizine 10 mg q.d., F/u in 2 wks",
            "Cetirizine 10 mg once a day, follow-up in 2 wks",
        ),
        ("Assessment - tinea w/ secondary irritation", "Tinea with secondary irritation"),
        ("amoxicillin t.i.d. x 7 days", "Amoxicillin three times a day for 7 days"),
        # Whole words only: nothing inside other words, nothing that is not shorthand.
        (
            "Top of the forehead; Bidder's test; period",
            "Top of the forehead; Bidder's test; period",
        ),
    ],
)
def test_plain_language(written: str, read: str) -> None:
    assert plain_language(written) == [read]


def test_plain_language_keeps_paragraphs_and_drops_empty_labels() -> None:
    assert plain_language("S:\nA: Eczema\n\nP: Cream bid\nReturn prn") == [
        "Eczema",
        "Cream twice a day",
        "Return as needed",
    ]


def summary_json(client: Client, encounter_id: int) -> Any:
    return client.get(f"/api/v1/care/encounters/{encounter_id}/summary")


def test_summary_content(
    escalated: Escalated, alice: User, client_for: Callable[..., Client], monkeypatch: Any
) -> None:
    monkeypatch.setitem(
        summary_module._sections,
        "medications",
        lambda encounter: ["Triamcinolone 0.1% cream: apply twice a day for 14 days."],
    )
    monkeypatch.setitem(
        summary_module._sections,
        "follow_up",
        lambda encounter: ["We will send you a short check-in questionnaire on 16 November 2026."],
    )
    response = summary_json(client_for(alice), escalated.live_encounter.pk)
    assert response.status_code == 200
    body = response.json()
    sections = {s["key"]: s for s in body["sections"]}
    assert [s["heading"] for s in body["sections"]] == [
        "What we found",
        "Your plan",
        "Your medications",
        "Follow-up",
        "When to get urgent care",
    ]
    assert sections["found"]["paragraphs"] == ["Atopic dermatitis, mild. No symptoms of infection."]
    assert sections["plan"]["paragraphs"] == [
        "Triamcinolone 0.1% cream twice a day for 14 days.",
        "Moisturize daily. Follow-up as needed.",
    ]
    assert sections["medications"]["paragraphs"] == [
        "Triamcinolone 0.1% cream: apply twice a day for 14 days."
    ]
    assert sections["follow_up"]["paragraphs"][0].startswith("We will send you a short check-in")
    urgent = " ".join(sections["urgent"]["paragraphs"])
    assert "rash spreads fast" in urgent  # dermatology's own advice
    assert "Call 911" in urgent
    text = str(body)
    for soap in ("S:", "A:", "P:", " bid", "x14d", "prn"):
        assert soap not in text
    assert "Thinking" not in text  # the draft never reaches the summary
    assert body["visit"] == "Video visit on 2 November 2026"
    assert body["clinicians"] == [escalated.note.author.display_name]
    assert body["pdf_url"] == f"/episodes/encounters/{escalated.live_encounter.pk}/summary/pdf/"


def test_no_medications_provider_line_when_it_returns_nothing(
    escalated: Escalated, monkeypatch: Any
) -> None:
    monkeypatch.setitem(summary_module._sections, "medications", lambda encounter: [])
    monkeypatch.setitem(summary_module._sections, "follow_up", lambda encounter: 1 / 0)
    summary = build_summary(escalated.live_encounter)
    assert summary is not None
    sections = {s.key: s for s in summary.sections}
    assert sections["medications"].paragraphs == ["No new medicines were prescribed at this visit."]
    # A failing provider is left out; the summary still shows, with the default follow-up.
    assert sections["follow_up"].paragraphs == [
        "If you have questions, send your care team a message."
    ]


def test_urgent_care_default_for_other_service_lines(escalated: Escalated) -> None:
    episode = escalated.episode
    episode.service_line = None
    assert summary_module.urgent_care_lines(Encounter(episode=episode, mode="video")) == [
        *summary_module.DEFAULT_URGENT,
        summary_module.EMERGENCY_LINE,
    ]


def test_amendments_appear_as_updates(
    escalated: Escalated, alice: User, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    clock.advance(dt.timedelta(days=2))
    do_amend_note(dr_tex, escalated.note, "Stop the cream if it burns; use it bid only.")
    body = summary_json(client_for(alice), escalated.live_encounter.pk).json()
    updates = next(s for s in body["sections"] if s["key"] == "updates")
    assert updates["paragraphs"] == [
        "Updated on 4 November 2026: Stop the cream if it burns; use it twice a day only."
    ]


def test_no_summary_until_a_note_is_signed(
    escalated: Escalated, alice: User, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    # The async encounter holds only a draft.
    for user in (alice, dr_tex):
        client = client_for(user)
        assert summary_json(client, escalated.async_encounter.pk).status_code == 404
        page = client.get(f"/episodes/encounters/{escalated.async_encounter.pk}/summary/")
        assert page.status_code == 404
        assert "Thinking" not in page.content.decode()


@pytest.mark.parametrize("outsider", ["bob", "dr_ny", "faye", "ada"])
def test_outsiders_cannot_read_or_download_it(
    escalated: Escalated,
    alice: User,
    outsider: str,
    request: pytest.FixtureRequest,
    client_for: Callable[..., Client],
) -> None:
    user: User = request.getfixturevalue(outsider)
    client = client_for(user)
    encounter_id = escalated.live_encounter.pk
    for url in (
        f"/api/v1/care/encounters/{encounter_id}/summary",
        f"/episodes/encounters/{encounter_id}/summary/",
        f"/episodes/encounters/{encounter_id}/summary/pdf/",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Atopic" not in response.content
    assert (
        AuditEvent.objects.filter(
            actor_id=user.pk, object_type="encounter", outcome="denied", patient_id=alice.pk
        ).count()
        >= 3
    )


def test_page_for_patient_and_clinician(
    escalated: Escalated, alice: User, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    url = f"/episodes/encounters/{escalated.live_encounter.pk}/summary/"
    for user in (alice, dr_tex):
        page = client_for(user).get(url)
        assert page.status_code == 200
        html = page.content.decode()
        for heading in ("What we found", "Your plan", "Follow-up", "When to get urgent care"):
            assert heading in html
        assert "twice a day for 14 days" in html
        assert "call 911" in html.lower()
        assert AuditEvent.objects.filter(
            actor_id=user.pk, action="summary.read", object_id=str(escalated.live_encounter.pk)
        ).exists()


def test_pdf_download(escalated: Escalated, alice: User, client_for: Callable[..., Client]) -> None:
    encounter_id = escalated.live_encounter.pk
    response = client_for(alice).get(f"/episodes/encounters/{encounter_id}/summary/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="after-visit-summary-{encounter_id}.pdf"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF-")
    assert AuditEvent.objects.filter(
        actor_id=alice.pk, action="summary.download", patient_id=alice.pk
    ).exists()


def test_patient_is_told_once_when_the_note_is_signed(
    escalated: Escalated, alice: User, dr_tex: User, django_capture_on_commit_callbacks: Any
) -> None:
    url = f"/episodes/encounters/{escalated.live_encounter.pk}/summary/"
    notices = Notification.objects.filter(user=alice, kind="visit_summary")
    assert [(n.title, n.url) for n in notices] == [("Your visit summary is ready", url)]
    # The same event again (a retry, a second listener run) tells nobody twice.
    again = EpisodeEvent(
        episode_id=escalated.episode.pk,
        name="note.signed",
        detail={"note_id": escalated.note.pk},
    )
    on_episode_event(again)
    on_episode_event(EpisodeEvent(episode_id=escalated.episode.pk, name="note.signed"))
    assert notices.count() == 1
    assert not Notification.objects.filter(user=dr_tex, kind="visit_summary").exists()
    # A draft alone is no summary: no notice for the async encounter.
    assert not Notification.objects.filter(
        url=f"/episodes/encounters/{escalated.async_encounter.pk}/summary/"
    ).exists()
    # Other events are ignored.
    on_episode_event(EpisodeEvent(episode_id=escalated.episode.pk, name="visit.ended"))
    assert notices.count() == 1
