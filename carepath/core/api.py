"""The JSON API at /api/v1. Every error, from any layer, comes out in the one shape of
carepath.core.responses."""

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.utils import check_csrf

from carepath.accounts.models import User
from carepath.core.errors import ActionRefused
from carepath.core.middleware import HTTP_ERROR_CODES
from carepath.core.responses import error_response

logger = logging.getLogger("carepath.api")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SessionOrToken:
    """Bearer tokens (set by ApiTokenMiddleware) or a browser session; a session must also
    pass the CSRF check on unsafe methods, since the browser sends its cookie on its own."""

    def __call__(self, request: HttpRequest) -> User | None:
        user = request.user
        if not user.is_authenticated:
            return None
        uses_session = getattr(request, "api_token", None) is None
        if uses_session and request.method not in SAFE_METHODS and check_csrf(request):
            raise ActionRefused(
                "csrf_failed",
                "CSRF token missing or incorrect; send X-CSRFToken with session requests.",
                status=403,
            )
        assert isinstance(user, User)
        return user


class RoleGate(SessionOrToken):
    """Refuses other roles before the body is even parsed, so a caller learns nothing about
    an endpoint it may not use. The refusal is audited."""

    def __init__(self, roles: frozenset[str]) -> None:
        self.roles = roles

    def __call__(self, request: HttpRequest) -> User | None:
        user = super().__call__(request)
        if user is not None and user.role not in self.roles:
            from carepath.audit.actions import do_record_audit

            do_record_audit(
                "api.call",
                actor=user,
                outcome="denied",
                detail={"method": request.method or "", "path": request.path},
            )
            raise ActionRefused("forbidden", "Your role may not do this.", status=403)
        return user


def only(*roles: str) -> list[RoleGate]:
    """`auth=only(Role.ADMIN)` on an operation: signed in AND one of these roles."""
    return [RoleGate(frozenset(str(role) for role in roles))]


def current_user(request: HttpRequest) -> User:
    """The authenticated user of an API call (auth has already run)."""
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


api = NinjaAPI(
    title="Carepath API",
    version="1",
    description="Hybrid telehealth: asynchronous and live care on one care path.",
    urls_namespace="api",
    auth=SessionOrToken(),
    docs_url="/docs",
)


def _field_errors(errors: list[dict[str, Any]]) -> list[dict[str, str]]:
    fields = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ()) if part not in ("body", "payload")]
        fields.append({"field": ".".join(location) or "body", "message": str(error.get("msg"))})
    return fields


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return error_response(
        422, "validation_error", "Some fields are invalid.", _field_errors(exc.errors)
    )


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(401, "not_authenticated", "Sign in or send an API token.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = HTTP_ERROR_CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, code, str(exc))


@api.exception_handler(ActionRefused)
def on_action_refused(request: HttpRequest, exc: ActionRefused) -> HttpResponse:
    fields = [{"field": exc.field, "message": exc.message}] if exc.field else []
    return error_response(exc.status, exc.code, exc.message, fields)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(404, "not_found", str(exc) or "Not found.")


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(403, "forbidden", str(exc) or "You may not do this.")


@api.exception_handler(OverflowError)
def on_id_overflow(request: HttpRequest, exc: OverflowError) -> HttpResponse:
    # An id beyond a 64-bit integer names no row (SQLite raises instead of finding none).
    return error_response(404, "not_found", "Not found.")


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("unhandled API error")
    return error_response(500, "server_error", "Something went wrong; it has been logged.")


def register_routers() -> None:
    from carepath.access.api import router as access_router
    from carepath.accounts.api import router as accounts_router
    from carepath.audit.api import router as audit_router
    from carepath.care.api import router as care_router
    from carepath.carepaths.api import router as carepaths_router
    from carepath.consent.api import router as consent_router
    from carepath.econsults.api import router as econsults_router
    from carepath.files.api import router as files_router
    from carepath.intake.api import router as intake_router
    from carepath.messaging.api import router as messaging_router
    from carepath.notifications.api import router as notifications_router
    from carepath.pharmacy.api import router as pharmacy_router
    from carepath.prescribing.api import router as prescribing_router
    from carepath.rpm.api import router as rpm_router
    from carepath.scheduling.api import router as scheduling_router
    from carepath.visits.api import router as visits_router
    from carepath.workqueue.api import router as queue_router

    api.add_router("/", accounts_router)
    api.add_router("/patients", access_router)
    api.add_router("/consent", consent_router)
    api.add_router("/audit", audit_router)
    api.add_router("/notifications", notifications_router)
    api.add_router("/queue", queue_router)
    api.add_router("/files", files_router)
    api.add_router("/care", care_router)
    api.add_router("/intake", intake_router)
    api.add_router("/econsults", econsults_router)
    api.add_router("/scheduling", scheduling_router)
    api.add_router("/visits", visits_router)
    api.add_router("/messages", messaging_router)
    api.add_router("/rpm", rpm_router)
    api.add_router("/pharmacy", pharmacy_router)
    api.add_router("/prescribing", prescribing_router)
    api.add_router("/care-paths", carepaths_router)


register_routers()
