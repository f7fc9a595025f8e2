from django.db import transaction
from django.http import Http404, HttpRequest
from ninja import Router, Status

from carepath.accounts import actions
from carepath.accounts.mfa import has_totp
from carepath.accounts.models import (
    ApiToken,
    License,
    PatientProfile,
    Role,
    Specialty,
    User,
)
from carepath.accounts.permissions import check_role
from carepath.accounts.schemas import (
    ClinicianProfileIn,
    ClinicianProfileOut,
    InvitationCreate,
    InvitationOut,
    LicenseIn,
    LicenseOut,
    MeOut,
    PatientProfileOut,
    PatientProfileUpdate,
    StaffOut,
    StaffUpdate,
    TokenCreate,
    TokenIssued,
    TokenOut,
)
from carepath.accounts.selectors import (
    clinician_profile,
    open_invitations,
    staff_member,
    staff_members,
    tokens_of,
)
from carepath.audit.actions import do_record_audit
from carepath.core.api import current_user, only
from carepath.core.errors import ActionRefused
from carepath.core.us_states import UsState

router = Router(tags=["accounts"])
ADMIN_ONLY = frozenset({Role.ADMIN})


def clinician_out(user: User) -> ClinicianProfileOut | None:
    profile = clinician_profile(user)
    if profile is None:
        return None
    return ClinicianProfileOut(
        npi=profile.npi,
        specialties=[s.code for s in profile.specialties.all()],
        languages=profile.languages,
        licenses=[
            LicenseOut.model_validate(lic, from_attributes=True) for lic in profile.licenses.all()
        ],
    )


def me_out(user: User) -> MeOut:
    profile = PatientProfile.objects.filter(user=user).first()
    if profile is not None:
        do_record_audit(
            "patient.read",
            actor=user,
            object_type="patient",
            object_id=user.pk,
            patient_id=user.pk,
        )
    return MeOut(
        id=user.pk,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        role=Role(user.role),
        time_zone=user.time_zone,
        mfa_enabled=has_totp(user),
        patient_profile=PatientProfileOut.model_validate(profile, from_attributes=True)
        if profile
        else None,
        clinician_profile=clinician_out(user),
    )


@router.get("/me", response=MeOut, summary="The signed-in user and their profile")
def get_me(request: HttpRequest) -> MeOut:
    return me_out(current_user(request))


@router.patch(
    "/me/profile",
    response=MeOut,
    summary="Update the patient's own contact details",
    auth=only(Role.PATIENT),
)
def update_my_profile(request: HttpRequest, payload: PatientProfileUpdate) -> MeOut:
    user = current_user(request)
    check_role(user, {Role.PATIENT}, "patient.update")
    actions.do_update_patient_contact(user, **payload.model_dump(exclude_none=True))
    return me_out(user)


@router.get("/tokens", response=list[TokenOut], summary="My API tokens, with last use")
def list_tokens(request: HttpRequest) -> list[ApiToken]:
    return list(tokens_of(current_user(request)))


@router.post("/tokens", response={201: TokenIssued}, summary="Issue an API token (shown once)")
def create_token(request: HttpRequest, payload: TokenCreate) -> Status[TokenIssued]:
    user = current_user(request)
    if getattr(request, "api_token", None) is not None:
        raise ActionRefused(
            "session_required", "Issue tokens from a signed-in session.", status=403
        )
    issued = actions.do_create_api_token(user, payload.name)
    out = TokenOut.model_validate(issued.token, from_attributes=True)
    return Status(201, TokenIssued(**out.model_dump(), token=issued.raw))


@router.post("/tokens/{int:token_id}/revoke", response=TokenOut, summary="Revoke an API token")
def revoke_token(request: HttpRequest, token_id: int) -> ApiToken:
    user = current_user(request)
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise Http404("No token with that id.")
    return actions.do_revoke_api_token(user, token)


def staff_out(user: User) -> StaffOut:
    return StaffOut(
        id=user.pk,
        email=user.email,
        first_name=user.first_name,
        last_name=user.last_name,
        role=Role(user.role),
        is_active=user.is_active,
        can_break_glass=user.can_break_glass,
        mfa_enabled=has_totp(user),
    )


def staff_or_404(user_id: int) -> User:
    member = staff_member(user_id)
    if member is None:
        raise Http404("No staff member with that id.")
    return member


