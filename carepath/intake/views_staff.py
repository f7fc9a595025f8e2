"""The clinician's review of a case, opened from the queue after claiming it:

/staff/cases/<id>/review/          answers, photos (zoomable), earlier episodes, actions
/staff/cases/<id>/answer/          POST: save the note draft, or sign it and answer
/staff/cases/<id>/request-info/    POST: ask the patient for more
/staff/cases/<id>/escalate/        POST: a live visit now (to the room) or offer scheduled times
/staff/cases/<id>/message/         POST: write to the patient after the live visit (follow-up)
/staff/cases/<id>/close/           POST: close
/staff/cases/notes/<id>/amend/     POST: amend a signed note"""

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from carepath.accounts.models import PatientProfile, Role, User
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
    CaseEscalation,
    access_case,
    attachments_of,
    case_work_item,
    emergency_awaits_live_visit,
    escalations_of,
    holds_case,
    live_visit_of,
    messages_of,
    visit_notes_of,
)
from carepath.workqueue.models import WorkItem, WorkItemStatus

# Every form of the review page has its own prefix, so no two fields share an id (the
# escalation's and the closing's "reason", the follow-up message's and an amendment's "text").
ANSWER = "answer"
INFO = "info"
ESCALATE = "escalate"
CLOSE = "close"
MESSAGE = "message"


# Where an amendment form may send the clinician back to: the review pages, the visit room.
AMEND_BACK = ("/staff/", "/visits/")


def amend_prefix(note_id: int) -> str:
    return f"amend-{note_id}"


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


@dataclass(frozen=True)
class Standing:
    """Where the case stands for a clinician who does not hold it (the card that replaces
    the review actions): what to say, and whether they can claim it from here."""

    heading: str
    text: str
    can_claim: bool = False


def _escalation_standing(clinician: User, latest: CaseEscalation) -> Standing:
    heading = "Escalated to a live visit"
    requester = latest.request.requested_by
    by_me = requester is not None and requester.pk == clinician.pk
    if latest.live_now and latest.visit is not None:
        who = latest.visit.clinician
        if who is None:
            return Standing(heading, "The patient is waiting for the next available clinician.")
        text = (
            "You have the live visit open."
            if who.pk == clinician.pk
            else (f"The live visit with {who.display_name} is open.")
        )
        return Standing(heading, text)
    if latest.appointment is not None:
        return Standing(heading, "The patient booked the live visit; care continues there.")
    if latest.waiting_for_booking:
        who_offered = "You" if by_me else (requester.display_name if requester else "A clinician")
        return Standing(heading, f"{who_offered} offered scheduled times; the patient will book.")
    return Standing(heading, "The live visit has ended; care continues in the follow-up.")


def _standing(
    clinician: User, case: Case, item: WorkItem | None, escalations: list[CaseEscalation]
) -> Standing:
    if item is not None and item.status == WorkItemStatus.OPEN:
        return Standing("You are not holding this case", "Claim it to act on it.", can_claim=True)
    if item is not None and item.status == WorkItemStatus.CLAIMED and item.claimed_by:
        return Standing(
            "Another clinician holds this case",
            f"{item.claimed_by.display_name} is reviewing it. You can read it.",
        )
    if case.status == CaseStatus.ESCALATED and escalations:
        return _escalation_standing(clinician, escalations[-1])
    return Standing(
        f"This case is {case.get_status_display().lower()}",
        "You can read it; nobody needs to act on it in the queue.",
    )


def _signed_notes(case: Case) -> list[dict[str, Any]]:
    """The signed notes of the case's async encounter, each with its own amendment form."""
    if not case.encounter_id:
        return []
    notes = (
        ClinicalNote.objects.filter(encounter_id=case.encounter_id, status=NoteStatus.SIGNED)
        .select_related("author")
        .prefetch_related("amendments__author")
    )
    return [{"note": note, "amend_form": AmendForm(prefix=amend_prefix(note.pk))} for note in notes]


def _draft_answer_form(case: Case, clinician: User) -> AnswerForm:
    draft = (
        ClinicalNote.objects.filter(
            encounter_id=case.encounter_id, author=clinician, status=NoteStatus.DRAFT
        ).first()
        if case.encounter_id
        else None
    )
    initial = {}
    if draft is not None:
        initial = {
            "subjective": draft.subjective,
            "objective": draft.objective,
            "assessment": draft.assessment,
            "plan": draft.plan,
        }
    return AnswerForm(initial=initial, prefix=ANSWER)


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
    escalations = escalations_of(case)
    item = case_work_item(case)
    follow_up = case.status == CaseStatus.FOLLOW_UP
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
            "item": item,
            "held": held,
            "standing": None
            if held or follow_up
            else _standing(clinician, case, item, escalations),
            "may_ask": held and case.status in actions.REVIEWABLE,
            "may_escalate": held and case.status in actions.escalatable_statuses(case),
            "notes": _signed_notes(case),
            "emergency": case.red_flag_outcome == RedFlagOutcome.EMERGENCY,
            "emergency_waiting": emergency_awaits_live_visit(case),
            "answer_form": answer_form or _draft_answer_form(case, clinician),
            "info_form": info_form or RequestInfoForm(prefix=INFO),
            "escalate_form": escalate_form or EscalateForm(prefix=ESCALATE),
            "close_form": close_form or CloseForm(prefix=CLOSE),
            "message_form": message_form or PatientMessageForm(prefix=MESSAGE),
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
            "follow_up": follow_up,
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
    form = AnswerForm(request.POST, prefix=ANSWER)
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
    form = RequestInfoForm(request.POST, prefix=INFO)
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
    form = EscalateForm(request.POST, prefix=ESCALATE)
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
            messages.success(request, "You offered scheduled times; the patient will book.")
            return HttpResponseRedirect(_review_url(case))
    return _review_page(request, case, escalate_form=form, status=400)


@role_required(Role.CLINICIAN)
@require_POST
def message_patient(request: HttpRequest, case_id: int) -> HttpResponse:
    clinician = request_user(request)
    case = access_case(clinician, case_id, action="case.message")
    form = PatientMessageForm(request.POST, prefix=MESSAGE)
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
    form = CloseForm(request.POST, prefix=CLOSE)
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
    back = back if back.startswith(AMEND_BACK) and "//" not in back else "/staff/"
    form = AmendForm(request.POST, prefix=amend_prefix(note.pk))
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
