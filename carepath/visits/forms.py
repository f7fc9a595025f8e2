from typing import Any

from django import forms

from carepath.accounts.models import Specialty


class OnDemandForm(forms.Form):
    reason = forms.CharField(
        label="What would you like help with?",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    service = forms.ChoiceField(label="Service", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Any available clinician")]
        choices += [(s.code, s.name) for s in Specialty.objects.order_by("name")]
        self.fields["service"].choices = choices  # type: ignore[attr-defined]


class GuestNameForm(forms.Form):
    name = forms.CharField(label="Your name", max_length=100, strip=True)
