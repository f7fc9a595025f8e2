"""The clinician's review of a case, opened from the queue after claiming it:

/staff/cases/<id>/review/          answers, photos (zoomable), earlier episodes, actions
/staff/cases/<id>/answer/          POST: save the note draft, or sign it and answer
/staff/cases/<id>/request-info/    POST: ask the patient for more
/staff/cases/<id>/escalate/        POST: a live visit now (to the room) or offer scheduled times
/staff/cases/<id>/message/         POST: write to the patient after the live visit (follow-up)
/staff/cases/<id>/close/           POST: close
/staff/cases/notes/<id>/amend/     POST: amend a signed note"""

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from carepath.accounts.models import PatientProfile, Role
from carepath.care.actions import do_amend_note
from carepath.care.models import ClinicalNote, NoteStatus
from carepath.care.selectors import access_note, episodes_of, signed_notes_of_episode
from carepath.core.decorators import request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.intake import actions
from carepath.intake.forms import (
    AmendForm,
    AnswerForm,
    CloseForm,
    EscalateForm,
    PatientMessageForm,
    RequestInfoForm,
    summary_rows,
)
from carepath.intake.models import Case, CaseStatus, RedFlagOutcome
from carepath.intake.selectors import (
    access_case,
    attachments_of,
    case_work_item,
    escalations_of,
    holds_case,
    live_visit_of,
    messages_of,
    visit_notes_of,
)


def _review_url(case: Case) -> str:
    return f"/staff/cases/{case.pk}/review/"


def _earlier_episodes(case: Case) -> list[dict[str, Any]]:
    earlier = []
    episodes = episodes_of(case.patient_id)
    if case.episode_id is not None:
        episodes = episodes.exclude(pk=case.episode_id)
    for episode in episodes[:20]:
        earlier.append({"episode": episode, "notes": list(signed_notes_of_episode(episode))})
    return earlier


def _review_page(
    request: HttpRequest,
    case: Case,
    *,
    answer_form: AnswerForm | None = None,
    info_form: RequestInfoForm | None = None,
    escalate_form: EscalateForm | None = None,
    close_form: CloseForm | None = None,
    message_form: PatientMessageForm | None = None,
    status: int = 200,
) -> HttpResponse:
    clinician = request_user(request)
    held = holds_case(clinician, case)
    if held:
        case = actions.do_begin_review(clinician, case)
    draft = (
        ClinicalNote.objects.filter(
            encounter_id=case.encounter_id, author=clinician, status=NoteStatus.DRAFT
        ).first()
        if case.encounter_id
        else None
    )
    notes = (
        list(
            ClinicalNote.objects.filter(encounter_id=case.encounter_id, status=NoteStatus.SIGNED)
            .select_related("author")
            .prefetch_related("amendments__author")
        )
        if case.encounter_id
        else []
    )
    if answer_form is None:
        initial = {}
        if draft is not None:
            initial = {
                "subjective": draft.subjective,
                "objective": draft.objective,
                "assessment": draft.assessment,
                "plan": draft.plan,
            }
        answer_form = AnswerForm(initial=initial)
    escalations = escalations_of(case)
    return render(
        request,
        "intake/review_case.html",
        {
            "case": case,
            "profile": PatientProfile.objects.filter(user_id=case.patient_id).first(),
            "rows": summary_rows(case.questionnaire.definition, case.answers),
            "other_files": [
                a for a in attachments_of(case) if not a.link_id and a.message_id is None
            ],
            "thread": messages_of(case),
            "earlier": _earlier_episodes(case),
            "item": case_work_item(case),
            "held": held,
            "notes": notes,
            "emergency": case.red_flag_outcome == RedFlagOutcome.EMERGENCY,
            "answer_form": answer_form,
            "info_form": info_form or RequestInfoForm(),
            "escalate_form": escalate_form or EscalateForm(),
            "close_form": close_form or CloseForm(),
            "message_form": message_form or PatientMessageForm(),
            "amend_form": AmendForm(),
            "encounter": case.encounter,
            "escalations": escalations,
            "my_live_visits": [
                item.visit
                for item in escalations
                if item.visit is not None
                and item.visit.is_live
                and item.visit.clinician_id == clinician.pk
            ],
            "visit_notes": visit_notes_of(case),
            "follow_up": case.status == CaseStatus.FOLLOW_UP,
        },
        status=status,
    )


@role_required(Role.CLINICIAN)
def review_case(request: HttpRequest, case_id: int) -> HttpResponse:
    case = access_case(request_user(request), case_id, action="case.review_open")
    return _review_page(request, case)


