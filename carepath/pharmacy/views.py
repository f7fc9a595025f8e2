"""Pharmacy pages: the directory search (everyone signed in; patients choose their preferred
pharmacy there), directory administration and network credentials (admins), and the dispatch
view with retry (admins, coordinators)."""

from django.contrib import messages
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    QueryDict,
)
from django.shortcuts import render
from django.urls import reverse

from carepath.accounts.models import Role
from carepath.core.decorators import STAFF, request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.pharmacy import actions
from carepath.pharmacy.forms import (
    DispatchFilterForm,
    NetworkClientForm,
    PharmacyForm,
    SearchForm,
)
from carepath.pharmacy.models import Pharmacy
from carepath.pharmacy.selectors import (
    MAX_SEARCH_RESULTS,
    PharmacySearch,
    access_dispatch,
    access_preferred_pharmacy,
    all_pharmacies,
    dispatch_status_counts,
    get_pharmacy,
    list_dispatches_for_staff,
    network_clients,
    search_pharmacies,
)

DISPATCH_STAFF = (Role.ADMIN, Role.COORDINATOR)
EVERYONE = (Role.PATIENT, *STAFF)


def _post_only(request: HttpRequest) -> HttpResponse | None:
    return None if request.method == "POST" else HttpResponseNotAllowed(["POST"])


def _patient_state(request: HttpRequest) -> str:
    profile = getattr(request_user(request), "patient_profile", None)
    return str(profile.state) if profile is not None else ""


# --- The directory and the patient's choice ----------------------------------------------------


