"""Red-flag rules: data on a service line, checked when a case is submitted.

A rule is a JSON object:
  {"id": "fever-flank-pain",                  unique within the service line
   "when": [<conditions shaped like enableWhen: question, operator, answer[x]>],
   "behavior": "all" | "any",                  default "all"
   "outcome": "live_visit_now" | "emergency",
   "message": "what the patient is told",
   "due_minutes": 30}                          live_visit_now only: how soon a clinician
                                               must pick the case up (default 30)
Conditions see every answer to the question, in any repetition of a repeating group.
The most serious matching outcome wins (emergency over live_visit_now)."""

import json
from dataclasses import dataclass
from typing import Any

from carepath.intake.models import RedFlagOutcome
from carepath.intake.questionnaires import (
    Context,
    FieldError,
    Tree,
    answers_for,
    build_tree,
    check_condition,
    condition_holds,
    prune_disabled,
)

OUTCOMES = (RedFlagOutcome.EMERGENCY, RedFlagOutcome.LIVE_VISIT_NOW)  # most serious first
DEFAULT_DUE_MINUTES = 30
EMERGENCY_DUE_MINUTES = 15
RULE_KEYS = frozenset({"id", "when", "behavior", "outcome", "message", "due_minutes"})


@dataclass(frozen=True)
class RedFlag:
    rule_id: str
    outcome: str
    message: str
    due_minutes: int


def check_red_flag_rules(rules: Any, definition: Any) -> list[FieldError]:
    """Problems with a rule list, by path (`rules[1].when[0].question`)."""
    if not isinstance(rules, list):
        return [{"field": "rules", "message": "Red-flag rules are a JSON list."}]
    tree = build_tree(definition)
    errors: list[FieldError] = []
    ids: set[str] = set()
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if not isinstance(rule, dict):
            errors.append({"field": where, "message": "A rule is a JSON object."})
            continue
        for key in set(rule) - RULE_KEYS:
            errors.append({"field": f"{where}.{key}", "message": "Unknown rule property."})
        rule_id = rule.get("id")
        if not isinstance(rule_id, str) or not rule_id.strip() or len(rule_id) > 60:
            errors.append({"field": f"{where}.id", "message": "Give the rule an id (≤ 60)."})
        elif rule_id in ids:
            errors.append({"field": f"{where}.id", "message": f'Duplicate rule id "{rule_id}".'})
        else:
            ids.add(rule_id)
        if rule.get("outcome") not in OUTCOMES:
            errors.append(
                {
                    "field": f"{where}.outcome",
                    "message": 'outcome is "live_visit_now" or "emergency".',
                }
            )
        message = rule.get("message")
        if not isinstance(message, str) or not message.strip() or len(message) > 1000:
            errors.append(
                {"field": f"{where}.message", "message": "Write the message for the patient."}
            )
        if rule.get("behavior", "all") not in ("all", "any"):
            errors.append({"field": f"{where}.behavior", "message": 'Use "all" or "any".'})
        due = rule.get("due_minutes", DEFAULT_DUE_MINUTES)
        if not isinstance(due, int) or isinstance(due, bool) or not 1 <= due <= 24 * 60:
            errors.append({"field": f"{where}.due_minutes", "message": "due_minutes is 1 to 1440."})
        conditions = rule.get("when")
        if not isinstance(conditions, list) or not conditions:
            errors.append({"field": f"{where}.when", "message": "Give at least one condition."})
            continue
        for position, condition in enumerate(conditions):
            errors.extend(check_condition(condition, tree, f"{where}.when[{position}]"))
    return errors


def _rule_matches(rule: dict[str, Any], tree: Tree, answers: dict[str, Any]) -> bool:
    context = Context((), answers)
    results = []
    for condition in rule.get("when") or []:
        question = tree.by_link_id.get(str(condition.get("question")))
        if question is None:
            results.append(False)
            continue
        results.append(condition_holds(condition, answers_for(question, context)))
    if not results:
        return False
    return any(results) if rule.get("behavior") == "any" else all(results)


def evaluate_red_flags(rules: Any, definition: Any, answers: Any) -> RedFlag | None:
    """The most serious rule the answers trigger, or None. Answers of disabled questions
    do not count."""
    if not isinstance(rules, list) or not isinstance(answers, dict):
        return None
    tree = build_tree(definition)
    pruned = prune_disabled(tree, answers)
    matched = [
        rule
        for rule in rules
        if isinstance(rule, dict)
        and rule.get("outcome") in OUTCOMES
        and _rule_matches(rule, tree, pruned)
    ]
    for outcome in OUTCOMES:
        for rule in matched:
            if rule.get("outcome") == outcome:
                due = rule.get("due_minutes", DEFAULT_DUE_MINUTES)
                return RedFlag(
                    rule_id=str(rule.get("id", "")),
                    outcome=outcome,
                    message=str(rule.get("message", "")),
                    due_minutes=EMERGENCY_DUE_MINUTES
                    if outcome == RedFlagOutcome.EMERGENCY
                    else (due if isinstance(due, int) else DEFAULT_DUE_MINUTES),
                )
    return None


def emergency_rules_json(rules: Any) -> str:
    """The emergency rules of a service line, for the questions page's script: it tells the
    patient to call 911 as soon as their answers match one, before they submit. Only what
    the script needs (the conditions and the message); the server decides again on submit."""
    if not isinstance(rules, list):
        return "[]"
    return json.dumps(
        [
            {
                "id": str(rule.get("id", "")),
                "when": rule.get("when") or [],
                "behavior": rule.get("behavior", "all"),
                "message": str(rule.get("message", "")),
            }
            for rule in rules
            if isinstance(rule, dict) and rule.get("outcome") == RedFlagOutcome.EMERGENCY
        ]
    )


def emergency_flag(rules: Any, definition: Any, answers: Any) -> RedFlag | None:
    """The emergency rule these (draft) answers already trigger, if any."""
    flag = evaluate_red_flags(rules, definition, answers)
    return flag if flag is not None and flag.outcome == RedFlagOutcome.EMERGENCY else None
