from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.http import HttpRequest

from carepath.core.crypto import decrypt_text, encrypt_text

TOTP_PURPOSE = "mfa-totp"


class CarepathAccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]
    """Public sign-up creates patients only; staff arrive by invitation."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return True

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        from carepath.accounts.models import Role

        user.role = Role.PATIENT
        return super().save_user(request, user, form, commit)

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return "/home/"


class CarepathMfaAdapter(DefaultMFAAdapter):  # type: ignore[misc]
    def encrypt(self, text: str) -> str:
        return encrypt_text(text, purpose=TOTP_PURPOSE)

    def decrypt(self, encrypted_text: str) -> str:
        return decrypt_text(encrypted_text, purpose=TOTP_PURPOSE)

    def can_delete_authenticator(self, authenticator: Any) -> bool:
        # MFA is mandatory for staff: they may regenerate, never remove, their second factor.
        return not authenticator.user.is_staff_role
