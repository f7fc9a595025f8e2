from typing import Any, cast

from django import forms

from carepath.messaging.models import ThreadKind


class ComposeForm(forms.Form):
    body = forms.CharField(
        label="Message",
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 4, "data-compose-body": ""}),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=255, required=False)


class PatientThreadForm(forms.Form):
    subject = forms.CharField(label="Subject", max_length=500)
    episode = forms.TypedChoiceField(label="About", required=False, coerce=int, empty_value=None)
    body = forms.CharField(
        label="Message",
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 5, "data-compose-body": ""}),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=255, required=False)

    def __init__(self, *args: Any, episodes: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["episode"]).choices = [
            ("", "Something else (general question)"),
            *episodes,
        ]


class StaffThreadForm(forms.Form):
    patient = forms.TypedChoiceField(label="Patient", coerce=int)
    kind = forms.ChoiceField(
        label="Who is it with?",
        choices=[
            (ThreadKind.PATIENT, "The patient (and their care team)"),
            (ThreadKind.CLINICIAN, "Clinicians only, about the patient"),
        ],
        widget=forms.RadioSelect,
        initial=ThreadKind.PATIENT,
    )
    participants = forms.TypedMultipleChoiceField(
        label="Also include", required=False, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    subject = forms.CharField(label="Subject", max_length=500)
    body = forms.CharField(
        label="Message",
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 5, "data-compose-body": ""}),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=255, required=False)

    def __init__(
        self,
        *args: Any,
        patients: list[tuple[int, str]],
        staff: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["patient"]).choices = patients
        cast(forms.ChoiceField, self.fields["participants"]).choices = staff


class EnteredInErrorForm(forms.Form):
    reason = forms.CharField(
        label="Why is this message wrong?",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class QuickReplyForm(forms.Form):
    title = forms.CharField(label="Title", max_length=1000)
    body = forms.CharField(
        label="Text", max_length=100_000, widget=forms.Textarea(attrs={"rows": 4})
    )
    clinic_wide = forms.BooleanField(label="For the whole clinic", required=False)


class SearchForm(forms.Form):
    patient = forms.IntegerField(label="Patient id", min_value=1, required=False)
    q = forms.CharField(label="Search for", max_length=200, required=False)
