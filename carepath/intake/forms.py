"""Questionnaires as HTML forms: render nodes for the templates, and answers parsed back out
of a POST. Field names are the answer paths: `fever`, `meds[0].dose`. A repeating group sends
its number of entries as `<path>.__count`."""

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.http import QueryDict

from carepath.core.us_states import UsState
from carepath.intake.questionnaires import (
    MAX_REPETITIONS,
    FieldError,
    Item,
    Tree,
    build_tree,
    values_of,
)

INTEGER = re.compile(r"^[+-]?\d{1,12}$")
RADIO_LIMIT = 6
OPERATOR_WORDS = {
    "=": "is",
    "!=": "is not",
    ">": "is more than",
    "<": "is less than",
    ">=": "is at least",
    "<=": "is at most",
}


@dataclass
class Option:
    code: str
    label: str
    checked: bool
    html_id: str


@dataclass
class Node:
    item: Item
    kind: str  # question | group | repeating | display
    name: str = ""
    html_id: str = ""
    value: str = ""
    options: list[Option] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    children: list["Node"] = field(default_factory=list)
    instances: list["Instance"] = field(default_factory=list)
    count_name: str = ""
    condition_hint: str = ""
    enable_when_json: str = ""
    widget: str = ""

    @property
    def link_id(self) -> str:
        return self.item.link_id

    @property
    def text(self) -> str:
        return self.item.text

    @property
    def required(self) -> bool:
        return self.item.required


@dataclass
class Instance:
    index: int
    prefix: str
    label: str
    children: list[Node]
    remove_value: str


def html_id(name: str) -> str:
    return "q-" + re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")


