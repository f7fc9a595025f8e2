from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from carepath.access.actions import do_break_glass
from carepath.access.forms import BreakGlassForm
from carepath.access.selectors import access_patient, active_break_glass, patients_visible_to
from carepath.audit.actions import do_record_audit
from carepath.core.decorators import STAFF, request_user, role_required
from carepath.core.errors import ActionRefused


@role_required(*STAFF)
def patient_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    patients = list(patients_visible_to(user)[:200])
    for profile in patients:
        do_record_audit(
            "patient.list",
            actor=user,
            object_type="patient",
            object_id=profile.user_id,
            patient_id=profile.user_id,
        )
    return render(request, "access/patient_list.html", {"patients": patients})


@role_required(*STAFF)
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = request_user(request)
    profile = access_patient(user, patient_id)
    return render(
        request,
        "access/patient_detail.html",
        {
            "profile": profile,
            "break_glass": active_break_glass(user, patient_id),
        },
    )


@role_required(*STAFF)
def break_glass(request: HttpRequest, patient_id: int) -> HttpResponse:
    user = request_user(request)
    form = BreakGlassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            do_break_glass(
                user, patient_id, form.cleaned_data["reason"], form.cleaned_data["minutes"]
            )
        except ActionRefused as refused:
            form.add_error(refused.field or None, refused.message)
        else:
            messages.warning(request, "Emergency access granted. Administrators were alerted.")
            return HttpResponseRedirect(f"/staff/patients/{patient_id}/")
    return render(
        request,
        "access/break_glass.html",
        {
            "form": form,
            "patient_id": patient_id,
            "allowed": user.can_break_glass,
        },
        status=400 if form.errors else 200,
    )
