from typing import Any

from django import forms

from carepath.rpm.consent import RPM_CONSENT_VERSION, VERBAL_ATTESTATION
from carepath.rpm.measures import spec_of
from carepath.rpm.models import DeviceType, Enrollment, TimeKind
from carepath.rpm.selectors import programs
from carepath.rpm.thresholds import BAND_LABELS, bands_for, effective_thresholds


class EnrollForm(forms.Form):
    program = forms.ChoiceField(label="Program")
    verbal_consent = forms.BooleanField(
        required=False,
        label=VERBAL_ATTESTATION,
        help_text="Leave unticked to ask the patient to accept the consent in the portal; "
        "monitoring starts when they do.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].choices = [(p.code, p.name) for p in programs()]  # type: ignore[attr-defined]


class RpmConsentForm(forms.Form):
    version = forms.CharField(widget=forms.HiddenInput, initial=RPM_CONSENT_VERSION)
    accept = forms.BooleanField(
        label="I have read this and I agree to remote monitoring.",
        error_messages={"required": "Tick the box to agree, or close this page."},
    )


class ThresholdsForm(forms.Form):
    """One number field per measure and band of the program, showing the patient's current
    value; an empty field removes that band; values equal to the program's default are not
    stored as overrides."""

    def __init__(self, enrollment: Enrollment, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.enrollment = enrollment
        self.defaults = enrollment.program.default_thresholds or {}
        current = effective_thresholds(self.defaults, enrollment.thresholds or {})
        self.rows: list[tuple[str, list[str]]] = []
        for measure in enrollment.program.measures:
            spec = spec_of(measure)
            names = []
            for band in bands_for(measure):
                name = f"{measure}__{band}"
                unit = "kg" if "gain" in band else spec.unit_label
                self.fields[name] = forms.FloatField(
                    required=False,
                    label=f"{spec.label}: {BAND_LABELS[band].lower()} ({unit})",
                    initial=current.get(measure, {}).get(band),
                    widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
                )
                names.append(name)
            self.rows.append((spec.label, names))

    def overrides(self) -> dict[str, dict[str, float | None]]:
        result: dict[str, dict[str, float | None]] = {}
        for measure in self.enrollment.program.measures:
            for band in bands_for(measure):
                value = self.cleaned_data.get(f"{measure}__{band}")
                default = (self.defaults.get(measure) or {}).get(band)
                if value is None and default is not None:
                    result.setdefault(measure, {})[band] = None
                elif value is not None and (default is None or float(default) != value):
                    result.setdefault(measure, {})[band] = value
        return result


class DeviceForm(forms.Form):
    device_type = forms.ChoiceField(label="Kind of device", choices=DeviceType.choices)
    serial = forms.CharField(label="Serial number", max_length=80)
    label = forms.CharField(
        label="Label (optional)",
        max_length=100,
        required=False,
        help_text='e.g. "Kitchen scale"; shown to the patient.',
    )


class TimeEntryForm(forms.Form):
    kind = forms.ChoiceField(label="Activity", choices=TimeKind.choices)
    minutes = forms.IntegerField(label="Minutes", min_value=1, max_value=240)
    occurred_at = forms.DateTimeField(
        label="When (your time zone)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    note = forms.CharField(
        label="Note", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class TimerForm(forms.Form):
    kind = forms.ChoiceField(label="Activity", choices=TimeKind.choices)
    note = forms.CharField(label="Note (optional)", required=False, max_length=2000)


class NoteForm(forms.Form):
    note = forms.CharField(
        label="What you did", max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason", max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
