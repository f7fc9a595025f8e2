import datetime as dt

from django.db.models import QuerySet

from carepath.accounts.models import (
    STAFF_ROLES,
    ApiToken,
    ClinicianProfile,
    License,
    StaffInvitation,
    User,
)
from carepath.accounts.tokens import hash_secret, secret_matches, split_token
from carepath.core import clock


def authenticate_api_token(raw: str) -> ApiToken | None:
    parts = split_token(raw)
    if parts is None:
        return None
    prefix, secret = parts
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not secret_matches(secret, token.secret_hash):
        return None
    if not token.is_active or not token.user.is_active or token.user.role != token.role:
        return None
    return token


def tokens_of(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user)


def staff_members() -> QuerySet[User]:
    return User.objects.filter(role__in=STAFF_ROLES).order_by("last_name", "first_name", "email")


def staff_member(user_id: int) -> User | None:
    return staff_members().filter(pk=user_id).first()


def clinician_profile(user: User) -> ClinicianProfile | None:
    return ClinicianProfile.objects.filter(user=user).prefetch_related("licenses").first()


def licensed_states(user: User, on: dt.date) -> list[str]:
    return list(
        License.objects.filter(clinician__user=user, expires_on__gte=on).values_list(
            "state", flat=True
        )
    )


def usable_invitation(raw_token: str) -> StaffInvitation | None:
    invitation = StaffInvitation.objects.filter(token_hash=hash_secret(raw_token)).first()
    if invitation is None or not invitation.is_usable():
        return None
    return invitation


def open_invitations() -> QuerySet[StaffInvitation]:
    return StaffInvitation.objects.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=clock.now()
    ).order_by("-created_at")
