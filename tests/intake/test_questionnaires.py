"""The questionnaire validator, answer checking and red-flag evaluation (pure functions)."""

from typing import Any

import pytest

from carepath.accounts.models import User
from carepath.intake.questionnaires import check_answers, check_questionnaire, clean_answers
from carepath.intake.red_flags import check_red_flag_rules, evaluate_red_flags
from carepath.intake.seed import DERMATOLOGY, DERMATOLOGY_RULES, UTI, UTI_RULES
from tests.intake.conftest import derm_answers, upload_photo


def q(*items: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Questionnaire", "item": list(items)}


def boolean(link_id: str, **extra: Any) -> dict[str, Any]:
    return {"linkId": link_id, "text": link_id.title(), "type": "boolean", **extra}


def when(question: str, value: Any = True) -> list[dict[str, Any]]:
    return [{"question": question, "operator": "=", "answerBoolean": value}]


def fields(errors: list[dict[str, str]]) -> dict[str, str]:
    return {error["field"]: error["message"] for error in errors}


# --- check_questionnaire -----------------------------------------------------------------------


def test_seeded_definitions_are_valid() -> None:
    assert check_questionnaire(DERMATOLOGY) == []
    assert check_questionnaire(UTI) == []
    assert check_red_flag_rules(DERMATOLOGY_RULES, DERMATOLOGY) == []
    assert check_red_flag_rules(UTI_RULES, UTI) == []


def test_cycle_in_enable_when_is_rejected_with_the_cycle_named() -> None:
    definition = q(
        boolean("a", enableWhen=when("b")),
        boolean("b", enableWhen=when("c")),
        boolean("c", enableWhen=when("a")),
    )
    errors = check_questionnaire(definition)
    assert len(errors) == 1
    assert errors[0]["field"] == "item[0].enableWhen"
    assert "cycle" in errors[0]["message"]
    assert "a → b → c → a" in errors[0]["message"]


def test_self_reference_is_a_cycle() -> None:
    errors = check_questionnaire(q(boolean("a", enableWhen=when("a"))))
    assert "cycle" in errors[0]["message"]


def test_cycle_through_a_group_is_rejected() -> None:
    """A group enabled by a question inside it can never settle."""
    definition = q(
        {
            "linkId": "g",
            "text": "Group",
            "type": "group",
            "enableWhen": when("inner"),
            "item": [boolean("inner")],
        }
    )
    errors = check_questionnaire(definition)
    assert "cycle" in errors[0]["message"]
    assert "inner" in errors[0]["message"]
    assert "g" in errors[0]["message"]


def test_question_inside_group_may_depend_on_a_sibling() -> None:
    definition = q(
        {
            "linkId": "g",
            "text": "Group",
            "type": "group",
            "item": [boolean("a"), boolean("b", enableWhen=when("a"))],
        }
    )
    assert check_questionnaire(definition) == []


def test_unknown_type_and_duplicate_link_id() -> None:
    definition = q(
        boolean("a"),
        {"linkId": "a", "text": "Again", "type": "boolean"},
        {"linkId": "b", "text": "What", "type": "slider"},
    )
    errors = fields(check_questionnaire(definition))
    assert "Duplicate linkId" in errors["item[1].linkId"]
    assert "Unknown item type" in errors["item[2].type"]


@pytest.mark.parametrize(
    ("item", "path", "words"),
    [
        ({"linkId": "c", "text": "Pick", "type": "choice"}, "item[1].answerOption", "option"),
        (
            {
                "linkId": "c",
                "text": "Pick",
                "type": "choice",
                "answerOption": [{"valueString": ""}],
            },
            "item[1].answerOption[0]",
            "valueCoding",
        ),
        (boolean("c", enableWhen=when("missing")), "item[1].enableWhen[0].question", "missing"),
        (
            boolean("c", enableWhen=[{"question": "a", "operator": "~", "answerBoolean": True}]),
            "item[1].enableWhen[0].operator",
            "Unknown operator",
        ),
        (
            boolean("c", enableWhen=[{"question": "a", "operator": "=", "answerString": "x"}]),
            "item[1].enableWhen[0].answerString",
            "answerBoolean",
        ),
        (
            boolean("c", enableWhen=[{"question": "a", "operator": ">", "answerBoolean": True}]),
            "item[1].enableWhen[0].operator",
            "compares numbers",
        ),
        (
            boolean("c", enableWhen=[*when("a"), *when("a", False)]),
            "item[1].enableBehavior",
            "all",
        ),
        ({"linkId": "c", "text": "G", "type": "group"}, "item[1].item", "at least one"),
        ({"linkId": "bad id!", "text": "X", "type": "string"}, "item[1].linkId", "linkId"),
        (boolean("c", color="red"), "item[1].color", "Unknown item property"),
    ],
)
def test_definition_errors_name_their_path(item: dict[str, Any], path: str, words: str) -> None:
    errors = fields(check_questionnaire(q(boolean("a"), item)))
    assert path in errors, errors
    assert words in errors[path]


def test_not_an_object_or_no_items() -> None:
    assert check_questionnaire([]) == [
        {"field": "definition", "message": "The definition must be a JSON object."}
    ]
    assert fields(check_questionnaire({"item": []}))["item"].startswith("Add at least one item")


def test_attachment_inside_repeating_group_is_refused() -> None:
    definition = q(
        {
            "linkId": "g",
            "text": "G",
            "type": "group",
            "repeats": True,
            "item": [{"linkId": "p", "text": "Photo", "type": "attachment"}],
        }
    )
    assert "repeating group" in check_questionnaire(definition)[0]["message"]


# --- check_answers -----------------------------------------------------------------------------

TYPED = q(
    {"linkId": "name", "text": "Name", "type": "string", "maxLength": 10},
    {"linkId": "count", "text": "Count", "type": "integer"},
    {"linkId": "temp", "text": "Temp", "type": "decimal"},
    {"linkId": "when", "text": "When", "type": "date"},
    boolean("fever"),
    {
        "linkId": "size",
        "text": "Size",
        "type": "choice",
        "answerOption": [{"valueCoding": {"code": "s"}}, {"valueString": "large"}],
    },
    {
        "linkId": "areas",
        "text": "Areas",
        "type": "choice",
        "repeats": True,
        "answerOption": [{"valueCoding": {"code": "arm"}}, {"valueCoding": {"code": "leg"}}],
    },
)


def test_good_answers_of_every_type_pass() -> None:
    answers = {
        "name": "Ann",
        "count": 3,
        "temp": 38.5,
        "when": "2026-11-02",
        "fever": True,
        "size": "large",
        "areas": ["arm", "leg"],
    }
    assert check_answers(TYPED, answers) == []


@pytest.mark.parametrize(
    ("answers", "field", "words"),
    [
        ({"count": "abc"}, "count", "whole number"),
        ({"count": 2.5}, "count", "whole number"),
        ({"count": True}, "count", "whole number"),
        ({"temp": "warm"}, "temp", "number"),
        ({"when": "02/11/2026"}, "when", "YYYY-MM-DD"),
        ({"when": "2026-02-30"}, "when", "YYYY-MM-DD"),
        ({"fever": "yes"}, "fever", "yes or no"),
        ({"size": "medium"}, "size", "options"),
        ({"areas": ["arm", "tail"]}, "areas[1]", "options"),
        ({"name": ["a", "b"]}, "name", "one answer"),
        ({"name": "x" * 11}, "name", "under 10"),
        ({"nope": 1}, "nope", "not a question"),
    ],
)
def test_wrong_answers_are_named(answers: dict[str, Any], field: str, words: str) -> None:
    errors = fields(check_answers(TYPED, answers))
    assert field in errors, errors
    assert words in errors[field]


def test_required_only_when_enabled() -> None:
    definition = q(
        boolean("fever", required=True),
        {
            "linkId": "temp",
            "text": "Temp",
            "type": "decimal",
            "required": True,
            "enableWhen": when("fever"),
        },
    )
    assert fields(check_answers(definition, {})) == {"fever": "This question is required."}
    assert check_answers(definition, {"fever": False}) == []
    assert fields(check_answers(definition, {"fever": True})) == {
        "temp": "This question is required."
    }
    # An answer to a disabled question is ignored, and dropped on submit.
    assert check_answers(definition, {"fever": False, "temp": "hot"}) == []
    assert clean_answers(definition, {"fever": False, "temp": 39.0}) == {"fever": False}


def test_disabled_chain_drops_dependents() -> None:
    definition = q(
        boolean("a"),
        boolean("b", enableWhen=when("a")),
        boolean("c", required=True, enableWhen=when("b")),
    )
    # b is answered but disabled (a is false), so c is disabled too: not required.
    assert check_answers(definition, {"a": False, "b": True}) == []
    assert fields(check_answers(definition, {"a": True, "b": True})) == {
        "c": "This question is required."
    }


def test_repeating_group_checks_each_entry_in_its_own_scope() -> None:
    definition = q(
        {
            "linkId": "meds",
            "text": "Medicine",
            "type": "group",
            "repeats": True,
            "required": True,
            "item": [
                {"linkId": "med", "text": "Name", "type": "string", "required": True},
                boolean("helped"),
                {
                    "linkId": "why",
                    "text": "Why not",
                    "type": "text",
                    "required": True,
                    "enableWhen": when("helped", False),
                },
            ],
        }
    )
    assert fields(check_answers(definition, {})) == {"meds": "Add at least one."}
    answers = {
        "meds": [
            {"med": "Cream", "helped": True},
            {"helped": False},
        ]
    }
    assert fields(check_answers(definition, answers)) == {
        "meds[1].med": "This question is required.",
        "meds[1].why": "This question is required.",
    }
    assert "list of objects" in check_answers(definition, {"meds": {"med": "x"}})[0]["message"]


@pytest.mark.django_db
def test_attachment_answers_must_be_the_patients_own_uploads(
    alice: User, bob: User, media_root: Any
) -> None:
    mine = upload_photo(alice)
    theirs = upload_photo(bob)
    assert check_answers(DERMATOLOGY, derm_answers([mine]), patient_id=alice.pk) == []
    errors = fields(check_answers(DERMATOLOGY, derm_answers([mine, theirs]), patient_id=alice.pk))
    assert errors == {"photos[1]": "That file is not one you uploaded."}
    assert "photos[0]" in fields(check_answers(DERMATOLOGY, derm_answers(["x"])))


# --- red flags ---------------------------------------------------------------------------------


def test_red_flags_pick_the_most_serious_outcome() -> None:
    calm = derm_answers([1])
    assert evaluate_red_flags(DERMATOLOGY_RULES, DERMATOLOGY, calm) is None
    live = evaluate_red_flags(
        DERMATOLOGY_RULES, DERMATOLOGY, {**calm, "spreading": True, "fever": True}
    )
    assert live is not None
    assert live.outcome == "live_visit_now"
    assert live.due_minutes == 30
    both = evaluate_red_flags(
        DERMATOLOGY_RULES,
        DERMATOLOGY,
        {**calm, "spreading": True, "fever": True, "breathing": True},
    )
    assert both is not None
    assert both.outcome == "emergency"
    assert both.rule_id == "airway"


def test_uti_pregnancy_flag_ignores_disabled_answer() -> None:
    answers = {"sex": "female", "pregnant": "yes", "fever": False, "flank-pain": False}
    flag = evaluate_red_flags(UTI_RULES, UTI, answers)
    assert flag is not None
    assert flag.rule_id == "pregnancy"
    # "pregnant" is not asked of a male patient: a stray answer does not count.
    assert evaluate_red_flags(UTI_RULES, UTI, {**answers, "sex": "male"}) is None


def test_red_flag_rules_are_checked_against_the_questionnaire() -> None:
    rules = [
        {
            "id": "x",
            "when": [{"question": "nope", "operator": "=", "answerBoolean": True}],
            "outcome": "panic",
            "message": "",
        },
        {"id": "x", "when": [], "outcome": "emergency", "message": "m"},
    ]
    errors = fields(check_red_flag_rules(rules, DERMATOLOGY))
    assert "rules[0].when[0].question" in errors
    assert "rules[0].outcome" in errors
    assert "rules[0].message" in errors
    assert "rules[1].id" in errors
    assert "rules[1].when" in errors
