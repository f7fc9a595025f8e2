"""Care-path definitions as data (FHIR PlanDefinition in spirit), and their validation.

A definition is a JSON object:
  start        the id of the step an episode enters first
  title        optional, shown to admins
  steps        a list of steps, each:
    id                     unique; lowercase letters, digits, "_" and "-"
    label                  what staff read ("Online review")
    patient_label          optional: the step's short name for the patient ("Your reply");
                           without it patients read a plain name for the step's kind
    kind                   review | live_visit | prescription | check_in | wait | final
    patient_text           optional: the step in plain words for the patient
    expected_within_hours  optional number > 0: longer than this in the step is "stuck"
    on                     {event: next step id}; events from carepath.care.events
                           KNOWN_EVENTS. "event:outcome" matches only an event whose
                           detail carries that outcome (e.g. "checkin.reviewed:needs_visit")
                           and is tried before the plain event name.
    entry                  optional list of actions run on entering the step:
                           {"check_in": {"after_days": 14, "questionnaire": "<code>"}}
                           (at most one check-in: an episode has one pending check-in)

Rules (check_definition reports every broken one, naming the step and event): step ids are
unique; `start` and every `on` target name a step; every event is known; at least one step
is final and final steps have no `on`; every step can be reached from the start; from every
step some final step can be reached (no dead end, no cycle without exit); numbers are in
range; a check-in questionnaire exists and asks no photo questions (the check-in page has
no upload step)."""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from carepath.care.events import KNOWN_EVENTS
from carepath.intake.questionnaires import FieldError

STEP_KINDS = ("review", "live_visit", "prescription", "check_in", "wait", "final")
FINAL = "final"
TOP_KEYS = frozenset({"start", "steps", "title", "description"})
STEP_KEYS = frozenset(
    {"id", "label", "patient_label", "kind", "patient_text", "expected_within_hours", "on", "entry"}
)
CHECK_IN_KEYS = frozenset({"after_days", "questionnaire"})
STEP_ID = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")
OUTCOME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_STEPS = 50
MAX_HOURS = 24 * 366
MAX_AFTER_DAYS = 366
LABEL_MAX = 120
PATIENT_TEXT_MAX = 300

PLAIN_WORDS = {
    "review": "A clinician is reviewing your visit.",
    "live_visit": "A clinician would like to see you in a live visit.",
    "prescription": "Your clinician is deciding on your treatment.",
    "check_in": "We will check in with you soon to see how you are doing.",
    "wait": "We are waiting to hear from you or your care team.",
    "final": "This episode of care is complete.",
}


# A step's short name for patients when the definition gives none: never staff wording.
PATIENT_LABELS = {
    "review": "Review by your clinician",
    "live_visit": "Video visit",
    "prescription": "Your treatment",
    "check_in": "Check-in",
    "wait": "Your reply",
    "final": "Done",
}


@dataclass(frozen=True)
class CheckInAction:
    after_days: int
    questionnaire: str


@dataclass(frozen=True)
class Step:
    id: str
    label: str
    kind: str
    patient_text: str = ""
    patient_label: str = ""
    expected_within_hours: float | None = None
    on: dict[str, str] = field(default_factory=dict)
    check_ins: tuple[CheckInAction, ...] = ()

    @property
    def is_final(self) -> bool:
        return self.kind == FINAL

    @property
    def plain_words(self) -> str:
        return self.patient_text or PLAIN_WORDS.get(self.kind, "")

    @property
    def patient_name(self) -> str:
        """The step's short name as the patient reads it."""
        return self.patient_label or PATIENT_LABELS.get(self.kind, "Your care")

    def next_step(self, event: str, outcome: str = "") -> str | None:
        """The step this event leads to, or None when the step does not handle it."""
        if outcome and f"{event}:{outcome}" in self.on:
            return self.on[f"{event}:{outcome}"]
        return self.on.get(event)


