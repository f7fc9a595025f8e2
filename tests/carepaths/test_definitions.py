import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.carepaths.actions import do_save_definition
from carepath.carepaths.definitions import check_definition, parse_path
from carepath.carepaths.models import CarePathDefinition
from carepath.carepaths.seed import DERMATOLOGY_PATH, PATHS, seed_care_paths
from carepath.intake.seed import SERVICE_LINES
from tests.carepaths.conftest import Emit, open_episode

URL = "/api/v1/care-paths/definitions"


def known_questionnaire(code: str) -> str:
    return "" if code == "check-in" else f'unknown questionnaire code "{code}"'


def path(*steps: dict[str, Any], start: str = "review") -> dict[str, Any]:
    return {"start": start, "steps": list(steps)}


def step(step_id: str, kind: str = "review", **on: str) -> dict[str, Any]:
    return {"id": step_id, "label": step_id.title(), "kind": kind, "on": on}


FINAL = {"id": "done", "label": "Done", "kind": "final"}


def messages(definition: Any) -> list[str]:
    return [
        e["message"] for e in check_definition(definition, questionnaire_check=known_questionnaire)
    ]


def test_a_sound_definition_passes() -> None:
    good = path(step("review", **{"case.answered": "done"}), FINAL)
    assert messages(good) == []


def test_unknown_step_is_rejected_naming_step_and_event() -> None:
    bad = path(step("review", **{"case.answered": "nowhere", "case.closed": "done"}), FINAL)
    assert messages(bad) == [
        'Step "review": event "case.answered" leads to unknown step "nowhere".'
    ]


def test_unreachable_step_is_rejected() -> None:
    bad = path(
        step("review", **{"case.answered": "done"}),
        step("orphan", **{"case.closed": "done"}),
        FINAL,
    )
    assert messages(bad) == [
        'Step "orphan" is unreachable: no event leads to it from the start step "review".'
    ]


def test_cycle_without_exit_is_rejected() -> None:
    bad = path(
        step("review", **{"case.answered": "ping", "case.closed": "done"}),
        step("ping", **{"visit.started": "pong"}),
        step("pong", **{"visit.ended": "ping"}),
        FINAL,
    )
    assert messages(bad) == [
        'Cycle without exit: steps "ping", "pong" (ping -> pong -> ping) lead only to each '
        "other; no final step can be reached from them."
    ]


def test_a_cycle_with_an_exit_is_fine() -> None:
    good = path(
        step("review", **{"case.answered": "ping"}),
        step("ping", **{"visit.started": "pong"}),
        step("pong", **{"visit.ended": "ping", "case.closed": "done"}),
        FINAL,
    )
    assert messages(good) == []


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        (
            path(step("review", **{"case.frobbed": "done"}), FINAL),
            'Step "review" listens for unknown event "case.frobbed"',
        ),
        (path(step("review", **{"case.answered": "review"})), "No final step"),
        (
            path(step("review", **{"case.answered": "done"}), step("review"), FINAL),
            'Duplicate step id "review"',
        ),
        (
            path(step("review", **{"case.answered": "done"}), {**FINAL, "on": {"x.y": "review"}}),
            'Step "done" is final: a final step has no transitions.',
        ),
        (
            path(
                {
                    **step("review", **{"case.answered": "done"}),
                    "entry": [{"check_in": {"after_days": 14, "questionnaire": "nope"}}],
                },
                FINAL,
            ),
            'Step "review": check_in unknown questionnaire code "nope".',
        ),
        (
            path(
                {
                    **step("review", **{"case.answered": "done"}),
                    "entry": [{"check_in": {"after_days": 0, "questionnaire": "check-in"}}],
                },
                FINAL,
            ),
            "after_days must be a whole number of days from 1 to 366 (got 0)",
        ),
        (
            path(
                {**step("review", **{"case.answered": "done"}), "expected_within_hours": -2}, FINAL
            ),
            "expected_within_hours must be a number of hours above 0",
        ),
        (
            path(step("review", **{"case.answered": "dead"}), step("dead"), FINAL),
            'Step "dead" is a dead end',
        ),
        (
            path(step("review", **{"case.answered": "done"}), FINAL, start="begin"),
            '"begin" is not a step',
        ),
        ("not an object", "A care path is a JSON object"),
        (
            path(
                {
                    **step("review", **{"case.answered": "done"}),
                    "entry": [
                        {"check_in": {"after_days": 3, "questionnaire": "check-in"}},
                        {"check_in": {"after_days": 14, "questionnaire": "check-in"}},
                    ],
                },
                FINAL,
            ),
            'Step "review": schedules 2 check-ins; a step schedules at most one',
        ),
        (
            path({**step("review", **{"case.answered": "done"}), "patient_label": 7}, FINAL),
            'Step "review": patient_label is text up to 120 characters.',
        ),
    ],
)
def test_each_rule_names_the_problem(definition: Any, expected: str) -> None:
    assert any(expected in message for message in messages(definition)), messages(definition)


