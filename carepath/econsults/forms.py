from typing import Any

from django import forms

from carepath.econsults.actions import QUESTION_MIN, TEXT_MAX


class EConsultForm(forms.Form):
    patient_id = forms.IntegerField(label="Patient id", min_value=1)
    specialty = forms.ChoiceField(label="Specialty to ask")
    question = forms.CharField(
        label="Your question",
        widget=forms.Textarea(attrs={"rows": 6}),
        min_length=QUESTION_MIN,
        max_length=TEXT_MAX,
        help_text="Include what you have tried and what you need to know.",
    )

    def __init__(self, *args: Any, specialties: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["specialty"].choices = [("", "Choose a specialty"), *specialties]  # type: ignore[attr-defined]


class EConsultAnswerForm(forms.Form):
    answer = forms.CharField(
        label="Your answer", widget=forms.Textarea(attrs={"rows": 6}), max_length=TEXT_MAX
    )
