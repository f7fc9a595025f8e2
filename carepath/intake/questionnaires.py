"""Questionnaires as data, shaped like FHIR R4 Questionnaire, and the answers to them.

Definition (what `check_questionnaire` accepts): a JSON object with an `item` list. Each item:
  linkId       unique in the whole questionnaire; letters, digits, "_", "-", "."
  text         the question (required except for groups)
  type         string | text | boolean | choice | integer | decimal | date | attachment |
               group | display   (multi-choice is "choice" with repeats: true)
  required, repeats   booleans (repeats on a group = a repeating group)
  answerOption choices only: [{"valueCoding": {"code", "display"}} | {"valueString": "..."}]
  enableWhen   [{"question": linkId, "operator": = != > < >= <= exists, "answer[x]": value}]
  enableBehavior  "all" | "any" (required with more than one enableWhen)
  maxLength    optional, for string/text
  item         children, only on groups

Answers (what `check_answers` accepts): a JSON object keyed by linkId. Items inside plain
groups are keyed at the same level as the group (linkIds are unique); a repeating group's key
holds a list of objects, one per repetition, keyed the same way. A repeating item's value is a
list. Values: string/text str; boolean true/false; choice the option's code (or its
valueString); integer int; decimal number; date "YYYY-MM-DD"; attachment the id of a file the
patient uploaded.

Conditional logic follows FHIR: a question is enabled when its enableWhen holds (and its
groups are enabled); answers of disabled questions do not count and are dropped on submit. A
question inside a repeating group that refers to a sibling looks at the same repetition."""

import datetime as dt
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from carepath.core.errors import ActionRefused

ANSWER_TYPES = frozenset(
    {"string", "text", "boolean", "choice", "integer", "decimal", "date", "attachment"}
)
ITEM_TYPES = ANSWER_TYPES | {"group", "display"}
OPERATORS = frozenset({"=", "!=", ">", "<", ">=", "<=", "exists"})
ORDERED_TYPES = frozenset({"integer", "decimal", "date"})
ANSWER_KEYS = {
    "boolean": {"answerBoolean"},
    "integer": {"answerInteger", "answerDecimal"},
    "decimal": {"answerDecimal", "answerInteger"},
    "date": {"answerDate"},
    "string": {"answerString"},
    "text": {"answerString"},
    "choice": {"answerCoding", "answerString"},
    "attachment": set(),
}
ALL_ANSWER_KEYS = frozenset(
    {
        "answerBoolean",
        "answerInteger",
        "answerDecimal",
        "answerDate",
        "answerString",
        "answerCoding",
    }
)
KNOWN_ITEM_KEYS = frozenset(
    {
        "linkId",
        "text",
        "type",
        "required",
        "repeats",
        "answerOption",
        "enableWhen",
        "enableBehavior",
        "maxLength",
        "item",
        "prefix",
        "definition",
        "code",
        "readOnly",
        "initial",
        "extension",
        "id",
    }
)
LINK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_ITEMS = 300
MAX_DEPTH = 6
MAX_OPTIONS = 100
MAX_REPETITIONS = 20
MAX_REPEATED_VALUES = 20
DEFAULT_MAX_LENGTH = {"string": 500, "text": 5000}
MAX_ANSWERS_BYTES = 200_000

FieldError = dict[str, str]


def _error(path: str, message: str) -> FieldError:
    return {"field": path, "message": message}


class FieldsRefused(ActionRefused):
    """A refusal with several field errors (the API lists them all in `fields`)."""

    def __init__(self, code: str, message: str, fields: list[FieldError]) -> None:
        first = fields[0]["field"] if fields else ""
        super().__init__(code, message, field=first, status=422)
        self.fields = fields


class AnswersInvalid(FieldsRefused):
    """Answers that do not fit the questionnaire; `fields` holds every problem, by path."""

    def __init__(self, fields: list[FieldError]) -> None:
        super().__init__("invalid_answers", "Some answers need your attention.", fields)


class QuestionnaireInvalid(FieldsRefused):
    def __init__(self, fields: list[FieldError]) -> None:
        super().__init__(
            "invalid_questionnaire", "The questionnaire definition has errors.", fields
        )


# --- The parsed tree ---------------------------------------------------------------------------