@dataclass(frozen=True)
class CarePath:
    start: str
    title: str
    steps: dict[str, Step]

    def step(self, step_id: str) -> Step | None:
        return self.steps.get(step_id)

    @property
    def ordered(self) -> list[Step]:
        return list(self.steps.values())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_path(definition: Any) -> CarePath:
    """The definition as objects. Only for definitions check_definition accepted; anything
    odd is skipped rather than raised (stored versions are already checked)."""
    raw = definition if isinstance(definition, dict) else {}
    steps: dict[str, Step] = {}
    for item in raw.get("steps") or []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        hours = item.get("expected_within_hours")
        check_ins = tuple(_check_in_actions(item.get("entry")))
        on = item.get("on") if isinstance(item.get("on"), dict) else {}
        steps.setdefault(
            item["id"],
            Step(
                id=item["id"],
                label=str(item.get("label") or item["id"]),
                kind=str(item.get("kind") or ""),
                patient_text=str(item.get("patient_text") or ""),
                patient_label=str(item.get("patient_label") or ""),
                expected_within_hours=float(hours)
                if isinstance(hours, int | float) and not isinstance(hours, bool)
                else None,
                on={str(k): str(v) for k, v in (on or {}).items()},
                check_ins=check_ins,
            ),
        )
    return CarePath(
        start=str(raw.get("start") or ""), title=str(raw.get("title") or ""), steps=steps
    )


def _check_in_actions(entry: Any) -> list[CheckInAction]:
    actions = []
    for action in entry if isinstance(entry, list) else []:
        spec = action.get("check_in") if isinstance(action, dict) else None
        days = spec.get("after_days") if isinstance(spec, dict) else None
        if isinstance(spec, dict) and isinstance(days, int) and not isinstance(days, bool):
            actions.append(CheckInAction(days, str(spec.get("questionnaire"))))
    return actions


# --- Validation --------------------------------------------------------------------------------


def _error(where: str, message: str) -> FieldError:
    return {"field": where, "message": message}


def questionnaire_problem(code: str) -> str:
    """Why `code` cannot be a check-in questionnaire ("" when it can)."""
    from carepath.intake.models import Questionnaire
    from carepath.intake.questionnaires import attachment_link_ids

    latest = Questionnaire.objects.filter(code=code).order_by("-version").first()
    if latest is None:
        return f'unknown questionnaire code "{code}"'
    if attachment_link_ids(latest):
        return f'questionnaire "{code}" asks for photos; check-ins cannot ask for photos'
    return ""


def check_definition(
    definition: Any, *, questionnaire_check: Callable[[str], str] = questionnaire_problem
) -> list[FieldError]:
    """Every problem with the definition, each naming the step and event concerned."""
    if not isinstance(definition, dict):
        return [_error("definition", "A care path is a JSON object with start and steps.")]
    errors = [
        _error(str(key), f'Unknown key "{key}" (allowed: {", ".join(sorted(TOP_KEYS))}).')
        for key in definition
        if key not in TOP_KEYS
    ]
    if "title" in definition and not isinstance(definition["title"], str):
        errors.append(_error("title", "The title is text."))
    raw_steps = definition.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        return [*errors, _error("steps", "Add a list of steps.")]
    if len(raw_steps) > MAX_STEPS:
        return [*errors, _error("steps", f"At most {MAX_STEPS} steps.")]
    ids: set[str] = set()
    for index, raw in enumerate(raw_steps):
        errors.extend(_check_step(index, raw, ids, questionnaire_check))
    start = definition.get("start")
    if not isinstance(start, str) or not start:
        errors.append(_error("start", "Name the start step."))
    elif start not in ids:
        errors.append(_error("start", f'The start step "{start}" is not a step.'))
    path = parse_path(definition)
    errors.extend(_check_references(path, ids))
    if not any(step.is_final for step in path.ordered):
        errors.append(_error("steps", 'No final step: add a step with kind "final".'))
    elif isinstance(start, str) and start in ids:
        errors.extend(_check_graph(path))
    return errors