def test_seed_has_a_path_for_every_seeded_service_line_and_is_idempotent(clinic: None) -> None:
    first = seed_care_paths()
    assert {d.service_line.code for d in first} == {spec["code"] for spec in SERVICE_LINES}
    assert {d.service_line.code for d in seed_care_paths()} == set(PATHS)
    assert CarePathDefinition.objects.count() == len(first)
    derm = parse_path(DERMATOLOGY_PATH)
    assert derm.start == "async_review"
    assert derm.steps["check_in"].check_ins[0].after_days == 14
    assert derm.steps["check_in_review"].next_step("checkin.reviewed") == "closed"
    # An answer without a prescription does not wait for one.
    assert derm.steps["async_review"].next_step("case.answered") == "check_in"
    assert derm.steps["check_in"].next_step("prescription.signed") == "check_in"


def test_every_seeded_step_has_patient_words() -> None:
    staff_words = {"patient", "waiting for the", "check-in review"}
    for code, definition in PATHS.items():
        for seeded in parse_path(definition).ordered:
            assert seeded.patient_label, (code, seeded.id)
            assert seeded.plain_words or seeded.is_final, (code, seeded.id)
            assert not any(words in seeded.patient_name.lower() for words in staff_words)


def test_a_changed_seed_path_becomes_a_new_version_once(
    clinic: None, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_care_paths()
    changed = copy.deepcopy(DERMATOLOGY_PATH)
    changed["title"] = "Dermatology, as the seed now has it"
    monkeypatch.setitem(PATHS, "dermatology", changed)
    seed_care_paths()
    seed_care_paths()
    versions = CarePathDefinition.objects.filter(service_line__code="dermatology")
    assert list(versions.order_by("version").values_list("version", flat=True)) == [1, 2]
    assert versions.get(version=2).definition["title"] == changed["title"]
    assert CarePathDefinition.objects.filter(service_line__code="uti").count() == 1
    # A version an administrator saved is theirs: a later seed change leaves it alone.
    line = versions.get(version=2).service_line
    edited = copy.deepcopy(changed)
    edited["title"] = "Edited by an administrator"
    do_save_definition(ada, line, edited)
    monkeypatch.setitem(PATHS, "dermatology", DERMATOLOGY_PATH)
    seed_care_paths()
    latest = versions.order_by("-version").first()
    assert latest is not None
    assert latest.definition["title"] == edited["title"]
    assert versions.count() == 3


# --- API and pages ---------------------------------------------------------------------------


def test_api_new_version_with_problems_is_422_and_saves_nothing(
    paths: Any, ada: User, client_for: Callable[..., Client]
) -> None:
    bad = copy.deepcopy(DERMATOLOGY_PATH)
    bad["steps"][0]["on"]["case.answered"] = "nowhere"
    response = client_for(ada).post(
        f"{URL}/dermatology", {"definition": bad}, content_type="application/json"
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "invalid_care_path"
    assert any(
        'event "case.answered" leads to unknown step "nowhere"' in f["message"]
        for f in body["error"]["fields"]
    )
    assert CarePathDefinition.objects.filter(service_line__code="dermatology").count() == 1


def test_api_saves_a_new_version_and_episodes_keep_theirs(
    paths: Any, ada: User, alice: User, cody: User, client_for: Callable[..., Client], emit: Emit
) -> None:
    episode = open_episode(alice, "dermatology")
    emit(episode, "case.submitted")
    changed = copy.deepcopy(DERMATOLOGY_PATH)
    changed["steps"][0]["expected_within_hours"] = 12
    response = client_for(ada).post(
        f"{URL}/dermatology",
        {"definition": changed},
        content_type="application/json",
        headers={"Idempotency-Key": "v2"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["version"] == 2
    again = client_for(ada).post(
        f"{URL}/dermatology",
        {"definition": changed},
        content_type="application/json",
        headers={"Idempotency-Key": "v2"},
    )
    assert again.json()["version"] == 2
    assert CarePathDefinition.objects.filter(service_line__code="dermatology").count() == 2
    assert episode.care_path.definition.version == 1
    later = open_episode(alice, "dermatology")
    emit(later, "case.submitted")
    assert later.care_path.definition.version == 2
    staff = client_for(cody)
    assert staff.get(f"{URL}/dermatology").json()["version"] == 2
    assert staff.get(f"{URL}/dermatology?version=1").json()["version"] == 1
    listing = {row["service_line"]: row for row in staff.get(URL).json()}
    assert listing["dermatology"]["version"] == 2


def test_only_admins_save_and_patients_do_not_read_definitions(
    paths: Any, alice: User, cody: User, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    body = {"definition": DERMATOLOGY_PATH}
    for user in (cody, dr_tex, alice):
        response = client_for(user).post(
            f"{URL}/dermatology", body, content_type="application/json"
        )
        assert response.status_code == 403
    assert client_for(alice).get(URL).status_code == 403
    assert CarePathDefinition.objects.filter(service_line__code="dermatology").count() == 1


def test_admin_page_keeps_the_text_and_lists_problems(
    paths: Any, ada: User, cody: User, client_for: Callable[..., Client]
) -> None:
    page = "/care-paths/definitions/dermatology/"
    admin = client_for(ada)
    shown = admin.get(page)
    assert shown.status_code == 200
    assert b"Online review" in shown.content
    assert b"version 1" in shown.content.lower()
    typed = json.dumps(
        path(
            step("review", **{"case.answered": "ping", "case.closed": "done"}),
            step("ping", **{"visit.started": "pong"}),
            step("pong", **{"visit.ended": "ping"}),
            FINAL,
        )
    )
    refused = admin.post(page, {"definition": typed})
    assert refused.status_code == 400
    text = refused.content.decode()
    assert "Cycle without exit" in text
    assert "nothing was saved" in text
    assert json.dumps("ping")[1:-1] in text
    assert "visit.ended" in text
    broken = admin.post(page, {"definition": "{not json"})
    assert broken.status_code == 400
    assert "Not valid JSON" in broken.content.decode()
    assert CarePathDefinition.objects.filter(service_line__code="dermatology").count() == 1
    changed = copy.deepcopy(DERMATOLOGY_PATH)
    changed["title"] = "Dermatology, revised"
    saved = admin.post(page, {"definition": json.dumps(changed)})
    assert saved.status_code == 302
    assert CarePathDefinition.objects.filter(service_line__code="dermatology").count() == 2
    assert admin.get("/care-paths/definitions/").status_code == 200
    assert client_for(cody).get(page).status_code == 403
    assert client_for(cody).post(page, {"definition": json.dumps(changed)}).status_code == 403
