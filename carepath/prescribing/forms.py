"""The HTML forms of the prescribing pages. They only parse; rules live in the actions."""

from collections.abc import Iterable
from typing import Any

from django import forms
from django.db.models import QuerySet

from carepath.pharmacy.models import Pharmacy
from carepath.prescribing.models import (
    RXCUI_PATTERN,
    AllergySeverity,
    Medication,
    Schedule,
)
from carepath.prescribing.units import GRAMS, MILLILITRES, dispense_unit, plural_unit

REASON_WIDGET = forms.Textarea(attrs={"rows": 2})


def _choices(values: Iterable[str]) -> list[tuple[str, str]]:
    return [(value, value) for value in values]


class FormularyChoiceField(forms.ModelChoiceField[Medication]):
    def label_from_instance(self, obj: Medication) -> str:
        label = f"{obj.name} ({obj.generic_name})"
        return f"{label} · C-{obj.schedule}" if obj.schedule else label


class ChooseMedicationForm(forms.Form):
    medication = FormularyChoiceField(
        queryset=Medication.objects.none(),
        empty_label="Choose a medication",
        help_text="Controlled substances are marked (C-II to C-V).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["medication"]
        assert isinstance(field, FormularyChoiceField)
        field.queryset = Medication.objects.filter(active=True)
        field.widget.attrs["data-autosubmit"] = "1"


def quantity_help(dose_forms: Iterable[str]) -> str:
    """What the quantity counts for these forms, e.g. "Grams for cream; mL for lotion."."""
    counted: list[str] = []
    weighed: list[str] = []
    measured: list[str] = []
    for form in dose_forms:
        unit = dispense_unit(form)
        group = weighed if unit == GRAMS else measured if unit == MILLILITRES else counted
        group.append(plural_unit(unit, 2) if group is counted else form)
    parts = []
    if counted:
        parts.append(f"number of {' or '.join(counted)}")
    if weighed:
        parts.append(f"grams for {' or '.join(weighed)}")
    if measured:
        parts.append(f"mL for {' or '.join(measured)}")
    text = "; ".join(parts)
    return f"{text[:1].upper()}{text[1:]}." if text else ""


class PrescribeForm(forms.Form):
    strength = forms.ChoiceField()
    dose_form = forms.ChoiceField(label="Form")
    sig_template = forms.ChoiceField(
        label="Directions template",
        required=False,
        help_text="Choosing one copies it into the directions below, which you can edit.",
    )
    sig = forms.CharField(
        label="Directions (sig)", max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )
    quantity = forms.IntegerField(min_value=1, max_value=10_000)
    days_supply = forms.IntegerField(label="Days supply", min_value=1, max_value=365)
    refills = forms.IntegerField(min_value=0, max_value=11, initial=0)
    pharmacy = forms.ModelChoiceField(
        queryset=Pharmacy.objects.none(), empty_label="Choose a pharmacy"
    )
    note_to_pharmacist = forms.CharField(
        label="Note to the pharmacist",
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self, *args: Any, medication: Medication, pharmacies: QuerySet[Pharmacy], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.medication = medication
        self._set_choices("strength", medication.strengths)
        self._set_choices("dose_form", medication.dose_forms)
        self.fields["quantity"].help_text = quantity_help(medication.dose_forms)
        templates = list(medication.sig_templates)
        self._set_choices("sig_template", templates, blank="Write your own")
        self.fields["sig_template"].widget.attrs["data-sig-template"] = "1"
        self.fields["sig"].widget.attrs["data-sig"] = "1"
        if not self.is_bound and templates:
            self.initial.setdefault("sig", templates[0])
            self.initial.setdefault("sig_template", templates[0])
        pharmacy = self.fields["pharmacy"]
        assert isinstance(pharmacy, forms.ModelChoiceField)
        pharmacy.queryset = pharmacies
        if medication.schedule == Schedule.II:
            self.fields["refills"].help_text = "Schedule II: no refills."
        elif medication.schedule:
            self.fields["refills"].help_text = "Controlled: at most 5 refills."

    def _set_choices(self, name: str, values: Iterable[str], blank: str = "") -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = ([("", blank)] if blank else []) + _choices(values)


class SignForm(forms.Form):
    allergy_override_reason = forms.CharField(
        label="Allergy override: why prescribe anyway?",
        required=False,
        max_length=500,
        widget=REASON_WIDGET,
    )
    duplicate_override_reason = forms.CharField(
        label="Duplicate therapy override: why prescribe anyway?",
        required=False,
        max_length=500,
        widget=REASON_WIDGET,
    )
    mfa_code = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=16,
        help_text="Controlled substance: enter the current 6-digit code from your "
        "authenticator app.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(
        self, *args: Any, allergy: bool, duplicate: bool, controlled: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if not allergy:
            del self.fields["allergy_override_reason"]
        if not duplicate:
            del self.fields["duplicate_override_reason"]
        if not controlled:
            del self.fields["mfa_code"]


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=REASON_WIDGET)
    entered_in_error = forms.BooleanField(
        label="It was entered in error (not a clinical decision)", required=False
    )


class RefillRequestForm(forms.Form):
    note = forms.CharField(
        label="Anything your clinician should know? (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class DenyForm(forms.Form):
    reason = forms.CharField(
        label="Reason (the patient sees this)",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AllergyForm(forms.Form):
    substance = forms.CharField(
        label="Allergic to", max_length=120, help_text="A medicine, a food, latex…"
    )
    reaction = forms.CharField(label="What happens", required=False, max_length=200)
    severity = forms.ChoiceField(choices=AllergySeverity.choices, initial=AllergySeverity.UNKNOWN)


class EndAllergyForm(forms.Form):
    reason = forms.CharField(label="Why remove it?", max_length=500)
    entered_in_error = forms.BooleanField(label="It was added by mistake", required=False)


class StatementForm(forms.Form):
    name = forms.CharField(label="Medication", max_length=120, required=False)
    medication = forms.ModelChoiceField(
        label="Or pick it from our list",
        queryset=Medication.objects.none(),
        required=False,
        empty_label="—",
    )
    dosage = forms.CharField(
        label="How you take it", required=False, max_length=300, help_text="e.g. 10 mg daily"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["medication"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Medication.objects.filter(active=True)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("name") and cleaned.get("medication") is None:
            self.add_error("name", "Name the medication, or pick it from the list.")
        return cleaned


class StopForm(forms.Form):
    reason = forms.CharField(label="Why did you stop?", max_length=500)


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


LINES_WIDGET = forms.Textarea(attrs={"rows": 3})


class MedicationForm(forms.Form):
    name = forms.CharField(max_length=120)
    generic_name = forms.CharField(max_length=120)
    rxcui = forms.RegexField(
        label="RxNorm code (RxCUI)",
        regex=RXCUI_PATTERN,
        max_length=10,
        error_messages={"invalid": "An RxNorm code (RxCUI) is 1 to 10 digits."},
    )
    strengths = forms.CharField(widget=LINES_WIDGET, help_text="One per line, e.g. 100 mg")
    dose_forms = forms.CharField(
        label="Dose forms", widget=LINES_WIDGET, help_text="One per line, e.g. capsule"
    )
    route = forms.CharField(max_length=40, help_text="e.g. oral, topical")
    sig_templates = forms.CharField(
        label="Directions templates", widget=LINES_WIDGET, required=False, help_text="One per line"
    )
    schedule = forms.ChoiceField(choices=Schedule.choices, required=False)
    drug_classes = forms.CharField(
        label="Drug classes",
        widget=LINES_WIDGET,
        required=False,
        help_text="One per line; used for allergy and duplicate-therapy checks",
    )
    ingredients = forms.CharField(
        widget=LINES_WIDGET, required=False, help_text="One per line; used for allergy checks"
    )

    def as_action_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "generic_name": data["generic_name"],
            "rxcui": data["rxcui"],
            "strengths": _lines(data["strengths"]),
            "dose_forms": _lines(data["dose_forms"]),
            "route": data["route"],
            "sig_templates": _lines(data["sig_templates"]),
            "schedule": data["schedule"] or "",
            "drug_classes": _lines(data["drug_classes"]),
            "ingredients": _lines(data["ingredients"]),
        }