@router.get(
    "/staff", response=list[StaffOut], summary="Staff accounts (admin)", auth=only(Role.ADMIN)
)
def list_staff(request: HttpRequest) -> list[StaffOut]:
    check_role(current_user(request), ADMIN_ONLY, "staff.list")
    return [staff_out(member) for member in staff_members()]


@router.patch(
    "/staff/{int:user_id}",
    response=StaffOut,
    summary="Change a staff role or flags (admin)",
    auth=only(Role.ADMIN),
)
def update_staff(request: HttpRequest, user_id: int, payload: StaffUpdate) -> StaffOut:
    admin = current_user(request)
    check_role(admin, ADMIN_ONLY, "staff.update")
    member = staff_or_404(user_id)
    with transaction.atomic():
        if payload.role is not None and payload.role != member.role:
            actions.do_change_role(admin, member, payload.role)
        actions.do_set_staff_flags(
            admin,
            member,
            is_active=member.is_active if payload.is_active is None else payload.is_active,
            can_break_glass=(
                member.can_break_glass
                if payload.can_break_glass is None
                else payload.can_break_glass
            ),
        )
    return staff_out(member)


@router.get(
    "/staff/invitations",
    response=list[InvitationOut],
    summary="Open invitations (admin)",
    auth=only(Role.ADMIN),
)
def list_invitations(request: HttpRequest) -> list[object]:
    check_role(current_user(request), ADMIN_ONLY, "staff.invite")
    return list(open_invitations())


@router.post(
    "/staff/invitations",
    response={201: InvitationOut},
    summary="Invite a staff member (admin)",
    auth=only(Role.ADMIN),
)
def invite_staff(request: HttpRequest, payload: InvitationCreate) -> Status[object]:
    admin = current_user(request)
    check_role(admin, ADMIN_ONLY, "staff.invite")
    issued = actions.do_invite_staff(
        admin, payload.email, payload.role, base_url=request.build_absolute_uri("/").rstrip("/")
    )
    return Status(201, issued.invitation)


@router.put(
    "/staff/{int:user_id}/clinician-profile",
    response=ClinicianProfileOut,
    summary="Set a clinician's NPI, specialties and languages (admin)",
    auth=only(Role.ADMIN),
)
def put_clinician_profile(
    request: HttpRequest, user_id: int, payload: ClinicianProfileIn
) -> ClinicianProfileOut | None:
    admin = current_user(request)
    check_role(admin, ADMIN_ONLY, "clinician_profile.update")
    member = staff_or_404(user_id)
    specialties = list(Specialty.objects.filter(code__in=payload.specialties))
    unknown = set(payload.specialties) - {s.code for s in specialties}
    if unknown:
        raise ActionRefused(
            "unknown_specialty",
            f"Unknown specialties: {', '.join(sorted(unknown))}.",
            field="specialties",
            status=422,
        )
    try:
        actions.do_save_clinician_profile(
            admin,
            member,
            npi=payload.npi,
            specialty_ids=[s.pk for s in specialties],
            languages=[str(lang) for lang in payload.languages],
        )
    except ValueError as error:
        raise ActionRefused("invalid", str(error)) from error
    return clinician_out(member)


def license_target(user_id: int) -> User:
    member = staff_or_404(user_id)
    if clinician_profile(member) is None:
        raise ActionRefused(
            "no_clinician_profile", "Set the clinician profile (NPI) before licenses.", status=409
        )
    return member


@router.put(
    "/staff/{int:user_id}/licenses/{state}",
    response=LicenseOut,
    summary="Add or renew a state license (admin)",
    auth=only(Role.ADMIN),
)
def put_license(request: HttpRequest, user_id: int, state: UsState, payload: LicenseIn) -> License:
    admin = current_user(request)
    check_role(admin, ADMIN_ONLY, "license.update")
    profile = clinician_profile(license_target(user_id))
    assert profile is not None
    return actions.do_set_license(
        admin, profile, state=state, expires_on=payload.expires_on, number=payload.number
    )


@router.delete(
    "/staff/{int:user_id}/licenses/{state}",
    response={204: None},
    summary="Remove a license (admin)",
    auth=only(Role.ADMIN),
)
def delete_license(request: HttpRequest, user_id: int, state: UsState) -> Status[None]:
    admin = current_user(request)
    check_role(admin, ADMIN_ONLY, "license.remove")
    license_ = License.objects.filter(clinician__user_id=user_id, state=state).first()
    if license_ is None:
        raise Http404("No license for that state.")
    actions.do_remove_license(admin, license_)
    return Status(204, None)