@dataclass
class Item:
    link_id: str
    type: str
    text: str
    raw: dict[str, Any]
    path: str  # where it sits in the definition, for error messages
    required: bool = False
    repeats: bool = False
    parent: "Item | None" = None
    children: list["Item"] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)  # (code, label)
    max_length: int = 0

    @property
    def is_question(self) -> bool:
        return self.type in ANSWER_TYPES

    @property
    def is_repeating_group(self) -> bool:
        return self.type == "group" and self.repeats

    @property
    def enable_when(self) -> list[dict[str, Any]]:
        conditions = self.raw.get("enableWhen") or []
        return conditions if isinstance(conditions, list) else []

    @property
    def enable_behavior(self) -> str:
        return str(self.raw.get("enableBehavior") or "all")

    @property
    def repeating_ancestors(self) -> list["Item"]:
        """Repeating groups this item sits in, outermost first."""
        chain = []
        node = self.parent
        while node is not None:
            if node.is_repeating_group:
                chain.append(node)
            node = node.parent
        return list(reversed(chain))

    @property
    def ancestors(self) -> list["Item"]:
        chain = []
        node = self.parent
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def option_codes(self) -> set[str]:
        return {code for code, _label in self.options}


@dataclass
class Tree:
    roots: list[Item]
    by_link_id: dict[str, Item]

    def walk(self) -> Iterator[Item]:
        stack = list(reversed(self.roots))
        while stack:
            item = stack.pop()
            yield item
            stack.extend(reversed(item.children))

    def scope_members(self, owner: Item | None) -> list[Item]:
        """Items keyed directly in a scope: the root (owner None) or one repetition of a
        repeating group. Plain groups are transparent; nested repeating groups are keys."""
        members: list[Item] = []
        start = self.roots if owner is None else owner.children

        def visit(items: list[Item]) -> None:
            for item in items:
                if item.type == "group" and not item.repeats:
                    visit(item.children)
                elif item.type != "display":
                    members.append(item)

        visit(start)
        return members


def _options(raw: Any) -> list[tuple[str, str]]:
    options = []
    for option in raw if isinstance(raw, list) else []:
        if not isinstance(option, dict):
            continue
        coding = option.get("valueCoding")
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            options.append((coding["code"], str(coding.get("display") or coding["code"])))
        elif isinstance(option.get("valueString"), str):
            options.append((option["valueString"], option["valueString"]))
    return options


def build_tree(definition: Any) -> Tree:
    """The item tree of a definition that passed check_questionnaire (lenient otherwise)."""
    by_link_id: dict[str, Item] = {}

    def build(raw_items: Any, parent: Item | None, path: str) -> list[Item]:
        items = []
        for index, raw in enumerate(raw_items if isinstance(raw_items, list) else []):
            if not isinstance(raw, dict):
                continue
            item_type = str(raw.get("type", ""))
            item = Item(
                link_id=str(raw.get("linkId", "")),
                type=item_type,
                text=str(raw.get("text") or ""),
                raw=raw,
                path=f"{path}[{index}]",
                required=raw.get("required") is True,
                repeats=raw.get("repeats") is True,
                parent=parent,
                options=_options(raw.get("answerOption")),
                max_length=(
                    raw["maxLength"]
                    if isinstance(raw.get("maxLength"), int) and raw["maxLength"] > 0
                    else DEFAULT_MAX_LENGTH.get(item_type, 0)
                ),
            )
            if item.link_id and item.link_id not in by_link_id:
                by_link_id[item.link_id] = item
            item.children = build(raw.get("item"), item, f"{item.path}.item")
            items.append(item)
        return items

    items = definition.get("item") if isinstance(definition, dict) else None
    return Tree(roots=build(items, None, "item"), by_link_id=by_link_id)


# --- Checking a definition ---------------------------------------------------------------------


