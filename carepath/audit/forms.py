from django import forms

from carepath.audit.models import Outcome

SORT_CHOICES = [
    ("-occurred_at", "Newest first"),
    ("occurred_at", "Oldest first"),
    ("action", "Action A to Z"),
    ("actor_email", "User A to Z"),
    ("patient_id", "Patient id"),
    ("outcome", "Outcome"),
]


class AuditFilterForm(forms.Form):
    since = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    until = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    actor = forms.IntegerField(required=False, min_value=1, label="User id")
    patient = forms.IntegerField(required=False, min_value=1, label="Patient id")
    action = forms.CharField(required=False, max_length=64, help_text="Prefix, e.g. patient.")
    outcome = forms.ChoiceField(choices=[("", "Any"), *Outcome.choices], required=False)
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)