def _display_value(item: Item, value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if item.type == "choice":
        labels = dict(item.options)
        return str(labels.get(value, value))
    return str(value)


def condition_hint(item: Item, tree: Tree) -> str:
    """ "Answer only if …" for readers without JavaScript (and for screen readers)."""
    parts = []
    for condition in item.enable_when:
        question = tree.by_link_id.get(str(condition.get("question")))
        if question is None:
            continue
        operator = condition.get("operator")
        if operator == "exists":
            answered = "is answered" if condition.get("answerBoolean") else "is not answered"
            parts.append(f"“{question.text}” {answered}")
            continue
        target: Any = None
        for key, value in condition.items():
            if key.startswith("answer"):
                target = value.get("code") if isinstance(value, dict) else value
        words = OPERATOR_WORDS.get(str(operator), str(operator))
        parts.append(f"“{question.text}” {words} {_display_value(question, target)}")
    if not parts:
        return ""
    joiner = " or " if item.enable_behavior == "any" else " and "
    return "Answer only if " + joiner.join(parts) + "."


def _errors_for(errors: dict[str, list[str]], name: str) -> list[str]:
    found = list(errors.get(name, []))
    for key, messages in errors.items():
        if key.startswith(name + "[") and "." not in key[len(name) :]:
            found.extend(messages)
    return found


def build_nodes(
    definition: Any, answers: Any, errors: list[FieldError] | None = None
) -> list[Node]:
    """The questionnaire's render tree, filled in with the draft's answers. Attachment
    questions are left out: they are answered on the photos step."""
    tree = build_tree(definition)
    by_field: dict[str, list[str]] = {}
    for error in errors or []:
        by_field.setdefault(error["field"], []).append(error["message"])

    def nodes_for(items: list[Item], scope: dict[str, Any], prefix: str) -> list[Node]:
        nodes = []
        for item in items:
            node = node_for(item, scope, prefix)
            if node is not None:
                nodes.append(node)
        return nodes

    def node_for(item: Item, scope: dict[str, Any], prefix: str) -> Node | None:
        if item.type == "attachment":
            return None
        name = prefix + item.link_id
        node = Node(
            item=item,
            kind="question",
            name=name,
            html_id=html_id(name),
            errors=_errors_for(by_field, name),
            condition_hint=condition_hint(item, tree),
            enable_when_json=json.dumps(item.enable_when) if item.enable_when else "",
        )
        if item.type == "display":
            node.kind = "display"
            return node
        if item.type == "group" and not item.repeats:
            node.kind = "group"
            node.children = nodes_for(item.children, scope, prefix)
            return node if node.children else None
        if item.is_repeating_group:
            node.kind = "repeating"
            raw = scope.get(item.link_id)
            repetitions = [r for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []
            if not repetitions:
                repetitions = [{}]
            node.count_name = f"{name}.__count"
            for index, repetition in enumerate(repetitions[:MAX_REPETITIONS]):
                inner = f"{name}[{index}]."
                node.instances.append(
                    Instance(
                        index=index,
                        prefix=inner,
                        label=f"{item.text or item.link_id} {index + 1}",
                        children=nodes_for(item.children, repetition, inner),
                        remove_value=f"{name}[{index}]",
                    )
                )
            return node
        value = scope.get(item.link_id)
        chosen = {str(v) for v in values_of(value)}
        if item.type == "choice":
            node.widget = (
                "checkbox"
                if item.repeats
                else ("radio" if len(item.options) <= RADIO_LIMIT else "select")
            )
            node.options = [
                Option(code, label, code in chosen, f"{node.html_id}-{index}")
                for index, (code, label) in enumerate(item.options)
            ]
        elif item.type == "boolean":
            node.widget = "boolean"
            node.options = [
                Option("yes", "Yes", value is True, f"{node.html_id}-yes"),
                Option("no", "No", value is False, f"{node.html_id}-no"),
            ]
        else:
            node.widget = item.type
            node.value = "" if value is None or isinstance(value, list) else str(value)
        return node

    return nodes_for(tree.roots, answers if isinstance(answers, dict) else {}, "")


def _parse_value(item: Item, post: QueryDict, name: str) -> Any:
    if item.type == "choice" and item.repeats:
        return [v for v in post.getlist(name) if v]
    raw = post.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if raw == "":
        return None
    if item.type == "boolean":
        return {"yes": True, "no": False}.get(raw, raw)
    if item.type == "integer":
        return int(raw) if INTEGER.match(raw) else raw
    if item.type == "decimal":
        try:
            number = float(raw)
        except ValueError:
            return raw
        return number if math.isfinite(number) else raw
    return raw


def parse_answers(definition: Any, post: QueryDict, existing: Any) -> dict[str, Any]:
    """Answers from a questions-page POST. Photo answers are kept from the draft (they are
    set on the photos step). What cannot be parsed is kept as typed, so nothing is lost and
    check_answers names the problem. A repeating group's entries left wholly blank are
    dropped, except the one "Add another" just asked for."""
    tree = build_tree(definition)
    removed = set(post.getlist("remove_instance"))
    added = set(post.getlist("add_instance"))

    def parse_scope(owner: Item | None, prefix: str, old: dict[str, Any]) -> dict[str, Any]:
        scope: dict[str, Any] = {}
        for member in tree.scope_members(owner):
            name = prefix + member.link_id
            if member.type == "attachment":
                if member.link_id in old:
                    scope[member.link_id] = old[member.link_id]
                continue
            if member.is_repeating_group:
                try:
                    count = int(post.get(f"{name}.__count", "0"))
                except ValueError:
                    count = 0
                count = max(0, min(count, MAX_REPETITIONS))
                old_list = old.get(member.link_id)
                old_reps = old_list if isinstance(old_list, list) else []
                repetitions = []
                for index in range(count):
                    if f"{name}[{index}]" in removed:
                        continue
                    previous = old_reps[index] if index < len(old_reps) else {}
                    parsed = parse_scope(
                        member,
                        f"{name}[{index}].",
                        previous if isinstance(previous, dict) else {},
                    )
                    if parsed:  # an entry left blank is no entry
                        repetitions.append(parsed)
                if name in added and len(repetitions) < MAX_REPETITIONS:
                    repetitions.append({})
                if repetitions:
                    scope[member.link_id] = repetitions
                continue
            value = _parse_value(member, post, name)
            if value is not None and value != []:
                scope[member.link_id] = value
        return scope

    return parse_scope(None, "", existing if isinstance(existing, dict) else {})


# --- Plain Django forms ------------------------------------------------------------------------


class ServiceLineChoiceForm(forms.Form):
    service_line = forms.ChoiceField(
        label="What would you like help with?", widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, lines: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service_line"].choices = lines  # type: ignore[attr-defined]


class StateForm(forms.Form):
    state = forms.ChoiceField(
        label="Which state are you in right now?",
        choices=[("", "Choose a state"), *list(UsState.choices)],
        help_text=(
            "Clinicians may only care for you where they are licensed, so we need the state "
            "you are physically in today, even if you live elsewhere."
        ),
    )


class UploadForm(forms.Form):
    link_id = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)
    file = forms.FileField(label="Photo or document")


class ReplyForm(forms.Form):
    text = forms.CharField(
        label="Your reply", widget=forms.Textarea(attrs={"rows": 5}), max_length=5000
    )


class AnswerForm(forms.Form):
    message = forms.CharField(
        label="Message to the patient",
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=5000,
        required=False,
        help_text="What the patient reads. Plain language.",
    )
    subjective = forms.CharField(
        label="Subjective",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=20000,
        required=False,
    )
    objective = forms.CharField(
        label="Objective",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=20000,
        required=False,
    )
    assessment = forms.CharField(
        label="Assessment",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=20000,
        required=False,
    )
    plan = forms.CharField(
        label="Plan", widget=forms.Textarea(attrs={"rows": 3}), max_length=20000, required=False
    )


class RequestInfoForm(forms.Form):
    question = forms.CharField(
        label="What do you need from the patient?",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
    )


class EscalateForm(forms.Form):
    mode = forms.ChoiceField(
        label="Live visit type",
        choices=[
            ("video", "Video visit"),
            ("audio", "Audio visit"),
            ("chat", "Chat visit"),
            ("facilitated", "Facilitated visit"),
        ],
    )
    reason = forms.CharField(
        label="Reason for the live visit",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
    )


class PatientMessageForm(forms.Form):
    text = forms.CharField(
        label="Message to the patient", widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )


class CloseForm(forms.Form):
    reason = forms.CharField(
        label="Reason for closing", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )


class AmendForm(forms.Form):
    text = forms.CharField(
        label="Amendment", widget=forms.Textarea(attrs={"rows": 3}), max_length=20000
    )


class QuestionnaireImportForm(forms.Form):
    code = forms.SlugField(label="Code", max_length=60, help_text="e.g. dermatology-intake")
    title = forms.CharField(label="Title", max_length=200)
    definition = forms.CharField(
        label="Definition (FHIR Questionnaire JSON)",
        widget=forms.Textarea(attrs={"rows": 20, "spellcheck": "false", "class": "code"}),
        max_length=500_000,
        help_text="A JSON object with an item list, as in a FHIR R4 Questionnaire.",
    )


class ServiceLineForm(forms.Form):
    code = forms.SlugField(label="Code", max_length=60)
    name = forms.CharField(label="Name", max_length=120)
    description = forms.CharField(
        label="Description",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        required=False,
    )
    questionnaire = forms.TypedChoiceField(label="Questionnaire", coerce=int)
    sla_minutes = forms.IntegerField(
        label="SLA (minutes)", min_value=1, max_value=14 * 24 * 60, help_text="e.g. 240 or 1440"
    )
    specialty = forms.ChoiceField(label="Specialty that answers")
    allowed_modes = forms.MultipleChoiceField(
        label="Allowed modes",
        widget=forms.CheckboxSelectMultiple,
        choices=[
            ("async", "Online (asynchronous)"),
            ("video", "Video"),
            ("audio", "Audio"),
            ("chat", "Chat"),
            ("facilitated", "Facilitated"),
        ],
    )
    red_flag_rules = forms.CharField(
        label="Red-flag rules (JSON list)",
        widget=forms.Textarea(attrs={"rows": 12, "spellcheck": "false", "class": "code"}),
        max_length=200_000,
        required=False,
        initial="[]",
    )
    active = forms.BooleanField(label="Offered to patients", required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        questionnaires: list[tuple[int, str]],
        specialties: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["questionnaire"].choices = questionnaires  # type: ignore[attr-defined]
        self.fields["specialty"].choices = specialties  # type: ignore[attr-defined]


# --- Reading answers back ----------------------------------------------------------------------


@dataclass
class SummaryRow:
    text: str
    values: list[str]
    file_ids: list[int]
    depth: int
    heading: bool = False


def summary_rows(definition: Any, answers: Any) -> list[SummaryRow]:
    """The answers as question/answer rows, in questionnaire order (unanswered left out)."""
    tree = build_tree(definition)
    rows: list[SummaryRow] = []

    def has_answer(item: Item, scope: dict[str, Any]) -> bool:
        if item.type == "group" and not item.repeats:
            return any(has_answer(child, scope) for child in item.children)
        return bool(values_of(scope.get(item.link_id)))

    def visit(items: list[Item], scope: dict[str, Any], depth: int) -> None:
        for item in items:
            if item.type == "display" or not has_answer(item, scope):
                continue
            if item.type == "group" and not item.repeats:
                rows.append(SummaryRow(item.text or item.link_id, [], [], depth, heading=True))
                visit(item.children, scope, depth + 1)
            elif item.is_repeating_group:
                for index, repetition in enumerate(values_of(scope.get(item.link_id))):
                    if not isinstance(repetition, dict):
                        continue
                    label = f"{item.text or item.link_id} {index + 1}"
                    rows.append(SummaryRow(label, [], [], depth, heading=True))
                    visit(item.children, repetition, depth + 1)
            elif item.type == "attachment":
                ids = [v for v in values_of(scope.get(item.link_id)) if isinstance(v, int)]
                rows.append(SummaryRow(item.text, [], ids, depth))
            else:
                values = [_display_value(item, v) for v in values_of(scope.get(item.link_id))]
                rows.append(SummaryRow(item.text, values, [], depth))

    visit(tree.roots, answers if isinstance(answers, dict) else {}, 0)
    return rows
