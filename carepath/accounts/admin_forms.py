from django import forms

from carepath.accounts.models import STAFF_ROLES, Role, Specialty
from carepath.core.languages import Language
from carepath.core.us_states import UsState
from carepath.core.validators import validate_npi

STAFF_ROLE_CHOICES = [(role.value, role.label) for role in Role if role in STAFF_ROLES]


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=STAFF_ROLE_CHOICES)


class StaffFlagsForm(forms.Form):
    role = forms.ChoiceField(choices=STAFF_ROLE_CHOICES)
    is_active = forms.BooleanField(required=False, label="Active")
    can_break_glass = forms.BooleanField(
        required=False, label="May use break-the-glass emergency access"
    )


class ClinicianProfileForm(forms.Form):
    npi = forms.CharField(label="NPI", max_length=10, validators=[validate_npi])
    specialties = forms.ModelMultipleChoiceField(
        queryset=Specialty.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    languages = forms.MultipleChoiceField(
        choices=Language.choices, widget=forms.CheckboxSelectMultiple, initial=[Language.EN]
    )


class LicenseForm(forms.Form):
    state = forms.ChoiceField(choices=UsState.choices)
    number = forms.CharField(max_length=40, required=False)
    expires_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class InvitationAcceptForm(forms.Form):
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput, max_length=128)
    password_again = forms.CharField(widget=forms.PasswordInput, max_length=128)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The passwords do not match.")
        return data


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. 'clinic kiosk'.")
