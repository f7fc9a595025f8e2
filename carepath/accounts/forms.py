import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.http import HttpRequest

from carepath.accounts.models import User
from carepath.core.languages import Language
from carepath.core.us_states import UsState

US_TIME_ZONES = [
    ("America/New_York", "Eastern"),
    ("America/Chicago", "Central"),
    ("America/Denver", "Mountain"),
    ("America/Phoenix", "Arizona"),
    ("America/Los_Angeles", "Pacific"),
    ("America/Anchorage", "Alaska"),
    ("Pacific/Honolulu", "Hawaii"),
    ("America/Puerto_Rico", "Atlantic (Puerto Rico)"),
]


def check_birth_date(value: dt.date) -> dt.date:
    today = dt.date.today()
    if value > today:
        raise forms.ValidationError("The date of birth cannot be in the future.")
    if value.year < today.year - 130:
        raise forms.ValidationError("Please check the year of birth.")
    return value


class PatientDetailsForm(forms.Form):
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    date_of_birth = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    phone = forms.CharField(max_length=32, required=False, help_text="For visit reminders.")
    # No default: the state decides which clinicians may treat the patient, so it is chosen.
    state = forms.ChoiceField(
        choices=[("", "Choose your state"), *UsState.choices], label="State you live in"
    )
    preferred_language = forms.ChoiceField(choices=Language.choices, initial=Language.EN)
    time_zone = forms.ChoiceField(choices=US_TIME_ZONES, initial="America/Chicago")

    def clean_date_of_birth(self) -> dt.date:
        return check_birth_date(self.cleaned_data["date_of_birth"])

    def clean_time_zone(self) -> str:
        value: str = self.cleaned_data["time_zone"]
        zoneinfo.ZoneInfo(value)
        return value


class PatientSignupForm(PatientDetailsForm):
    """allauth calls signup() after creating the user; the profile is created in the same
    request so a patient never exists without one."""

    field_order = ["first_name", "last_name", "email", "password1", "password2"]

    def signup(self, request: HttpRequest, user: User) -> None:
        from carepath.accounts.actions import do_complete_patient_signup

        data: dict[str, Any] = self.cleaned_data
        do_complete_patient_signup(
            user,
            first_name=data["first_name"],
            last_name=data["last_name"],
            time_zone=data["time_zone"],
            date_of_birth=data["date_of_birth"],
            phone=data["phone"],
            state=data["state"],
            preferred_language=data["preferred_language"],
        )


class PatientContactForm(forms.Form):
    """What a patient may change themselves; name and date of birth go through staff."""

    phone = forms.CharField(max_length=32, required=False)
    state = forms.ChoiceField(choices=UsState.choices, label="State you live in")
    preferred_language = forms.ChoiceField(choices=Language.choices)
    time_zone = forms.ChoiceField(choices=US_TIME_ZONES)
