from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from carepath.accounts import actions
from carepath.accounts.admin_forms import (
    ClinicianProfileForm,
    InvitationAcceptForm,
    InviteForm,
    LicenseForm,
    StaffFlagsForm,
    TokenForm,
)
from carepath.accounts.forms import PatientContactForm
from carepath.accounts.mfa import has_totp
from carepath.accounts.models import ApiToken, License, PatientProfile, Role, User
from carepath.accounts.selectors import (
    clinician_profile,
    open_invitations,
    staff_member,
    staff_members,
    tokens_of,
    usable_invitation,
)
from carepath.audit.actions import do_record_audit
from carepath.core.decorators import request_user, role_required
from carepath.core.errors import ActionRefused


def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = usable_invitation(token)
    if invitation is None:
        return render(
            request,
            "core/error.html",
            {
                "title": "Invitation not valid",
                "message": "This invitation link has expired or was already used. "
                "Ask your administrator for a new one.",
            },
            status=404,
        )
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_accept_invitation(
                invitation,
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                password=form.cleaned_data["password"],
            )
        except ActionRefused as refused:
            form.add_error(refused.field or None, refused.message)
        else:
            messages.success(
                request, "Your account is ready. Sign in to set up two-factor authentication."
            )
            return HttpResponseRedirect("/accounts/login/")
    return render(
        request,
        "accounts/invitation_accept.html",
        {
            "form": form,
            "invitation": invitation,
        },
        status=400 if form.errors else 200,
    )


@role_required(Role.ADMIN)
def staff_list(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_invite_staff(
                request_user(request),
                form.cleaned_data["email"],
                form.cleaned_data["role"],
                base_url=request.build_absolute_uri("/").rstrip("/"),
            )
        except ActionRefused as refused:
            form.add_error(refused.field or None, refused.message)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return HttpResponseRedirect("/staff/admin/staff/")
    members = [(member, has_totp(member)) for member in staff_members()]
    return render(
        request,
        "accounts/staff_list.html",
        {
            "form": form,
            "members": members,
            "invitations": open_invitations(),
        },
        status=400 if form.errors else 200,
    )


def _staff_or_404(user_id: int) -> User:
    member = staff_member(user_id)
    if member is None:
        raise Http404
    return member


@role_required(Role.ADMIN)
def staff_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    admin = request_user(request)
    member = _staff_or_404(user_id)
    profile = clinician_profile(member)
    forms = {
        "flags": StaffFlagsForm(
            initial={
                "role": member.role,
                "is_active": member.is_active,
                "can_break_glass": member.can_break_glass,
            }
        ),
        "profile": ClinicianProfileForm(
            initial={
                "npi": profile.npi,
                "specialties": list(profile.specialties.all()),
                "languages": profile.languages,
            }
            if profile
            else None
        ),
        "license": LicenseForm(),
    }
    submitted = request.POST.get("form", "")
    if request.method == "POST" and submitted in forms:
        bound = type(forms[submitted])(request.POST)
        forms[submitted] = bound
        if bound.is_valid():
            try:
                _apply_staff_form(admin, member, submitted, bound.cleaned_data)
            except ActionRefused as refused:
                bound.add_error(refused.field or None, refused.message)
            else:
                messages.success(request, "Saved.")
                return HttpResponseRedirect(f"/staff/admin/staff/{member.pk}/")
    has_errors = any(form.errors for form in forms.values())
    return render(
        request,
        "accounts/staff_edit.html",
        {
            "member": member,
            "profile": clinician_profile(member),
            "forms": forms,
            "mfa_enabled": has_totp(member),
        },
        status=400 if has_errors else 200,
    )


def _apply_staff_form(admin: User, member: User, which: str, data: dict[str, Any]) -> None:
    if which == "flags":
        if data["role"] != member.role:
            actions.do_change_role(admin, member, str(data["role"]))
        actions.do_set_staff_flags(
            admin,
            member,
            is_active=bool(data["is_active"]),
            can_break_glass=bool(data["can_break_glass"]),
        )
    elif which == "profile":
        specialties = data["specialties"]
        assert hasattr(specialties, "__iter__")
        actions.do_save_clinician_profile(
            admin,
            member,
            npi=str(data["npi"]),
            specialty_ids=[s.pk for s in specialties],
            languages=[str(lang) for lang in data["languages"]],
        )
    elif which == "license":
        profile = clinician_profile(member)
        if profile is None:
            raise ActionRefused("no_profile", "Save the clinician profile (NPI) first.")
        actions.do_set_license(
            admin,
            profile,
            state=str(data["state"]),
            expires_on=data["expires_on"],
            number=str(data["number"]),
        )


@role_required(Role.ADMIN)
def license_remove(request: HttpRequest, user_id: int, license_id: int) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseRedirect(f"/staff/admin/staff/{user_id}/")
    license_ = License.objects.filter(pk=license_id, clinician__user_id=user_id).first()
    if license_ is None:
        raise Http404
    actions.do_remove_license(request_user(request), license_)
    messages.success(request, f"License for {license_.state} removed.")
    return HttpResponseRedirect(f"/staff/admin/staff/{user_id}/")


def tokens_page(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect(f"/accounts/login/?next={request.path}")
    user = request_user(request)
    form = TokenForm(request.POST or None)
    issued = None
    if request.method == "POST" and request.POST.get("revoke"):
        token_id = request.POST.get("revoke", "")
        token = (
            ApiToken.objects.filter(pk=int(token_id), user=user).first()
            if token_id.isdigit()
            else None
        )
        if token is not None:
            actions.do_revoke_api_token(user, token)
            messages.success(request, f"Token '{token.name}' revoked.")
        return HttpResponseRedirect("/account/tokens/")
    if request.method == "POST" and form.is_valid():
        issued = actions.do_create_api_token(user, form.cleaned_data["name"])
        form = TokenForm()
    return render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "tokens": tokens_of(user),
            "issued": issued,
        },
    )


@role_required(Role.PATIENT)
def patient_profile(request: HttpRequest) -> HttpResponse:
    patient = request_user(request)
    profile = PatientProfile.objects.get(user=patient)
    initial = {
        "phone": profile.phone,
        "state": profile.state,
        "preferred_language": profile.preferred_language,
        "time_zone": patient.time_zone,
    }
    form = PatientContactForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        actions.do_update_patient_contact(patient, **form.cleaned_data)
        messages.success(request, "Your details are saved.")
        return HttpResponseRedirect("/patient/")
    do_record_audit(
        "patient.read",
        actor=patient,
        object_type="patient",
        object_id=patient.pk,
        patient_id=patient.pk,
    )
    return render(
        request,
        "accounts/patient_profile.html",
        {"form": form, "profile": profile},
        status=400 if form.errors else 200,
    )
