from django import forms

from carepath.consent.models import ConsentKind
from carepath.core.us_states import UsState


class RevokeForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        required=False,
        help_text="Optional. Revoking stops new telehealth care until you accept again.",
    )


class ConsentDocumentForm(forms.Form):
    kind = forms.ChoiceField(choices=ConsentKind.choices)
    state = forms.ChoiceField(
        choices=[("", "All states (default)"), *UsState.choices], required=False
    )
    title = forms.CharField(max_length=200)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 12}), max_length=50000)
