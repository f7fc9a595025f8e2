from allauth.account.internal.flows.login import get_authentication_records, record_authentication
from allauth.mfa.models import Authenticator
from django.http import HttpRequest

from carepath.accounts.models import User


def has_totp(user: User) -> bool:
    found: bool = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    return found


def session_used_mfa(request: HttpRequest, user: User) -> bool:
    records = get_authentication_records(request, user)
    return any(bool(record.get("method") == "mfa") for record in records)


def record_mfa_in_session(request: HttpRequest, user: User) -> None:
    """Activating TOTP proves the second factor (a valid code was entered), so that session
    counts as MFA-authenticated from then on."""
    record_authentication(request, user, "mfa", type="totp")


def staff_mfa_satisfied(request: HttpRequest, user: User) -> bool:
    if not user.is_staff_role:
        return True
    if getattr(request, "api_token", None) is not None:
        return True  # tokens are issued only from an MFA-authenticated session
    return has_totp(user) and session_used_mfa(request, user)
