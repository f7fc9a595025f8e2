"""Audit sign-ins, sign-outs and MFA changes, whichever flow (allauth page or API) caused them."""

from typing import Any

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver
from django.http import HttpRequest

from carepath.accounts.mfa import record_mfa_in_session
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core.metrics import LOGINS


@receiver(auth_signals.user_logged_in)
def audit_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    LOGINS.labels("success").inc()
    do_record_audit("auth.login", actor=user, object_type="user", object_id=user.pk)


@receiver(auth_signals.user_login_failed)
def audit_login_failure(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    LOGINS.labels("failure").inc()
    do_record_audit(
        "auth.login",
        outcome=Outcome.DENIED,
        detail={"email": str(credentials.get("email") or credentials.get("username") or "")},
    )


@receiver(auth_signals.user_logged_out)
def audit_logout(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is not None:
        do_record_audit("auth.logout", actor=user, object_type="user", object_id=user.pk)


@receiver(account_signals.user_signed_up)
def audit_signup(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    do_record_audit(
        "account.signup", actor=user, object_type="user", object_id=user.pk, patient_id=user.pk
    )


@receiver(account_signals.email_confirmed)
def audit_email_confirmed(sender: Any, request: HttpRequest, email_address: Any, **kw: Any) -> None:
    user = email_address.user
    do_record_audit("account.email_verified", actor=user, object_type="user", object_id=user.pk)


@receiver(account_signals.password_changed)
@receiver(account_signals.password_reset)
def audit_password(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    do_record_audit("auth.password_change", actor=user, object_type="user", object_id=user.pk)


@receiver(mfa_signals.authenticator_added)
def audit_mfa_added(
    sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    do_record_audit(
        "mfa.add",
        actor=user,
        object_type="authenticator",
        object_id=authenticator.pk,
        detail={"type": authenticator.type},
    )
    if authenticator.type == "totp":
        record_mfa_in_session(request, user)


@receiver(mfa_signals.authenticator_removed)
def audit_mfa_removed(
    sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    do_record_audit(
        "mfa.remove",
        actor=user,
        object_type="authenticator",
        object_id=authenticator.pk,
        detail={"type": authenticator.type},
    )


@receiver(mfa_signals.authenticator_reset)
def audit_mfa_reset(
    sender: Any, request: HttpRequest, user: Any, authenticator: Any, **kwargs: Any
) -> None:
    do_record_audit(
        "mfa.reset",
        actor=user,
        object_type="authenticator",
        object_id=authenticator.pk,
        detail={"type": authenticator.type},
    )


@receiver(mfa_signals.authentication_failed)
def audit_mfa_failed(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    do_record_audit("auth.mfa", actor=None, outcome=Outcome.DENIED, detail={"user_id": user.pk})