def check_questionnaire(definition: Any) -> list[FieldError]:
    """Every problem in a definition, each with the path of the offending part, e.g.
    `item[2].enableWhen[0].question`. An empty list means it can be saved."""
    if not isinstance(definition, dict):
        return [_error("definition", "The definition must be a JSON object.")]
    errors: list[FieldError] = []
    resource_type = definition.get("resourceType")
    if resource_type is not None and resource_type != "Questionnaire":
        errors.append(_error("resourceType", 'resourceType must be "Questionnaire".'))
    items = definition.get("item")
    if not isinstance(items, list) or not items:
        return [*errors, _error("item", "Add at least one item (a list named item).")]

    seen: dict[str, str] = {}
    count = 0

    def check_items(raw_items: list[Any], path: str, depth: int, in_repeating: bool) -> None:
        nonlocal count
        for index, raw in enumerate(raw_items):
            here = f"{path}[{index}]"
            count += 1
            if not isinstance(raw, dict):
                errors.append(_error(here, "Each item must be a JSON object."))
                continue
            for key in raw:
                if key not in KNOWN_ITEM_KEYS:
                    errors.append(_error(f"{here}.{key}", f'Unknown item property "{key}".'))
            link_id = raw.get("linkId")
            if not isinstance(link_id, str) or not LINK_ID.match(link_id):
                errors.append(
                    _error(
                        f"{here}.linkId",
                        "linkId is required: 1-64 letters, digits, '_', '-' or '.'.",
                    )
                )
            elif link_id in seen:
                errors.append(
                    _error(
                        f"{here}.linkId",
                        f'Duplicate linkId "{link_id}" (first used at {seen[link_id]}).',
                    )
                )
            else:
                seen[link_id] = here
            item_type = raw.get("type")
            if item_type not in ITEM_TYPES:
                errors.append(
                    _error(
                        f"{here}.type",
                        f'Unknown item type "{item_type}". Use one of: '
                        + ", ".join(sorted(ITEM_TYPES))
                        + ".",
                    )
                )
                continue
            text = raw.get("text")
            if item_type != "group" and (not isinstance(text, str) or not text.strip()):
                errors.append(_error(f"{here}.text", "Give the item a text."))
            elif text is not None and not isinstance(text, str):
                errors.append(_error(f"{here}.text", "text must be a string."))
            for flag in ("required", "repeats"):
                if flag in raw and not isinstance(raw[flag], bool):
                    errors.append(_error(f"{here}.{flag}", f"{flag} must be true or false."))
            if item_type == "display" and (raw.get("required") or raw.get("repeats")):
                errors.append(_error(here, "A display item cannot be required or repeat."))
            if "maxLength" in raw and (
                item_type not in ("string", "text")
                or not isinstance(raw["maxLength"], int)
                or isinstance(raw["maxLength"], bool)
                or not 1 <= raw["maxLength"] <= 20000
            ):
                errors.append(
                    _error(f"{here}.maxLength", "maxLength (1-20000) applies to string and text.")
                )
            children = raw.get("item")
            if item_type == "group":
                if not isinstance(children, list) or not children:
                    errors.append(_error(f"{here}.item", "A group needs at least one item."))
                elif depth >= MAX_DEPTH:
                    errors.append(_error(f"{here}.item", f"Nest groups at most {MAX_DEPTH} deep."))
                else:
                    check_items(
                        children,
                        f"{here}.item",
                        depth + 1,
                        in_repeating or raw.get("repeats") is True,
                    )
            elif children is not None:
                errors.append(_error(f"{here}.item", "Only groups contain items."))
            if item_type == "attachment" and in_repeating:
                errors.append(
                    _error(here, "Attachment questions cannot sit inside a repeating group.")
                )
            check_options(raw, item_type, here)

    def check_options(raw: dict[str, Any], item_type: str, here: str) -> None:
        options = raw.get("answerOption")
        if item_type != "choice":
            if options is not None:
                errors.append(
                    _error(f"{here}.answerOption", "Only choice items have answerOption.")
                )
            return
        if not isinstance(options, list) or not options:
            errors.append(_error(f"{here}.answerOption", "A choice needs at least one option."))
            return
        if len(options) > MAX_OPTIONS:
            errors.append(_error(f"{here}.answerOption", f"At most {MAX_OPTIONS} options."))
        codes: set[str] = set()
        for index, option in enumerate(options):
            where = f"{here}.answerOption[{index}]"
            code: Any = None
            if isinstance(option, dict) and isinstance(option.get("valueCoding"), dict):
                code = option["valueCoding"].get("code")
            elif isinstance(option, dict) and "valueString" in option:
                code = option["valueString"]
            if not isinstance(code, str) or not code.strip():
                errors.append(
                    _error(
                        where,
                        'An option is {"valueCoding": {"code", "display"}} or '
                        '{"valueString": "..."}.',
                    )
                )
            elif code in codes:
                errors.append(_error(where, f'Duplicate option "{code}".'))
            else:
                codes.add(code)

    check_items(items, "item", 1, False)
    if count > MAX_ITEMS:
        errors.append(_error("item", f"At most {MAX_ITEMS} items."))
    if errors:
        return errors  # enableWhen checks need a sound tree
    tree = build_tree(definition)
    for item in tree.walk():
        errors.extend(_check_enable_when(item, tree))
    if not errors:
        errors.extend(_check_cycles(tree))
    return errors


