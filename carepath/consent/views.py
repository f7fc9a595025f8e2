from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from carepath.accounts.models import Role
from carepath.consent.actions import (
    do_accept_consents,
    do_publish_consent_document,
    do_revoke_telehealth_consent,
)
from carepath.consent.forms import ConsentDocumentForm, RevokeForm
from carepath.consent.models import ConsentDocument
from carepath.consent.selectors import acceptance_history, pending_documents
from carepath.core.decorators import request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.core.request_context import client_ip


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


@role_required(Role.PATIENT)
def consent_page(request: HttpRequest) -> HttpResponse:
    patient = request_user(request)
    error = ""
    if request.method == "POST":
        try:
            ids = [int(value) for value in request.POST.getlist("documents")]
            do_accept_consents(
                patient,
                ids,
                ip_address=client_ip(request),
                user_agent=request.headers.get("User-Agent", ""),
            )
        except ValueError:
            error = "Please accept each document shown."
        except ActionRefused as refused:
            error = refused.message
        else:
            messages.success(request, "Thank you. Your consent is recorded.")
            return HttpResponseRedirect(safe_next(request, "/patient/"))
    return render(
        request,
        "consent/consent.html",
        {
            "pending": pending_documents(patient),
            "history": acceptance_history(patient),
            "error": error,
            "next": safe_next(request, "/patient/"),
            "revoke_form": RevokeForm(),
        },
        status=400 if error else 200,
    )


@role_required(Role.PATIENT)
def revoke_page(request: HttpRequest) -> HttpResponse:
    form = RevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            do_revoke_telehealth_consent(request_user(request), form.cleaned_data["reason"])
        except ActionRefused as refused:
            messages.error(request, refused.message)
        else:
            messages.info(request, "Your telehealth consent is revoked. No new care will start.")
    return HttpResponseRedirect("/patient/consent/")


@role_required(Role.ADMIN)
def documents_page(request: HttpRequest) -> HttpResponse:
    form = ConsentDocumentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        document = do_publish_consent_document(request_user(request), **form.cleaned_data)
        messages.success(request, f"Published {document}. Patients will be asked again.")
        return HttpResponseRedirect("/staff/admin/consent/")
    return render(
        request,
        "consent/documents.html",
        {
            "form": form,
            "documents": ConsentDocument.objects.all()[:200],
        },
        status=400 if form.errors else 200,
    )
