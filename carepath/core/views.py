from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from carepath.accounts.models import Role
from carepath.core.health import run_checks
from carepath.core.responses import error_response


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503
    )


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def landing(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return HttpResponseRedirect("/home/")
    return render(request, "core/landing.html")


HOME_BY_ROLE = {
    Role.PATIENT: "/patient/",
    Role.CLINICIAN: "/staff/",
    Role.TELEFACILITATOR: "/staff/",
    Role.COORDINATOR: "/staff/",
    Role.ADMIN: "/staff/admin/",
}


@login_required
def home(request: HttpRequest) -> HttpResponseRedirect:
    role = getattr(request.user, "role", Role.PATIENT)
    return HttpResponseRedirect(HOME_BY_ROLE.get(role, "/patient/"))


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/fhir/"))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if wants_json(request):
        return error_response(403, "csrf_failed", "CSRF token missing or incorrect.")
    return render(
        request,
        "core/error.html",
        {
            "title": "Please try again",
            "message": "Your form expired or came from another site. Go back, reload the page and "
            "submit it again.",
        },
        status=403,
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request):
        return error_response(404, "not_found", "Not found.")
    return render(
        request,
        "core/error.html",
        {"title": "Not found", "message": "There is nothing here, or you may not see it."},
        status=404,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    if wants_json(request):
        return error_response(500, "server_error", "Something went wrong; it has been logged.")
    return render(
        request,
        "core/error.html",
        {
            "title": "Something went wrong",
            "message": "The error has been logged. Nothing you entered before was lost.",
        },
        status=500,
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request):
        return error_response(400, "bad_request", "The request could not be understood.")
    return render(
        request,
        "core/error.html",
        {"title": "Bad request", "message": "The request could not be understood."},
        status=400,
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request):
        return error_response(403, "forbidden", "You may not do this.")
    return render(
        request,
        "core/error.html",
        {"title": "Not allowed", "message": "Your role may not open this page."},
        status=403,
    )