def _check_enable_when(item: Item, tree: Tree) -> list[FieldError]:
    raw = item.raw
    errors: list[FieldError] = []
    if "enableWhen" not in raw:
        if "enableBehavior" in raw:
            errors.append(_error(f"{item.path}.enableBehavior", "enableBehavior needs enableWhen."))
        return errors
    conditions = raw["enableWhen"]
    if not isinstance(conditions, list) or not conditions:
        return [_error(f"{item.path}.enableWhen", "enableWhen must be a non-empty list.")]
    behavior = raw.get("enableBehavior")
    if len(conditions) > 1 and behavior not in ("all", "any"):
        errors.append(
            _error(
                f"{item.path}.enableBehavior",
                'With several enableWhen conditions, set enableBehavior to "all" or "any".',
            )
        )
    elif behavior is not None and behavior not in ("all", "any"):
        errors.append(_error(f"{item.path}.enableBehavior", 'Use "all" or "any".'))
    for index, condition in enumerate(conditions):
        errors.extend(check_condition(condition, tree, f"{item.path}.enableWhen[{index}]"))
    return errors


def check_condition(condition: Any, tree: Tree, where: str) -> list[FieldError]:
    """One enableWhen-shaped condition (also used by red-flag rules)."""
    if not isinstance(condition, dict):
        return [_error(where, "A condition is a JSON object.")]
    question_id = condition.get("question")
    target = tree.by_link_id.get(question_id) if isinstance(question_id, str) else None
    if target is None:
        return [_error(f"{where}.question", f'No question with linkId "{question_id}".')]
    if not target.is_question:
        return [
            _error(
                f"{where}.question",
                f'"{question_id}" is a {target.type}; conditions refer to questions.',
            )
        ]
    operator = condition.get("operator")
    if operator not in OPERATORS:
        return [
            _error(
                f"{where}.operator",
                f'Unknown operator "{operator}". Use one of: ' + " ".join(sorted(OPERATORS)),
            )
        ]
    answer_keys = [key for key in condition if key.startswith("answer")]
    unknown = set(condition) - {"question", "operator"} - ALL_ANSWER_KEYS
    if unknown:
        return [_error(f"{where}.{sorted(unknown)[0]}", "Unknown condition property.")]
    if len(answer_keys) != 1:
        return [_error(where, "Give exactly one answer[x] (e.g. answerBoolean).")]
    key = answer_keys[0]
    value = condition[key]
    if operator == "exists":
        if key != "answerBoolean" or not isinstance(value, bool):
            return [_error(f"{where}.{key}", '"exists" takes answerBoolean true or false.')]
        return []
    if key not in ANSWER_KEYS[target.type]:
        allowed = " or ".join(sorted(ANSWER_KEYS[target.type])) or '"exists" only'
        return [_error(f"{where}.{key}", f'"{question_id}" is a {target.type}: use {allowed}.')]
    if operator not in ("=", "!=") and target.type not in ORDERED_TYPES:
        return [
            _error(
                f"{where}.operator",
                f'"{operator}" compares numbers and dates; "{question_id}" is a {target.type}.',
            )
        ]
    problem = _check_condition_value(key, value, target)
    return [_error(f"{where}.{key}", problem)] if problem else []


def _check_condition_value(key: str, value: Any, target: Item) -> str:
    if key == "answerBoolean" and not isinstance(value, bool):
        return "answerBoolean must be true or false."
    if key == "answerInteger" and (not isinstance(value, int) or isinstance(value, bool)):
        return "answerInteger must be a whole number."
    if key == "answerDecimal" and not _is_number(value):
        return "answerDecimal must be a number."
    if key == "answerDate" and _parse_date(value) is None:
        return "answerDate must be a date, YYYY-MM-DD."
    if key == "answerString" and not isinstance(value, str):
        return "answerString must be a string."
    if key == "answerCoding":
        if not isinstance(value, dict) or not isinstance(value.get("code"), str):
            return 'answerCoding must be {"code": "..."}.'
        value = value["code"]
    if target.type == "choice" and value not in target.option_codes():
        return f'"{value}" is not one of the options of "{target.link_id}".'
    return ""


