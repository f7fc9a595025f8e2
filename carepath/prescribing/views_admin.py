"""The formulary, for administrators:

formulary/                        the list (active and inactive) and the form to add an entry
formulary/<id>/active/            POST: activate or deactivate"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from carepath.accounts.models import Role
from carepath.core.decorators import request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.prescribing import actions_formulary
from carepath.prescribing.forms import MedicationForm
from carepath.prescribing.models import Medication
from carepath.prescribing.selectors import formulary
from carepath.prescribing.views import refused_on

FORMULARY_URL = "/prescriptions/formulary/"


@role_required(Role.ADMIN)
def formulary_page(request: HttpRequest) -> HttpResponse:
    form = MedicationForm()
    status = 200
    if request.method == "POST":
        form = MedicationForm(request.POST)
        if form.is_valid():
            try:
                medication = actions_formulary.do_create_medication(
                    request_user(request), **form.as_action_kwargs()
                )
            except ActionRefused as refused:
                refused_on(form, refused)
            else:
                messages.success(request, f"{medication.name} added to the formulary.")
                return HttpResponseRedirect(FORMULARY_URL)
        status = 400
    # A NUL cannot be searched for (PostgreSQL refuses it): drop it from a typed search.
    query = request.GET.get("q", "").replace("\x00", "")[:100]
    return render(
        request,
        "prescribing/formulary.html",
        {
            "medications": list(formulary(include_inactive=True, query=query)),
            "form": form,
            "q": query,
        },
        status=status,
    )


@role_required(Role.ADMIN)
@require_POST
def set_active(request: HttpRequest, medication_id: int) -> HttpResponse:
    medication = get_object_or_404(Medication, pk=medication_id)
    active = request.POST.get("active") == "1"
    try:
        actions_formulary.do_set_medication_active(request_user(request), medication, active)
    except ActionRefused as refused:
        messages.error(request, refused.message)
    else:
        state = "back on" if active else "taken off"
        messages.success(request, f"{medication.name} is {state} the formulary.")
    return HttpResponseRedirect(FORMULARY_URL)
