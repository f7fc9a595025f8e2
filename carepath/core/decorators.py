"""Page guards. Role denials are audited and shown as a 403 page; record-level denials are
404s raised by access_*()."""

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase

from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome

View = Callable[..., HttpResponseBase]


def role_required(*roles: Role) -> Callable[[View], View]:
    allowed = frozenset(roles)

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if getattr(request.user, "role", None) not in allowed:
                do_record_audit(
                    "page.open",
                    actor=request.user,
                    outcome=Outcome.DENIED,
                    detail={
                        "route": request.resolver_match.route if request.resolver_match else ""
                    },
                )
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return guarded

    return decorate


def consent_required(view: View) -> View:
    """Care pages: a patient without current consent is sent to accept it first."""

    @wraps(view)
    def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        from carepath.consent.selectors import has_current_consent

        if not has_current_consent(request.user):  # type: ignore[arg-type]
            return HttpResponseRedirect(
                "/patient/consent/?" + urlencode({"next": request.get_full_path()})
            )
        return view(request, *args, **kwargs)

    return gated


STAFF = (Role.CLINICIAN, Role.TELEFACILITATOR, Role.COORDINATOR, Role.ADMIN)
CARE_STAFF = (Role.CLINICIAN, Role.TELEFACILITATOR, Role.COORDINATOR)


def request_user(request: HttpRequest) -> User:
    """The signed-in user of a guarded view, typed as our User."""
    user = request.user
    assert isinstance(user, User), "request_user() is for views behind a login guard"
    return user
