"""The case review page's markup: every form has its own ids (each label names its own
field), and a clinician who does not hold the case is told where it stands."""

import re
from collections import Counter
from collections.abc import Callable

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.intake.actions import do_escalate_case, do_start_case
from carepath.intake.models import Case, ServiceLine
from carepath.workqueue.actions import do_claim
from tests.intake.test_review import derm_case

pytestmark = pytest.mark.django_db

ClientFor = Callable[..., Client]


def ids_of(page: str) -> Counter[str]:
    return Counter(re.findall(r'\sid="([^"]+)"', page))


def label_target(page: str, text: str) -> str:
    found = re.search(rf'<label for="([^"]+)">{re.escape(text)}</label>', page)
    assert found is not None, f"no label {text!r}"
    return found.group(1)


def review(client: Client, case: Case) -> str:
    response = client.get(f"/staff/cases/{case.pk}/review/")
    assert response.status_code == 200
    return response.content.decode()


def test_in_review_forms_have_their_own_ids_and_labels(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: ClientFor
) -> None:
    case = derm_case(alice, lines)
    do_claim(dr_tex, case.work_item_id or 0)
    page = review(client_for(dr_tex), case)
    doubled = [name for name, count in ids_of(page).items() if count > 1]
    assert doubled == []
    closing = label_target(page, "Reason for closing")
    escalating = label_target(page, "Reason for the live visit")
    assert closing == "id_close-reason"
    assert escalating == "id_escalate-reason"
    assert re.search(rf'<textarea name="close-reason"[^>]* id="{closing}">', page)


def test_review_forms_keep_what_was_typed_under_their_prefix(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: ClientFor
) -> None:
    case = derm_case(alice, lines)
    do_claim(dr_tex, case.work_item_id or 0)
    tex = client_for(dr_tex)
    refused = tex.post(f"/staff/cases/{case.pk}/close/", {"close-reason": ""})
    assert refused.status_code == 400
    assert "This field is required." in refused.content.decode()
    missing_mode = tex.post(
        f"/staff/cases/{case.pk}/escalate/",
        {"escalate-reason": "Look at it live.", "when": "scheduled"},
    )
    assert missing_mode.status_code == 400
    assert "Look at it live." in missing_mode.content.decode()
    closed = tex.post(f"/staff/cases/{case.pk}/close/", {"close-reason": "Duplicate case."})
    assert closed.status_code == 302


def test_after_offering_times_the_clinician_reads_where_the_case_stands(
    alice: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    client_for: ClientFor,
) -> None:
    case = derm_case(alice, lines)
    do_claim(dr_tex, case.work_item_id or 0)
    tex = client_for(dr_tex)
    done = tex.post(
        f"/staff/cases/{case.pk}/escalate/",
        {"escalate-mode": "video", "escalate-reason": "See it live.", "when": "scheduled"},
        follow=True,
    )
    page = done.content.decode()
    assert "You offered scheduled times; the patient will book." in page
    assert "You are not holding this case" not in page
    assert "held by" not in page
    assert "claim it in the queue" not in page


def test_another_clinician_with_access_reads_who_offered_the_times(
    alice: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    client_for: ClientFor,
) -> None:
    from carepath.access.actions import do_add_care_relationship
    from carepath.access.models import RelationshipKind
    from tests.personas import make_clinician

    case = derm_case(alice, lines)
    do_claim(dr_tex, case.work_item_id or 0)
    do_escalate_case(dr_tex, case, mode="video", reason="See it live.")
    colleague = make_clinician("dr.two@example.com", "1003000126", ["TX"], ["dermatology"])
    do_add_care_relationship(colleague, alice.pk, kind=RelationshipKind.CARE_TEAM)
    page = review(client_for(colleague), case)
    assert f"{dr_tex.display_name} offered scheduled times; the patient will book." in page


def test_an_unclaimed_case_offers_the_claim_and_a_held_one_names_its_holder(
    alice: User,
    dr_tex: User,
    lines: dict[str, ServiceLine],
    client_for: ClientFor,
) -> None:
    from carepath.access.actions import do_add_care_relationship
    from carepath.access.models import RelationshipKind
    from tests.personas import make_clinician

    case = derm_case(alice, lines)
    colleague = make_clinician("dr.two@example.com", "1003000126", ["TX"], ["dermatology"])
    do_add_care_relationship(colleague, alice.pk, kind=RelationshipKind.CARE_TEAM)
    page = review(client_for(colleague), case)
    assert "You are not holding this case" in page
    assert ">Claim this case<" in page
    do_claim(dr_tex, case.work_item_id or 0)
    page = review(client_for(colleague), case)
    assert "Another clinician holds this case" in page
    assert f"{dr_tex.display_name} is reviewing it." in page
    assert ">Claim this case<" not in page


def test_a_draft_is_never_reviewed(
    alice: User, dr_tex: User, lines: dict[str, ServiceLine], client_for: ClientFor
) -> None:
    draft = do_start_case(alice, lines["dermatology"], "TX")
    assert client_for(dr_tex).get(f"/staff/cases/{draft.pk}/review/").status_code == 404