def _check_cycles(tree: Tree) -> list[FieldError]:
    """Enablement dependencies: an item depends on the questions its enableWhen names and on
    the groups it sits in (a disabled group disables its items). A cycle can never settle."""
    edges: dict[str, list[str]] = {}
    for item in tree.walk():
        targets = [str(c.get("question")) for c in item.enable_when if isinstance(c, dict)]
        if item.parent is not None:
            targets.append(item.parent.link_id)
        edges[item.link_id] = targets
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []
    for start in edges:
        if state.get(start):
            continue
        cycle = _find_cycle(start, edges, state, stack)
        if cycle:
            item = tree.by_link_id[cycle[0]]
            return [
                _error(
                    f"{item.path}.enableWhen",
                    "enableWhen conditions form a cycle: " + " → ".join(cycle) + ".",
                )
            ]
    return []


def _find_cycle(
    node: str, edges: dict[str, list[str]], state: dict[str, int], stack: list[str]
) -> list[str]:
    # Iterative DFS: definitions are small, but recursion depth should not depend on input.
    work: list[tuple[str, Iterator[str]]] = [(node, iter(edges.get(node, [])))]
    state[node] = 1
    stack.append(node)
    while work:
        current, successors = work[-1]
        nxt = next(successors, None)
        if nxt is None:
            work.pop()
            stack.pop()
            state[current] = 2
            continue
        if nxt not in edges:
            continue
        if state.get(nxt) == 1:
            return [*stack[stack.index(nxt) :], nxt]
        if not state.get(nxt):
            state[nxt] = 1
            stack.append(nxt)
            work.append((nxt, iter(edges.get(nxt, []))))
    return []


def questionnaire_invalid_or_none(definition: Any) -> None:
    errors = check_questionnaire(definition)
    if errors:
        raise QuestionnaireInvalid(errors)


# --- Values ------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _parse_date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not DATE.match(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def values_of(value: Any) -> list[Any]:
    if is_blank(value):
        return []
    if isinstance(value, list):
        return [v for v in value if not is_blank(v)]
    return [value]


def _condition_target(condition: dict[str, Any]) -> Any:
    for key in ALL_ANSWER_KEYS:
        if key in condition:
            value = condition[key]
            if key == "answerCoding" and isinstance(value, dict):
                return value.get("code")
            if key == "answerDate":
                return _parse_date(value)
            return value
    return None


def _comparable(value: Any, target: Any) -> Any:
    if isinstance(target, dt.date):
        return _parse_date(value)
    if _is_number(target) and not _is_number(value):
        return None
    return value


def condition_holds(condition: dict[str, Any], answers: list[Any]) -> bool:
    """FHIR R4 semantics: = true if some answer equals; != true if some answer differs;
    ordering operators true if some answer compares; exists compares presence."""
    operator = condition.get("operator")
    if operator == "exists":
        return bool(answers) == bool(condition.get("answerBoolean"))
    target = _condition_target(condition)
    for raw in answers:
        value = _comparable(raw, target)
        if value is None or target is None:
            continue
        if isinstance(value, bool) != isinstance(target, bool):
            continue
        try:
            if (
                (operator == "=" and value == target)
                or (operator == "!=" and value != target)
                or (operator == ">" and value > target)
                or (operator == "<" and value < target)
                or (operator == ">=" and value >= target)
                or (operator == "<=" and value <= target)
            ):
                return True
        except TypeError:
            continue
    return False


# --- Enablement over answers -------------------------------------------------------------------

Scope = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """Where an item is being evaluated: the chain of (repeating group, index, repetition)
    it sits in, innermost last."""

    frames: tuple[tuple[str, int, Scope], ...]
    root: Scope

    def scope(self) -> Scope:
        return self.frames[-1][2] if self.frames else self.root

    def enter(self, group: Item, index: int, repetition: Scope) -> "Context":
        return Context((*self.frames, (group.link_id, index, repetition)), self.root)

    def path(self, link_id: str) -> str:
        return ".".join([*(f"{g}[{i}]" for g, i, _r in self.frames), link_id])