def _refused(form: forms.Form, refused: ActionRefused) -> None:
    field = refused.field if refused.field in form.fields else None
    form.add_error(field, refused.message)


@role_required(Role.CLINICIAN)
@require_POST
def answer_case(request: HttpRequest, case_id: int) -> HttpResponse:
    clinician = request_user(request)
    case = access_case(clinician, case_id, action="case.answer")
    form = AnswerForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if request.POST.get("save") == "draft":
                actions.do_save_review_note(
                    clinician,
                    case,
                    subjective=data["subjective"],
                    objective=data["objective"],
                    assessment=data["assessment"],
                    plan=data["plan"],
                )
                messages.success(request, "Note draft saved.")
                return HttpResponseRedirect(_review_url(case))
            actions.do_answer_case(
                clinician,
                case,
                message=data["message"],
                assessment=data["assessment"],
                plan=data["plan"],
                subjective=data["subjective"],
                objective=data["objective"],
            )
        except ActionRefused as refused:
            _refused(form, refused)
        else:
            messages.success(request, "Answer sent and note signed. The case is complete.")
            return HttpResponseRedirect(_review_url(case))
    return _review_page(request, case, answer_form=form, status=400)


@role_required(Role.CLINICIAN)
@require_POST
def request_info(request: HttpRequest, case_id: int) -> HttpResponse:
    clinician = request_user(request)
    case = access_case(clinician, case_id, action="case.request_info")
    form = RequestInfoForm(request.POST)
    if form.is_valid():
        try:
            actions.do_request_info(clinician, case, form.cleaned_data["question"])
        except ActionRefused as refused:
            _refused(form, refused)
        else:
            messages.success(request, "Question sent. The case returns to the queue on reply.")
            return HttpResponseRedirect(_review_url(case))
    return _review_page(request, case, info_form=form, status=400)


@role_required(Role.CLINICIAN)
@require_POST
def escalate_case(request: HttpRequest, case_id: int) -> HttpResponse:
    clinician = request_user(request)
    case = access_case(clinician, case_id, action="case.escalate")
    form = EscalateForm(request.POST)
    when = request.POST.get("when", actions.ESCALATE_SCHEDULED)
    if form.is_valid():
        try:
            escalated = actions.do_escalate_case(
                clinician,
                case,
                mode=form.cleaned_data["mode"],
                reason=form.cleaned_data["reason"],
                when=when,
            )
        except ActionRefused as refused:
            _refused(form, refused)
        else:
            visit = live_visit_of(escalated)
            if visit is not None:
                messages.success(request, "The patient was called to the visit. Admit them here.")
                return HttpResponseRedirect(f"/visits/{visit.pk}/")
            messages.success(request, "The patient was asked to book a live visit.")
            return HttpResponseRedirect(_review_url(case))
    return _review_page(request, case, escalate_form=form, status=400)


@role_required(Role.CLINICIAN)
@require_POST
def message_patient(request: HttpRequest, case_id: int) -> HttpResponse:
    clinician = request_user(request)
    case = access_case(clinician, case_id, action="case.message")
    form = PatientMessageForm(request.POST)
    if form.is_valid():
        try:
            actions.do_message_patient(clinician, case, form.cleaned_data["text"])
        except ActionRefused as refused:
            _refused(form, refused)
        else:
            messages.success(request, "Message sent to the patient.")
            return HttpResponseRedirect(_review_url(case))
    return _review_page(request, case, message_form=form, status=400)


@role_required(Role.CLINICIAN)
@require_POST
def close_case(request: HttpRequest, case_id: int) -> HttpResponse:
    clinician = request_user(request)
    case = access_case(clinician, case_id, action="case.close")
    form = CloseForm(request.POST)
    if form.is_valid():
        try:
            actions.do_close_case(clinician, case, form.cleaned_data["reason"])
        except ActionRefused as refused:
            _refused(form, refused)
        else:
            messages.success(request, "Case closed.")
            return HttpResponseRedirect(_review_url(case))
    return _review_page(request, case, close_form=form, status=400)


@role_required(Role.CLINICIAN)
@require_POST
def amend_note(request: HttpRequest, note_id: int) -> HttpResponse:
    clinician = request_user(request)
    note = access_note(clinician, note_id, action="note.amend")
    back = request.POST.get("back", "")
    back = back if back.startswith("/staff/") and "//" not in back else "/staff/"
    form = AmendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write the amendment (at most 20,000 characters).")
        return HttpResponseRedirect(back)
    try:
        do_amend_note(clinician, note, form.cleaned_data["text"])
    except ActionRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "Amendment added to the signed note.")
    return HttpResponseRedirect(back)
