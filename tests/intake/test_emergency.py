"""An emergency red flag: the patient is told to call 911 (on the questions page as soon as
the answer is given, and on the case page after submit, with what happens next), and the
clinician who claims the case can still take them to a live visit, now or scheduled."""

import datetime as dt
import html
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.care.models import EscalationRequest
from carepath.core import clock
from carepath.intake.actions import do_save_draft, do_start_case
from carepath.intake.models import Case, CaseStatus, ServiceLine
from carepath.visits.models import Visit
from carepath.workqueue.actions import do_claim
from carepath.workqueue.models import WorkItem, WorkItemStatus
from tests.intake.conftest import DERM_ANSWERS
from tests.intake.test_review import derm_case, post

pytestmark = pytest.mark.django_db

ClientFor = Callable[..., Client]
NOW = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)


def emergency_case(patient: User, lines: dict[str, ServiceLine]) -> Case:
    clock.freeze(NOW)
    return derm_case(patient, lines, breathing=True)


def escalate_page(client: Client, case: Case, when: str, **fields: str) -> Any:
    body = {"escalate-mode": "video", "escalate-reason": "Check the airway now.", "when": when}
    body.update(fields)
    return client.post(f"/staff/cases/{case.pk}/escalate/", body)


def test_patient_is_told_what_to_do_until_a_clinician_sees_them(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: ClientFor
) -> None:
    case = emergency_case(alice, lines)
    patient = client_for(alice)
    page = patient.get(f"/patient/visits/{case.pk}/").content.decode()
    assert "Go to emergency care or call 911 now." in page
    assert "If your symptoms are severe or getting worse, call 911 now" in page
    assert 'id="emergency-next"' in page
    assert "A clinician has been alerted and will contact you soon" in page

    do_claim(dr_tex, case.work_item_id or 0)
    page = patient.get(f"/patient/visits/{case.pk}/").content.decode()
    assert "A clinician is looking at your answers now" in page


def test_the_clinician_who_claims_an_emergency_can_start_a_live_visit_now(
    alice: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    client_for: ClientFor,
    django_capture_on_commit_callbacks: Any,
    episode_events: list[Any],
) -> None:
    case = emergency_case(alice, lines)
    do_claim(dr_tex, case.work_item_id or 0)
    tex = client_for(dr_tex)
    review = tex.get(f"/staff/cases/{case.pk}/review/").content.decode()
    assert 'id="escalate-link"' in review
    assert ">Escalate to a live visit<" in review
    assert 'href="#escalate-heading">start a live visit</a>' in review
    assert 'id="ask-patient"' not in review  # the case is escalated: no "ask for more"

    with django_capture_on_commit_callbacks(execute=True):
        done = escalate_page(tex, case, "now")
    visit = Visit.objects.get(patient=alice)
    assert done.status_code == 302
    assert done["Location"] == f"/visits/{visit.pk}/"
    assert visit.clinician == dr_tex
    case.refresh_from_db()
    assert case.status == CaseStatus.ESCALATED
    assert WorkItem.objects.get(pk=case.work_item_id or 0).status == WorkItemStatus.DONE
    assert [event.name for event in episode_events][-2:] == ["case.escalated", "visit.scheduled"]
    review = tex.get(f"/staff/cases/{case.pk}/review/").content.decode()
    assert "Follow up with the patient now" not in review  # done: the visit is open
    assert 'id="escalate"' not in review

    page = client_for(alice).get(f"/patient/visits/{case.pk}/").content.decode()
    assert f"{dr_tex.display_name} is ready to see you in a live visit." in page
    assert f'href="/visits/{visit.pk}/wait/" class="button" id="join-visit"' in page
    assert 'id="emergency-next"' not in page  # a clinician has them now

    # Once: the item is done, so nobody holds the case any more.
    again = post(
        tex, f"/api/v1/intake/cases/{case.pk}/escalate", {"mode": "video", "reason": "Again"}
    )
    assert again.status_code == 409
    assert EscalationRequest.objects.filter(encounter_id=case.encounter_id or 0).count() == 1


def test_an_emergency_can_be_escalated_to_scheduled_times_through_the_api(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: ClientFor
) -> None:
    case = emergency_case(alice, lines)
    do_claim(dr_tex, case.work_item_id or 0)
    response = post(
        client_for(dr_tex),
        f"/api/v1/intake/cases/{case.pk}/escalate",
        {"mode": "video", "reason": "See her tomorrow."},
    )
    assert response.status_code == 200, response.json()
    request = EscalationRequest.objects.get(encounter_id=case.encounter_id or 0)
    assert request.requested_by == dr_tex
    page = client_for(alice).get(f"/patient/visits/{case.pk}/").content.decode()
    assert 'id="book-visit"' in page


def test_only_the_holder_escalates_an_emergency(
    alice: User,
    dr_tex: User,
    dr_ny: User,
    lines: dict[str, ServiceLine],
    client_for: ClientFor,
) -> None:
    case = emergency_case(alice, lines)
    # Not claimed: no relationship with the patient, nothing to see or do.
    assert escalate_page(client_for(dr_tex), case, "now").status_code == 404
    do_claim(dr_tex, case.work_item_id or 0)
    assert escalate_page(client_for(dr_ny), case, "now").status_code == 404
    assert escalate_page(client_for(alice), case, "now").status_code == 403
    assert not Visit.objects.exists()


def test_a_live_visit_red_flag_case_is_not_escalated_twice(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: ClientFor
) -> None:
    """Only an emergency case waits, escalated, for a live visit: a case escalated to one
    already (here by its live-visit red flag) is not escalated again from its review."""
    clock.freeze(NOW)
    case = derm_case(alice, lines, spreading=True, fever=True, temperature=102.5)
    assert case.status == CaseStatus.ESCALATED
    response = post(
        client_for(dr_tex),
        f"/api/v1/intake/cases/{case.pk}/escalate",
        {"mode": "video", "reason": "Again"},
    )
    assert response.status_code in (404, 409)


# --- The questions page ----------------------------------------------------------------------


def rules_on_page(page: str) -> list[dict[str, Any]]:
    found = re.search(r'data-emergency-rules="([^"]*)"', page)
    assert found is not None
    rules: list[dict[str, Any]] = json.loads(html.unescape(found.group(1)))
    return rules


def test_questions_page_carries_the_emergency_rules_and_shows_a_matching_draft(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: ClientFor
) -> None:
    case = do_start_case(alice, lines["dermatology"], "TX")
    patient = client_for(alice)
    page = patient.get(f"/patient/visits/{case.pk}/questions/").content.decode()
    rules = rules_on_page(page)
    assert [rule["id"] for rule in rules] == ["airway"]  # emergency rules only
    assert rules[0]["when"] == [{"question": "breathing", "operator": "=", "answerBoolean": True}]
    assert '<div class="emergency" data-emergency-banner hidden>' in page

    do_save_draft(alice, case, {**DERM_ANSWERS, "breathing": True})
    page = patient.get(f"/patient/visits/{case.pk}/questions/").content.decode()
    assert '<div class="emergency" data-emergency-banner>' in page
    assert "Trouble breathing or swelling of the lips" in page
    assert "<script>" not in page  # no inline script (CSP)


def test_questions_page_without_emergency_rules(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: ClientFor
) -> None:
    line = lines["dermatology"]
    line.red_flag_rules = []
    line.save()
    case = do_start_case(alice, line, "TX")
    page = client_for(alice).get(f"/patient/visits/{case.pk}/questions/").content.decode()
    assert rules_on_page(page) == []