def _check_step(
    index: int, raw: Any, ids: set[str], questionnaire_check: Callable[[str], str]
) -> list[FieldError]:
    where = f"steps[{index}]"
    if not isinstance(raw, dict):
        return [_error(where, f"Step {index + 1} is not a JSON object.")]
    step_id = raw.get("id")
    if not isinstance(step_id, str) or not STEP_ID.match(step_id):
        return [
            _error(
                f"{where}.id",
                f"Step {index + 1} needs an id of lowercase letters, digits, _ and - "
                "(starting with a letter).",
            )
        ]
    name = f'Step "{step_id}"'
    errors: list[FieldError] = []
    if step_id in ids:
        errors.append(_error(f"{where}.id", f'Duplicate step id "{step_id}".'))
    ids.add(step_id)
    errors.extend(
        _error(f"{where}.{key}", f'{name}: unknown key "{key}".')
        for key in raw
        if key not in STEP_KEYS
    )
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip() or len(label) > LABEL_MAX:
        errors.append(_error(f"{where}.label", f"{name} needs a label (1-{LABEL_MAX} characters)."))
    if raw.get("kind") not in STEP_KINDS:
        errors.append(
            _error(
                f"{where}.kind",
                f"{name}: kind must be one of {', '.join(STEP_KINDS)} (got {raw.get('kind')!r}).",
            )
        )
    patient_label = raw.get("patient_label", "")
    if not isinstance(patient_label, str) or len(patient_label) > LABEL_MAX:
        errors.append(
            _error(
                f"{where}.patient_label",
                f"{name}: patient_label is text up to {LABEL_MAX} characters.",
            )
        )
    text = raw.get("patient_text", "")
    if not isinstance(text, str) or len(text) > PATIENT_TEXT_MAX:
        errors.append(
            _error(f"{where}.patient_text", f"{name}: patient_text is text up to 300 characters.")
        )
    if "expected_within_hours" in raw:
        hours = raw["expected_within_hours"]
        if not _is_number(hours) or not 0 < hours <= MAX_HOURS:
            errors.append(
                _error(
                    f"{where}.expected_within_hours",
                    f"{name}: expected_within_hours must be a number of hours above 0 and at "
                    f"most {MAX_HOURS} (got {hours!r}).",
                )
            )
    errors.extend(_check_on(where, name, raw))
    errors.extend(_check_entry(where, name, raw.get("entry", []), questionnaire_check))
    return errors


def _check_on(where: str, name: str, raw: dict[str, Any]) -> list[FieldError]:
    on = raw.get("on", {})
    if not isinstance(on, dict):
        return [_error(f"{where}.on", f"{name}: on is an object of event name to step id.")]
    errors = []
    if raw.get("kind") == FINAL and on:
        errors.append(_error(f"{where}.on", f"{name} is final: a final step has no transitions."))
    for key, target in on.items():
        event, _, outcome = str(key).partition(":")
        if event not in KNOWN_EVENTS:
            errors.append(
                _error(
                    f"{where}.on.{key}",
                    f'{name} listens for unknown event "{event}" (known events: '
                    f"{', '.join(sorted(KNOWN_EVENTS))}).",
                )
            )
        elif ":" in str(key) and not OUTCOME.match(outcome):
            errors.append(
                _error(
                    f"{where}.on.{key}",
                    f'{name}: "{key}" needs an outcome of lowercase letters, digits and _ '
                    'after the ":".',
                )
            )
        if not isinstance(target, str):
            errors.append(
                _error(f"{where}.on.{key}", f'{name}: event "{key}" must lead to a step id.')
            )
    return errors


