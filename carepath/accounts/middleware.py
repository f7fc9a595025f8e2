import datetime as dt
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from carepath.accounts.actions import do_record_token_use
from carepath.accounts.mfa import has_totp, staff_mfa_satisfied
from carepath.accounts.models import User
from carepath.accounts.selectors import authenticate_api_token
from carepath.audit.actions import do_record_audit
from carepath.core import clock
from carepath.core.responses import error_response

Handler = Callable[[HttpRequest], HttpResponse]

LAST_SEEN_KEY = "carepath_last_seen"
# Paths a staff member without MFA may still open: to set MFA up, or to leave.
MFA_SETUP_PATHS = ("/accounts/", "/static/", "/healthz", "/metrics")


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/fhir/"))


class ApiTokenMiddleware:
    """`Authorization: Bearer cp_...` authenticates API calls; a bad token is a 401, never a
    fall-back to the session."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        if is_api(request) and header.startswith("Bearer "):
            token = authenticate_api_token(header.removeprefix("Bearer ").strip())
            if token is None:
                do_record_audit("auth.token", outcome="denied")
                return error_response(401, "invalid_token", "The API token is invalid or revoked.")
            do_record_token_use(token)
            request.user = token.user
            request.api_token = token  # type: ignore[attr-defined]
            # A bearer token is not sent by the browser on its own: CSRF cannot forge it.
            request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
        return self.get_response(request)


def idle_limit(user: User) -> dt.timedelta:
    minutes = (
        settings.STAFF_IDLE_TIMEOUT_MINUTES
        if user.is_staff_role
        else settings.PATIENT_IDLE_TIMEOUT_MINUTES
    )
    return dt.timedelta(minutes=minutes)


class IdleTimeoutMiddleware:
    """A session idle past its limit is signed out; the person signs in again (re-authenticates)
    and is returned to the page they asked for."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not user.is_authenticated or getattr(request, "api_token", None) is not None:
            return self.get_response(request)
        now = clock.now().timestamp()
        last_seen = request.session.get(LAST_SEEN_KEY)
        if last_seen is not None and now - float(last_seen) > idle_limit(user).total_seconds():
            do_record_audit("auth.idle_timeout", actor=user)
            logout(request)
            return self._expired(request)
        request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)

    def _expired(self, request: HttpRequest) -> HttpResponse:
        if is_api(request):
            return error_response(401, "session_expired", "Your session timed out; sign in again.")
        query = urlencode({"next": request.get_full_path(), "expired": "1"})
        return HttpResponseRedirect(f"{settings.LOGIN_URL}?{query}")


class StaffMfaMiddleware:
    """Staff see no patient data until their session is MFA-authenticated."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not request.path.startswith(MFA_SETUP_PATHS)
            and not staff_mfa_satisfied(request, user)
        ):
            return self._require_mfa(request, user)
        return self.get_response(request)

    def _require_mfa(self, request: HttpRequest, user: User) -> HttpResponse:
        if is_api(request):
            return error_response(
                403, "mfa_required", "Staff must sign in with two-factor authentication."
            )
        if has_totp(user):
            # Has MFA, but this session skipped it: sign in again through the MFA step.
            logout(request)
            return HttpResponseRedirect(settings.LOGIN_URL)
        return HttpResponseRedirect("/accounts/2fa/totp/activate/")
