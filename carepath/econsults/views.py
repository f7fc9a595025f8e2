"""eConsult pages (clinicians):

/staff/econsults/                 what I asked and answered
/staff/econsults/new/?patient=ID  ask a specialty about a patient I care for (with files)
/staff/econsults/<id>/            the question; the specialist holding it answers here"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from carepath.accounts.models import Role, Specialty
from carepath.core.decorators import request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.econsults.actions import do_answer_econsult, do_ask_econsult
from carepath.econsults.forms import EConsultAnswerForm, EConsultForm
from carepath.econsults.models import EConsultStatus
from carepath.econsults.selectors import (
    access_econsult,
    attachments_of,
    econsult_work_item,
    econsults_for,
    holds_econsult,
)


@role_required(Role.CLINICIAN)
def econsult_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    econsults = [
        access_econsult(user, e.pk, action="econsult.list") for e in econsults_for(user)[:100]
    ]
    return render(request, "econsults/list.html", {"econsults": econsults})


@role_required(Role.CLINICIAN)
def econsult_new(request: HttpRequest) -> HttpResponse:
    asker = request_user(request)
    specialties = [(s.code, s.name) for s in Specialty.objects.all()]
    initial = {}
    if request.GET.get("patient", "").isdigit():
        initial["patient_id"] = int(request.GET["patient"])
    form = EConsultForm(request.POST or None, initial=initial, specialties=specialties)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            econsult = do_ask_econsult(
                asker,
                data["patient_id"],
                specialty_code=data["specialty"],
                question=data["question"],
                uploads=request.FILES.getlist("files"),
            )
        except ActionRefused as refused:
            field = refused.field if refused.field in form.fields else None
            form.add_error(field, refused.message)
        else:
            messages.success(request, "Your eConsult is in the specialists' queue.")
            return HttpResponseRedirect(f"/staff/econsults/{econsult.pk}/")
    return render(request, "econsults/new.html", {"form": form}, status=400 if form.errors else 200)


@role_required(Role.CLINICIAN)
def econsult_detail(request: HttpRequest, econsult_id: int) -> HttpResponse:
    user = request_user(request)
    econsult = access_econsult(user, econsult_id)
    form = EConsultAnswerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            do_answer_econsult(user, econsult, form.cleaned_data["answer"])
        except ActionRefused as refused:
            form.add_error("answer", refused.message)
        else:
            messages.success(request, "Answer sent. The asking clinician was notified.")
            return HttpResponseRedirect(request.path)
    return render(
        request,
        "econsults/detail.html",
        {
            "econsult": econsult,
            "attachments": attachments_of(econsult),
            "item": econsult_work_item(econsult),
            "held": holds_econsult(user, econsult),
            "open": econsult.status == EConsultStatus.SUBMITTED,
            "form": form,
        },
        status=400 if form.errors else 200,
    )
