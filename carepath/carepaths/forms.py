from typing import Any

from django import forms

from carepath.carepaths.definitions import STEP_KINDS

DEFINITION_MAX_CHARS = 200_000


class DefinitionForm(forms.Form):
    definition = forms.CharField(
        label="Care path (JSON)",
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "code"}),
        max_length=DEFINITION_MAX_CHARS,
        help_text=(
            'An object with "start" and "steps"; each step has id, label, kind ('
            + ", ".join(STEP_KINDS)
            + '), optional expected_within_hours, "on" {event: next step} and "entry" '
            '[{"check_in": {"after_days": 14, "questionnaire": "<code>"}}].'
        ),
    )


class PathFilterForm(forms.Form):
    service_line = forms.ChoiceField(label="Service line", required=False)
    step = forms.CharField(label="Step id", required=False, max_length=64)
    stuck = forms.BooleanField(label="Stuck only", required=False)

    def __init__(self, *args: Any, lines: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["service_line"].choices = [("", "All"), *lines]  # type: ignore[attr-defined]


class ReviewForm(forms.Form):
    needs_visit = forms.BooleanField(
        label="The patient needs a visit (requests a video visit)", required=False
    )
    reason = forms.CharField(
        label="Reason for the visit",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        required=False,
        help_text="Required when the patient needs a visit; the visit team reads it.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("needs_visit") and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", "Say why the patient needs a visit.")
        return cleaned