@role_required(*EVERYONE)
def directory(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    is_patient = user.role == Role.PATIENT
    initial = {"state": _patient_state(request)} if is_patient else {}
    form = SearchForm(request.GET or None, initial=initial)
    search = PharmacySearch(state=initial.get("state", ""))
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        search = PharmacySearch(
            state=data["state"], city=data["city"], name=data["name"], postal_code=data["zip"]
        )
    results = list(search_pharmacies(search)[:MAX_SEARCH_RESULTS]) if not search.is_empty else []
    choice = access_preferred_pharmacy(user, user.pk) if is_patient else None
    return render(
        request,
        "pharmacy/directory.html",
        {
            "form": form,
            "results": results,
            "searched": not search.is_empty,
            "is_patient": is_patient,
            "choice": choice,
        },
    )


@role_required(Role.PATIENT)
def choose_preferred(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseRedirect(reverse("pharmacy-directory"))
    patient = request_user(request)
    raw = request.POST.get("pharmacy_id", "")
    back = request.POST.get("back", "")
    try:
        choice = actions.do_choose_preferred_pharmacy(patient, int(raw) if raw.isdigit() else 0)
    except ActionRefused as refused:
        if refused.status == 403:
            raise
        messages.error(request, refused.message)
    else:
        messages.success(
            request,
            f"Your preferred pharmacy is now {choice.pharmacy.name}, {choice.pharmacy.city}.",
        )
    # Back to the search the patient made (re-encoded: only a query string can come through).
    query = QueryDict(back.removeprefix("?")).urlencode() if back.startswith("?") else ""
    target = reverse("pharmacy-directory")
    return HttpResponseRedirect(f"{target}?{query}" if query else target)


# --- Directory administration --------------------------------------------------------------------


@role_required(Role.ADMIN)
def admin_list(request: HttpRequest) -> HttpResponse:
    return render(request, "pharmacy/admin_list.html", {"pharmacies": all_pharmacies()})


def _save_pharmacy(
    request: HttpRequest, form: PharmacyForm, pharmacy: Pharmacy | None
) -> Pharmacy | None:
    if not form.is_valid():
        return None
    admin = request_user(request)
    secret = form.cleaned_data["webhook_secret"]
    try:
        if pharmacy is None:
            return actions.do_create_pharmacy(admin, form.data_for_action(), webhook_secret=secret)
        return actions.do_update_pharmacy(
            admin, pharmacy.pk, form.data_for_action(), webhook_secret=secret or None
        )
    except ActionRefused as refused:
        if refused.status == 403:
            raise
        form.add_error(refused.field if refused.field in form.fields else None, refused.message)
        return None


@role_required(Role.ADMIN)
def admin_new(request: HttpRequest) -> HttpResponse:
    form = PharmacyForm(request.POST or None)
    if request.method == "POST":
        saved = _save_pharmacy(request, form, None)
        if saved is not None:
            messages.success(request, f"{saved.name} added to the directory.")
            return HttpResponseRedirect(reverse("pharmacy-admin"))
    return render(
        request,
        "pharmacy/admin_form.html",
        {"form": form, "pharmacy": None},
        status=400 if form.errors else 200,
    )


@role_required(Role.ADMIN)
def admin_edit(request: HttpRequest, pharmacy_id: int) -> HttpResponse:
    pharmacy = get_pharmacy(pharmacy_id, include_inactive=True)
    secret_is_set = bool(pharmacy.webhook_secret_encrypted)
    form = PharmacyForm(
        request.POST or None,
        initial=PharmacyForm.initial_from(pharmacy),
        secret_is_set=secret_is_set,
    )
    if request.method == "POST":
        saved = _save_pharmacy(request, form, pharmacy)
        if saved is not None:
            messages.success(request, f"{saved.name} saved.")
            return HttpResponseRedirect(reverse("pharmacy-admin"))
    return render(
        request,
        "pharmacy/admin_form.html",
        {"form": form, "pharmacy": pharmacy},
        status=400 if form.errors else 200,
    )


@role_required(Role.ADMIN)
def admin_set_active(request: HttpRequest, pharmacy_id: int) -> HttpResponse:
    if (refusal := _post_only(request)) is not None:
        return refusal
    active = request.POST.get("active") == "1"
    try:
        pharmacy = actions.do_set_pharmacy_active(request_user(request), pharmacy_id, active=active)
    except ActionRefused as refused:
        if refused.status == 403:
            raise
        messages.error(request, refused.message)
    else:
        state = "back in" if active else "taken out of"
        messages.success(request, f"{pharmacy.name} {state} the directory.")
    return HttpResponseRedirect(reverse("pharmacy-admin"))


@role_required(Role.ADMIN)
def network_credentials(request: HttpRequest) -> HttpResponse:
    form = NetworkClientForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            client, token = actions.do_issue_network_client(
                request_user(request), form.cleaned_data["name"]
            )
        except ActionRefused as refused:
            if refused.status == 403:
                raise
            form.add_error("name", refused.message)
        else:
            issued = {"client": client, "token": token}
            form = NetworkClientForm()
    response = render(
        request,
        "pharmacy/network_clients.html",
        {"form": form, "clients": network_clients(), "issued": issued},
    )
    if issued:
        response["Cache-Control"] = "no-store"  # the token must not linger in a cache
    return response


@role_required(Role.ADMIN)
def revoke_network_credential(request: HttpRequest, client_id: int) -> HttpResponse:
    if (refusal := _post_only(request)) is not None:
        return refusal
    try:
        client = actions.do_revoke_network_client(request_user(request), client_id)
    except ActionRefused as refused:
        if refused.status == 403:
            raise
        messages.error(request, refused.message)
    else:
        messages.success(request, f"Token of {client.name} revoked.")
    return HttpResponseRedirect(reverse("pharmacy-network"))


# --- Dispatches ----------------------------------------------------------------------------------


@role_required(*DISPATCH_STAFF)
def dispatch_list(request: HttpRequest) -> HttpResponse:
    form = DispatchFilterForm(request.GET or None)
    status = form.cleaned_data["status"] if form.is_bound and form.is_valid() else ""
    dispatches = list_dispatches_for_staff(request_user(request), status, 200)
    return render(
        request,
        "pharmacy/dispatch_list.html",
        {"form": form, "dispatches": dispatches, "counts": dispatch_status_counts()},
    )


@role_required(*DISPATCH_STAFF)
def dispatch_detail(request: HttpRequest, dispatch_id: int) -> HttpResponse:
    dispatch = access_dispatch(request_user(request), dispatch_id)
    return render(
        request,
        "pharmacy/dispatch_detail.html",
        {
            "dispatch": dispatch,
            "history": dispatch.history.select_related("actor").order_by("occurred_at", "pk"),
            "can_retry": dispatch.can_retry,
        },
    )


@role_required(*DISPATCH_STAFF)
def dispatch_retry(request: HttpRequest, dispatch_id: int) -> HttpResponse:
    if (refusal := _post_only(request)) is not None:
        return refusal
    user = request_user(request)
    access_dispatch(user, dispatch_id)
    try:
        actions.do_retry_dispatch(user, dispatch_id)
    except ActionRefused as refused:
        if refused.status == 403:
            raise
        messages.error(request, refused.message)
    else:
        messages.success(request, "Queued again; delivery starts now.")
    return HttpResponseRedirect(reverse("pharmacy-dispatch", args=[dispatch_id]))
