from typing import Any

from django import forms

from carepath.core.us_states import UsState
from carepath.pharmacy.actions import PharmacyData
from carepath.pharmacy.models import DispatchStatus, HandoffAdapter, Pharmacy
from carepath.pharmacy.validators import validate_ncpdp_id, validate_postal_code
from carepath.pharmacy.webhook_secrets import MAX_SECRET_LENGTH, MIN_SECRET_LENGTH


class SearchForm(forms.Form):
    state = forms.ChoiceField(
        label="State", required=False, choices=[("", "Any state"), *UsState.choices]
    )
    city = forms.CharField(label="City", required=False, max_length=80)
    name = forms.CharField(label="Pharmacy name", required=False, max_length=120)
    zip = forms.CharField(
        label="ZIP code",
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "postal-code"}),
    )


class PharmacyForm(forms.Form):
    """Add or edit a pharmacy. The webhook secret is a write-only field: it is never rendered
    back (not even as dots), and an empty field keeps the secret already set."""

    ncpdp_id = forms.CharField(
        label="NCPDP id",
        max_length=7,
        validators=[validate_ncpdp_id],
        widget=forms.TextInput(attrs={"inputmode": "numeric", "pattern": "[0-9]{7}"}),
        help_text="The pharmacy's 7-digit NCPDP provider id.",
    )
    name = forms.CharField(label="Name", max_length=120)
    address_line = forms.CharField(label="Street address", max_length=200)
    city = forms.CharField(label="City", max_length=80)
    # No default: a pharmacy put in the wrong state would take another state's prescriptions.
    state = forms.ChoiceField(
        label="State",
        choices=[("", "Choose a state"), *UsState.choices],
        error_messages={"required": "Choose the state the pharmacy is in."},
    )
    postal_code = forms.CharField(
        label="ZIP code", max_length=10, validators=[validate_postal_code]
    )
    phone = forms.CharField(label="Phone", max_length=32)
    fax = forms.CharField(label="Fax (optional)", max_length=32, required=False)
    open_24_hours = forms.BooleanField(label="Open 24 hours", required=False)
    mail_order = forms.BooleanField(label="Mail order (ships to every state)", required=False)
    accepts_controlled = forms.BooleanField(
        label="Dispenses controlled substances (schedules II-V)", required=False, initial=True
    )
    adapter = forms.ChoiceField(
        label="How prescriptions reach it",
        choices=HandoffAdapter.choices,
        widget=forms.RadioSelect,
        initial=HandoffAdapter.OUTBOX,
    )
    webhook_url = forms.CharField(
        label="Webhook URL",
        max_length=500,
        required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://", "data-webhook-field": "1"}),
        help_text="https only. Private, loopback and metadata addresses are refused.",
    )
    webhook_secret = forms.CharField(
        label="Webhook signing secret",
        required=False,
        max_length=MAX_SECRET_LENGTH,
        strip=False,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password", "data-webhook-field": "1"}
        ),
    )
    active = forms.BooleanField(label="Listed in the directory", required=False, initial=True)

    def __init__(self, *args: Any, secret_is_set: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["webhook_secret"].help_text = (
            "A secret is set. Leave empty to keep it; type a new one to replace it."
            if secret_is_set
            else f"{MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters, shared with the "
            "pharmacy. It is stored encrypted and never shown again."
        )

    def data_for_action(self) -> PharmacyData:
        values = {name: self.cleaned_data[name] for name in self.fields if name != "webhook_secret"}
        return PharmacyData(**values)

    @staticmethod
    def initial_from(pharmacy: Pharmacy) -> dict[str, Any]:
        return {
            name: getattr(pharmacy, name)
            for name in PharmacyForm.base_fields
            if name != "webhook_secret"
        }


class NetworkClientForm(forms.Form):
    name = forms.CharField(
        label="Name of the integration",
        max_length=100,
        help_text='e.g. "Pharmacy network collector (production)".',
    )


class DispatchFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "All"), *DispatchStatus.choices]
    )
