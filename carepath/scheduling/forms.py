import datetime as dt
from typing import Any, cast

from django import forms

from carepath.core.us_states import UsState
from carepath.scheduling.models import ExceptionKind, VisitMode

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class DateInput(forms.DateInput):
    input_type = "date"


class TimeInput(forms.TimeInput):
    input_type = "time"


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class SlotSearchForm(forms.Form):
    service_line = forms.ChoiceField(label="What do you need help with?", required=False)
    clinician = forms.TypedChoiceField(
        label="Or choose a clinician", required=False, coerce=int, empty_value=None
    )
    start_date = forms.DateField(label="From", widget=DateInput)
    days = forms.IntegerField(label="Days to show", min_value=1, max_value=14, initial=7)

    def __init__(
        self,
        *args: Any,
        service_lines: list[tuple[str, str]],
        clinicians: list[tuple[int, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["service_line"]).choices = [
            ("", "— any —"),
            *service_lines,
        ]
        cast(forms.ChoiceField, self.fields["clinician"]).choices = [("", "— any —"), *clinicians]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("service_line") and not data.get("clinician"):
            self.add_error("service_line", "Choose what you need help with, or a clinician.")
        return data


class BookForm(forms.Form):
    patient_state = forms.ChoiceField(
        label="Where will you be during the visit?",
        choices=UsState.choices,
        help_text="Clinicians may only see you in states where they are licensed.",
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=200,
        help_text="Please do not include medical details.",
    )


class WeeklyHoursForm(forms.Form):
    weekday = forms.TypedChoiceField(label="Day", choices=WEEKDAYS, coerce=int)
    start_time = forms.TimeField(label="From", widget=TimeInput)
    end_time = forms.TimeField(label="Until", widget=TimeInput)
    valid_from = forms.DateField(label="Starting on", required=False, widget=DateInput)
    valid_until = forms.DateField(label="Ending on (optional)", required=False, widget=DateInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start: dt.time | None = data.get("start_time")
        end: dt.time | None = data.get("end_time")
        if start and end and end <= start:
            self.add_error("end_time", "The end must be after the start (same day).")
        return data


class ExceptionForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=ExceptionKind.choices)
    starts_at = forms.DateTimeField(label="From", widget=DateTimeLocalInput)
    ends_at = forms.DateTimeField(label="Until", widget=DateTimeLocalInput)
    reason = forms.CharField(label="Note (optional)", required=False, max_length=200)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start = data.get("starts_at")
        end = data.get("ends_at")
        if start and end and end <= start:
            self.add_error("ends_at", "The end must be after the start.")
        return data


class VisitTypeForm(forms.Form):
    name = forms.CharField(max_length=100)
    duration_minutes = forms.IntegerField(label="Length (minutes)", min_value=5, max_value=480)
    mode = forms.ChoiceField(choices=VisitMode.choices)
    buffer_minutes = forms.IntegerField(
        label="Buffer after (minutes)", min_value=0, max_value=240, initial=0
    )
    service_line = forms.ChoiceField(label="Service line", required=False)
    requires_intake = forms.BooleanField(
        label="Patients complete the service line's intake before the visit", required=False
    )
    active = forms.BooleanField(label="Bookable", required=False, initial=True)

    def __init__(self, *args: Any, service_lines: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["service_line"]).choices = [
            ("", "— none —"),
            *service_lines,
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("requires_intake") and not data.get("service_line"):
            self.add_error("service_line", "An intake needs a service line.")
        return data
