import datetime as dt
import secrets
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from carepath.accounts.models import (
    STAFF_ROLES,
    ApiToken,
    ClinicianProfile,
    License,
    PatientProfile,
    Role,
    StaffInvitation,
    User,
)
from carepath.accounts.tokens import hash_secret, new_token
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.core.validators import npi_check_digit_ok
from carepath.notifications.actions import enqueue_email


def check_admin(actor: User, action: str) -> None:
    if actor.role != Role.ADMIN:
        do_record_audit(action, actor=actor, outcome=Outcome.DENIED)
        raise ActionRefused("forbidden", "Only an administrator may do this.", status=403)


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: StaffInvitation
    raw_token: str


def do_invite_staff(admin: User, email: str, role: str, *, base_url: str) -> IssuedInvitation:
    check_admin(admin, "staff.invite")
    email = email.strip().lower()
    if role not in {r.value for r in STAFF_ROLES}:
        raise ActionRefused("invalid_role", "Choose a staff role.", field="role")
    if User.objects.filter(email__iexact=email).exists():
        raise ActionRefused("email_taken", "Someone already uses this e-mail.", field="email")
    raw_token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = StaffInvitation.objects.create(
            email=email,
            role=role,
            token_hash=hash_secret(raw_token),
            invited_by=admin,
            expires_at=clock.now() + dt.timedelta(days=settings.STAFF_INVITATION_DAYS),
        )
        do_record_audit(
            "staff.invite",
            actor=admin,
            object_type="staff_invitation",
            object_id=invitation.pk,
            detail={"email": email, "role": role},
        )
        enqueue_email(
            [email],
            "You are invited to Carepath",
            f"You have been invited to join Carepath as {Role(role).label}.\n\n"
            f"Set your password here (the link works for {settings.STAFF_INVITATION_DAYS} "
            f"days):\n{base_url}/accounts/invitation/{raw_token}/\n\n"
            "You will set up two-factor authentication when you first sign in.",
        )
    return IssuedInvitation(invitation, raw_token)


def do_accept_invitation(
    invitation: StaffInvitation, *, first_name: str, last_name: str, password: str
) -> User:
    candidate = User(email=invitation.email, first_name=first_name, last_name=last_name)
    try:
        validate_password(password, candidate)
    except ValidationError as error:
        raise ActionRefused("weak_password", " ".join(error.messages), field="password") from error
    with transaction.atomic():
        locked = StaffInvitation.objects.select_for_update().get(pk=invitation.pk)
        if not locked.is_usable():
            raise ActionRefused("invitation_used", "This invitation is no longer valid.")
        try:
            user = User.objects.create_user(
                invitation.email,
                password,
                first_name=first_name,
                last_name=last_name,
                role=locked.role,
            )
        except IntegrityError as error:
            raise ActionRefused("email_taken", "This e-mail already has an account.") from error
        _mark_email_verified(user)
        locked.accepted_at = clock.now()
        locked.save(update_fields=["accepted_at"])
        do_record_audit(
            "staff.join",
            actor=user,
            object_type="user",
            object_id=user.pk,
            detail={"role": locked.role},
        )
    return user


def _mark_email_verified(user: User) -> None:
    from allauth.account.models import EmailAddress

    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )


def do_change_role(admin: User, user: User, role: str) -> User:
    check_admin(admin, "role.change")
    if role not in Role.values:
        raise ActionRefused("invalid_role", "Unknown role.", field="role")
    if (user.role == Role.PATIENT) != (role == Role.PATIENT):
        raise ActionRefused(
            "role_boundary", "Patients and staff are separate accounts.", field="role"
        )
    if user.pk == admin.pk and role != Role.ADMIN:
        raise ActionRefused("self_demotion", "You cannot remove your own admin role.")
    with transaction.atomic():
        previous = user.role
        user.role = role
        user.save(update_fields=["role"])
        do_record_audit(
            "role.change",
            actor=admin,
            object_type="user",
            object_id=user.pk,
            detail={"from": previous, "to": role},
        )
    return user


def do_set_staff_flags(admin: User, user: User, *, is_active: bool, can_break_glass: bool) -> User:
    check_admin(admin, "staff.update")
    if user.pk == admin.pk and not is_active:
        raise ActionRefused("self_deactivation", "You cannot deactivate yourself.")
    with transaction.atomic():
        changes = {}
        if user.is_active != is_active:
            changes["is_active"] = is_active
        if user.can_break_glass != can_break_glass:
            changes["can_break_glass"] = can_break_glass
        for name, value in changes.items():
            setattr(user, name, value)
        if changes:
            user.save(update_fields=list(changes))
            do_record_audit(
                "privilege.change",
                actor=admin,
                object_type="user",
                object_id=user.pk,
                detail=changes,
            )
    return user