def _check_entry(
    where: str, name: str, entry: Any, questionnaire_check: Callable[[str], str]
) -> list[FieldError]:
    if not isinstance(entry, list):
        return [_error(f"{where}.entry", f"{name}: entry is a list of actions.")]
    errors: list[FieldError] = []
    check_ins = [a for a in entry if isinstance(a, dict) and "check_in" in a]
    if len(check_ins) > 1:
        errors.append(
            _error(
                f"{where}.entry",
                f"{name}: schedules {len(check_ins)} check-ins; a step schedules at most one "
                "(an episode has one pending check-in at a time).",
            )
        )
    for position, action in enumerate(entry):
        at = f"{where}.entry[{position}]"
        if not isinstance(action, dict) or set(action) != {"check_in"}:
            errors.append(
                _error(at, f'{name}: entry action {position + 1} must be {{"check_in": {{...}}}}.')
            )
            continue
        spec = action["check_in"]
        if not isinstance(spec, dict) or set(spec) != CHECK_IN_KEYS:
            errors.append(
                _error(at, f"{name}: check_in needs exactly after_days and questionnaire.")
            )
            continue
        days = spec["after_days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_AFTER_DAYS:
            errors.append(
                _error(
                    f"{at}.check_in.after_days",
                    f"{name}: check_in after_days must be a whole number of days from 1 to "
                    f"{MAX_AFTER_DAYS} (got {days!r}).",
                )
            )
        code = spec["questionnaire"]
        problem = questionnaire_check(code) if isinstance(code, str) and code else "no code given"
        if problem:
            errors.append(_error(f"{at}.check_in.questionnaire", f"{name}: check_in {problem}."))
    return errors


def _check_references(path: CarePath, ids: set[str]) -> list[FieldError]:
    return [
        _error(
            f"steps.{step.id}.on.{event}",
            f'Step "{step.id}": event "{event}" leads to unknown step "{target}".',
        )
        for step in path.ordered
        for event, target in step.on.items()
        if target not in ids
    ]


def _edges(path: CarePath) -> dict[str, set[str]]:
    return {
        step.id: {target for target in step.on.values() if target in path.steps}
        for step in path.ordered
    }


def _reach(start: Iterable[str], edges: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(start)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(edges.get(node, ()))
    return seen


def _check_graph(path: CarePath) -> list[FieldError]:
    edges = _edges(path)
    reachable = _reach([path.start], edges)
    errors = [
        _error(
            f"steps.{step.id}",
            f'Step "{step.id}" is unreachable: no event leads to it from the start step '
            f'"{path.start}".',
        )
        for step in path.ordered
        if step.id not in reachable
    ]
    backwards: dict[str, set[str]] = {node: set() for node in edges}
    for node, targets in edges.items():
        for target in targets:
            backwards[target].add(node)
    can_finish = _reach([s.id for s in path.ordered if s.is_final], backwards)
    trapped = [s.id for s in path.ordered if s.id in reachable and s.id not in can_finish]
    errors.extend(_describe_traps(trapped, edges))
    return errors


def _describe_traps(trapped: list[str], edges: dict[str, set[str]]) -> list[FieldError]:
    """Steps from which no final step can be reached: cycles without exit are named as such
    (with their members), the other trapped steps as dead ends or leading into a trap."""
    errors = []
    reported: set[str] = set()
    for node in trapped:
        if node in reported:
            continue
        cycle = sorted(n for n in _reach(edges[node], edges) if node in _reach(edges[n], edges))
        if node in cycle:
            members = " -> ".join([*cycle, cycle[0]])
            names = ", ".join(f'"{n}"' for n in cycle)
            errors.append(
                _error(
                    f"steps.{node}",
                    f"Cycle without exit: steps {names} ({members}) lead only to each other; "
                    "no final step can be reached from them.",
                )
            )
            reported.update(cycle)
    for node in trapped:
        if node in reported:
            continue
        message = (
            f'Step "{node}" is a dead end: it is not final and no event leads out of it.'
            if not edges[node]
            else f'Step "{node}" cannot reach any final step (every way out leads into a '
            "cycle without exit or a dead end)."
        )
        errors.append(_error(f"steps.{node}", message))
    return errors