def answers_for(question: Item, context: Context) -> list[Any]:
    """Every answer to `question` visible from `context`: in the same repetition when the
    question shares the repeating groups, else across all repetitions below the shared part."""
    chain = question.repeating_ancestors
    depth = 0
    while (
        depth < len(chain)
        and depth < len(context.frames)
        and chain[depth].link_id == context.frames[depth][0]
    ):
        depth += 1
    scopes: list[Scope] = [context.frames[depth - 1][2] if depth else context.root]
    for group in chain[depth:]:
        nested: list[Scope] = []
        for scope in scopes:
            instances = scope.get(group.link_id)
            if isinstance(instances, list):
                nested.extend(r for r in instances if isinstance(r, dict))
        scopes = nested
    found: list[Any] = []
    for scope in scopes:
        found.extend(values_of(scope.get(question.link_id)))
    return found


def is_enabled(item: Item, tree: Tree, context: Context) -> bool:
    conditions = [c for c in item.enable_when if isinstance(c, dict)]
    if not conditions:
        return True
    results = []
    for condition in conditions:
        question = tree.by_link_id.get(str(condition.get("question")))
        if question is None:
            results.append(False)
            continue
        results.append(condition_holds(condition, answers_for(question, context)))
    return any(results) if item.enable_behavior == "any" else all(results)


def _prune_once(tree: Tree, owner: Item | None, context: Context) -> bool:
    """Drop answers of disabled items in this scope (and below); True if anything changed."""
    scope = context.scope()
    changed = False

    def enabled_with_groups(item: Item) -> bool:
        node: Item | None = item
        while node is not None and node is not owner:
            if not is_enabled(node, tree, context):
                return False
            node = node.parent
        return True

    for member in tree.scope_members(owner):
        if member.link_id not in scope:
            continue
        if not enabled_with_groups(member):
            del scope[member.link_id]
            changed = True
        elif member.is_repeating_group and isinstance(scope[member.link_id], list):
            for index, repetition in enumerate(scope[member.link_id]):
                if isinstance(repetition, dict):
                    changed |= _prune_once(tree, member, context.enter(member, index, repetition))
    return changed


def prune_disabled(tree: Tree, answers: Scope) -> Scope:
    """A copy of the answers without those of disabled questions. Disabling one question can
    disable another, so repeat until nothing changes (bounded: the graph has no cycles)."""
    import copy

    pruned: Scope = copy.deepcopy(answers) if isinstance(answers, dict) else {}
    for _round in range(len(tree.by_link_id) + 1):
        if not _prune_once(tree, None, Context((), pruned)):
            break
    return pruned


# --- Checking answers --------------------------------------------------------------------------