def do_save_clinician_profile(
    admin: User, user: User, *, npi: str, specialty_ids: list[int], languages: list[str]
) -> ClinicianProfile:
    check_admin(admin, "clinician_profile.update")
    if user.role != Role.CLINICIAN:
        raise ActionRefused("not_clinician", "Only clinicians have a clinical profile.")
    if not npi_check_digit_ok(npi):
        raise ActionRefused(
            "invalid_npi", "An NPI is 10 digits with a valid check digit.", field="npi"
        )
    with transaction.atomic():
        if ClinicianProfile.objects.filter(npi=npi).exclude(user=user).exists():
            raise ActionRefused("npi_taken", "Another clinician has this NPI.", field="npi")
        profile, _ = ClinicianProfile.objects.update_or_create(
            user=user, defaults={"npi": npi, "languages": sorted(set(languages))}
        )
        profile.specialties.set(specialty_ids)
        do_record_audit(
            "clinician_profile.update",
            actor=admin,
            object_type="clinician_profile",
            object_id=profile.pk,
            detail={"npi": npi, "specialties": specialty_ids, "languages": languages},
        )
    return profile


def do_set_license(
    admin: User, profile: ClinicianProfile, *, state: str, expires_on: dt.date, number: str
) -> License:
    check_admin(admin, "license.update")
    with transaction.atomic():
        license_, _ = License.objects.update_or_create(
            clinician=profile, state=state, defaults={"expires_on": expires_on, "number": number}
        )
        do_record_audit(
            "license.update",
            actor=admin,
            object_type="license",
            object_id=license_.pk,
            detail={"clinician": profile.user_id, "state": state, "expires_on": str(expires_on)},
        )
    return license_


def do_remove_license(admin: User, license_: License) -> None:
    check_admin(admin, "license.remove")
    with transaction.atomic():
        do_record_audit(
            "license.remove",
            actor=admin,
            object_type="license",
            object_id=license_.pk,
            detail={"clinician": license_.clinician.user_id, "state": license_.state},
        )
        license_.delete()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str


def do_create_api_token(user: User, name: str) -> IssuedToken:
    if not name.strip():
        raise ActionRefused("name_required", "Name the token.", field="name")
    raw, prefix, secret_hash = new_token()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name.strip()[:100],
            prefix=prefix,
            secret_hash=secret_hash,
            role=user.role,
        )
        do_record_audit("api_token.create", actor=user, object_type="api_token", object_id=token.pk)
    return IssuedToken(token, raw)


def do_revoke_api_token(user: User, token: ApiToken) -> ApiToken:
    if token.user_id != user.pk and user.role != Role.ADMIN:
        raise ActionRefused("not_found", "No token with that id.", status=404)
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = clock.now()
            token.save(update_fields=["revoked_at"])
            do_record_audit(
                "api_token.revoke", actor=user, object_type="api_token", object_id=token.pk
            )
    return token


def do_update_patient_contact(
    patient: User,
    *,
    phone: str | None = None,
    state: str | None = None,
    preferred_language: str | None = None,
    time_zone: str | None = None,
) -> PatientProfile:
    """Change what the patient may change themselves; a field left None keeps its value."""
    if time_zone is not None and time_zone not in zoneinfo.available_timezones():
        raise ActionRefused("invalid_time_zone", "Unknown time zone.", field="time_zone")
    with transaction.atomic():
        profile = PatientProfile.objects.select_for_update().get(user=patient)
        before = {"state": profile.state, "language": profile.preferred_language}
        profile.phone = profile.phone if phone is None else phone
        profile.state = profile.state if state is None else state
        if preferred_language is not None:
            profile.preferred_language = preferred_language
        profile.save()
        if time_zone is not None:
            patient.time_zone = time_zone
            patient.save(update_fields=["time_zone"])
        state, preferred_language = profile.state, profile.preferred_language
        do_record_audit(
            "patient.update",
            actor=patient,
            object_type="patient",
            object_id=patient.pk,
            patient_id=patient.pk,
            detail={"before": before, "after": {"state": state, "language": preferred_language}},
        )
    return profile


def do_complete_patient_signup(
    user: User,
    *,
    first_name: str,
    last_name: str,
    time_zone: str,
    date_of_birth: dt.date,
    phone: str,
    state: str,
    preferred_language: str,
) -> PatientProfile:
    """Called by allauth's sign-up in the same request that created the user, so a patient
    never exists without a profile."""
    with transaction.atomic():
        user.first_name = first_name
        user.last_name = last_name
        user.time_zone = time_zone
        user.role = Role.PATIENT
        user.save()
        profile = PatientProfile.objects.create(
            user=user,
            date_of_birth=date_of_birth,
            phone=phone,
            state=state,
            preferred_language=preferred_language,
        )
        do_record_audit(
            "patient.create",
            actor=user,
            object_type="patient",
            object_id=user.pk,
            patient_id=user.pk,
        )
    return profile


# Writing last_used_at on every call would turn each API read into a write; a minute is
# precise enough for "when was this token last used".
TOKEN_USE_PRECISION = dt.timedelta(minutes=1)


def do_record_token_use(token: ApiToken) -> None:
    now = clock.now()
    if token.last_used_at is None or now - token.last_used_at > TOKEN_USE_PRECISION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