def check_answers(
    questionnaire: Any,
    answers: Any,
    *,
    patient_id: int | None = None,
    skip_types: Iterable[str] = (),
) -> list[FieldError]:
    """Every problem with the answers, by path (`fever`, `meds[1].dose`). `questionnaire` is a
    Questionnaire or its definition. With `patient_id`, attachment answers must be files that
    patient uploaded about themselves. `skip_types` leaves some item types unchecked (the
    questions page checks attachments on the next step)."""
    definition = getattr(questionnaire, "definition", questionnaire)
    tree = build_tree(definition)
    if not isinstance(answers, dict):
        return [_error("answers", "Answers must be a JSON object keyed by linkId.")]
    skip = set(skip_types)
    errors: list[FieldError] = []
    pruned = prune_disabled(tree, answers)
    file_ids: list[tuple[str, Any]] = []

    def check_scope(owner: Item | None, scope: Scope, original: Scope, context: Context) -> None:
        members = {m.link_id: m for m in tree.scope_members(owner)}
        for key in original:
            if key not in members:
                errors.append(_error(context.path(key), f'"{key}" is not a question here.'))
        for member in members.values():
            if member.link_id not in scope and member.link_id in original:
                continue  # answered, but the question is disabled: ignored
            if not _enabled_chain(member, owner, tree, context):
                continue
            if member.type in skip:
                continue
            value = scope.get(member.link_id)
            where = context.path(member.link_id)
            if member.is_repeating_group:
                check_group(member, value, original.get(member.link_id), where, context)
                continue
            values = values_of(value)
            if not values:
                if member.required:
                    errors.append(_error(where, "This question is required."))
                continue
            if isinstance(value, list) and not member.repeats:
                errors.append(_error(where, "Give one answer."))
                continue
            if len(values) > MAX_REPEATED_VALUES:
                errors.append(_error(where, f"At most {MAX_REPEATED_VALUES} answers."))
                continue
            for position, single in enumerate(values):
                at = f"{where}[{position}]" if isinstance(value, list) else where
                problem = _check_value(member, single)
                if problem:
                    errors.append(_error(at, problem))
                elif member.type == "attachment":
                    file_ids.append((at, single))

    def check_group(group: Item, value: Any, original: Any, where: str, context: Context) -> None:
        if is_blank(value):
            if group.required:
                errors.append(_error(where, "Add at least one."))
            return
        if not isinstance(value, list) or not isinstance(original, list):
            errors.append(_error(where, "A repeating group is a list of objects."))
            return
        if len(value) > MAX_REPETITIONS:
            errors.append(_error(where, f"At most {MAX_REPETITIONS} entries."))
            return
        for index, repetition in enumerate(value):
            raw = original[index] if index < len(original) else {}
            if not isinstance(repetition, dict) or not isinstance(raw, dict):
                errors.append(_error(f"{where}[{index}]", "Each entry is a JSON object."))
                continue
            check_scope(group, repetition, raw, context.enter(group, index, repetition))

    check_scope(None, pruned, answers, Context((), pruned))
    if patient_id is not None and file_ids:
        errors.extend(_check_files(file_ids, patient_id))
    return errors


def _enabled_chain(member: Item, owner: Item | None, tree: Tree, context: Context) -> bool:
    node: Item | None = member
    while node is not None and node is not owner:
        if not is_enabled(node, tree, context):
            return False
        node = node.parent
    return True


def _check_value(item: Item, value: Any) -> str:
    kind = item.type
    if kind in ("string", "text"):
        if not isinstance(value, str):
            return "Enter text."
        if len(value) > item.max_length:
            return f"Keep this under {item.max_length} characters (it has {len(value)})."
        return ""
    if kind == "boolean":
        return "" if isinstance(value, bool) else "Answer yes or no."
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return "Enter a whole number."
        return "" if abs(value) < 10**12 else "That number is too large."
    if kind == "decimal":
        if not _is_number(value):
            return "Enter a number."
        return "" if abs(float(value)) < 1e12 else "That number is too large."
    if kind == "date":
        return "" if _parse_date(value) is not None else "Enter a date as YYYY-MM-DD."
    if kind == "choice":
        if not isinstance(value, str) or value not in item.option_codes():
            return "Choose one of the options."
        return ""
    if kind == "attachment":
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            return "Attach a file you uploaded."
        return ""
    return f"Unsupported question type {kind}."


def _check_files(file_ids: list[tuple[str, Any]], patient_id: int) -> list[FieldError]:
    from carepath.files.models import StoredFile

    ids = {value for _where, value in file_ids}
    owned = set(
        StoredFile.objects.filter(
            pk__in=ids,
            patient_id=patient_id,
            uploaded_by_id=patient_id,
            entered_in_error_at__isnull=True,
        ).values_list("pk", flat=True)
    )
    return [
        _error(where, "That file is not one you uploaded.")
        for where, value in file_ids
        if value not in owned
    ]


def clean_answers(questionnaire: Any, answers: Any) -> Scope:
    """What is stored on submit: the answers of enabled questions, blanks removed."""
    definition = getattr(questionnaire, "definition", questionnaire)
    pruned = prune_disabled(build_tree(definition), answers if isinstance(answers, dict) else {})

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not is_blank(strip(v))}
        if isinstance(value, list):
            items = [strip(v) for v in value]
            return [v for v in items if not is_blank(v)]
        return value

    cleaned = strip(pruned)
    return cleaned if isinstance(cleaned, dict) else {}


def attachment_link_ids(questionnaire: Any) -> list[Item]:
    definition = getattr(questionnaire, "definition", questionnaire)
    return [item for item in build_tree(definition).walk() if item.type == "attachment"]
