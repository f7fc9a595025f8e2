"""Visit pages: the list, on-demand request, link entry, waiting room and the visit room.
Guests (no account) reach the link, waiting and room pages through their link's session."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from carepath.accounts.mfa import staff_mfa_satisfied
from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.care.models import ClinicalNote, Encounter, NoteStatus
from carepath.core.decorators import consent_required, request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.intake.forms import summary_rows
from carepath.intake.models import Case
from carepath.intake.selectors import access_case, attachments_of, case_of_encounter, messages_of
from carepath.visits import actions
from carepath.visits.forms import GuestNameForm, OnDemandForm
from carepath.visits.models import (
    AdmissionState,
    Participant,
    ParticipantRole,
    Visit,
    VisitKind,
    VisitStatus,
)
from carepath.visits.protocol import VITALS
from carepath.visits.selectors import (
    SESSION_KEY,
    bound_participant_id,
    entitled_role,
    estimate_wait,
    find_participant,
    visits_for,
)
from carepath.visits.wording import duration_words


def _signed_in(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def _page_participant(request: HttpRequest, visit_id: int, action: str) -> Participant:
    user = _signed_in(request)
    participant = find_participant(visit_id, user, request.session)
    if participant is None and user is not None:
        visit = Visit.objects.filter(pk=visit_id).first()
        if visit is not None and entitled_role(user, visit) is not None:
            participant = actions.do_ensure_participant(visit, user)
    if participant is None:
        visit = Visit.objects.filter(pk=visit_id).only("patient_id").first()
        do_record_audit(
            action,
            actor=user,
            object_type="visit",
            object_id=visit_id,
            patient_id=visit.patient_id if visit else None,
            outcome=Outcome.DENIED,
        )
        raise Http404("No visit with that id.")
    do_record_audit(
        action,
        actor=user,
        object_type="visit",
        object_id=visit_id,
        patient_id=participant.visit.patient_id,
        detail={"participant_id": participant.pk},
    )
    return participant


def _bind(request: HttpRequest, visit_id: int, participant: Participant) -> None:
    bound = dict(request.session.get(SESSION_KEY) or {})
    bound[str(visit_id)] = participant.pk
    request.session[SESSION_KEY] = bound


@login_required
def visit_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    visits = list(visits_for(user)[:50])
    for visit in visits:
        do_record_audit(
            "visit.list",
            actor=user,
            object_type="visit",
            object_id=visit.pk,
            patient_id=visit.patient_id,
        )
    on_demand: list[Any] = []
    if user.role == Role.CLINICIAN:
        from carepath.workqueue.models import WorkItemKind
        from carepath.workqueue.selectors import eligible_items_for

        on_demand = list(eligible_items_for(user).filter(kind=WorkItemKind.ON_DEMAND)[:20])
    return render(
        request,
        "visits/list.html",
        {"visits": visits, "on_demand": on_demand, "is_patient": user.role == Role.PATIENT},
    )


@role_required(Role.PATIENT)
@consent_required
def on_demand(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = OnDemandForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            visit = actions.do_request_on_demand(
                user,
                reason=form.cleaned_data["reason"],
                specialty_code=form.cleaned_data["service"],
            )
        except ActionRefused as refused:
            form.add_error(refused.field or None, refused.message)
        else:
            return HttpResponseRedirect(f"/visits/{visit.pk}/wait/")
    return render(
        request, "visits/on_demand.html", {"form": form}, status=400 if form.errors else 200
    )


@login_required
def appointment_entry(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """The way into an appointment's visit from the schedule (patient or clinician)."""
    from carepath.scheduling.selectors import access_appointment

    user = request_user(request)
    appointment = access_appointment(user, appointment_id, action="appointment.join")
    if user.pk not in (appointment.patient_id, appointment.clinician_id):
        raise Http404("No visit for you here.")
    try:
        visit = actions.do_open_visit_for_appointment(appointment, by=user)
    except ActionRefused as refused:
        return _refused_page(request, refused.message, status=refused.status)
    if user.pk == visit.clinician_id:
        return HttpResponseRedirect(f"/visits/{visit.pk}/")
    return HttpResponseRedirect(f"/visits/{visit.pk}/wait/")


def _refused_page(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    return render(request, "visits/link_refused.html", {"message": message}, status=status)


@never_cache
def join_link(request: HttpRequest, visit_id: int, token: str) -> HttpResponse:
    """A visit link: refused with a clear page when wrong, expired or for another visit;
    guests give their name first; then the waiting room."""
    user = _signed_in(request)
    form = GuestNameForm(request.POST or None)
    guest_name = None
    if request.method == "POST" and form.is_valid():
        guest_name = form.cleaned_data["name"]
    try:
        opened = actions.do_open_link(
            visit_id,
            token,
            user=user,
            bound_participant=bound_participant_id(request.session, visit_id),
            guest_name=guest_name,
            staff_mfa_ok=user is not None and staff_mfa_satisfied(request, user),
        )
    except actions.LinkRefused as refused:
        if refused.code == "sign_in":
            path = request.get_full_path()
            next_url = path if url_has_allowed_host_and_scheme(path, None) else "/"
            return HttpResponseRedirect(f"/accounts/login/?next={next_url}")
        return _refused_page(request, refused.message, status=refused.status)
    except ActionRefused as refused:
        form.add_error(refused.field or None, refused.message)
        opened = None
    if opened is None or opened.participant is None:
        label = opened.link.get_role_display() if opened else ""
        return render(
            request,
            "visits/join_name.html",
            {"form": form, "role": label},
            status=400 if form.errors else 200,
        )
    _bind(request, visit_id, opened.participant)
    if opened.participant.is_admitted:
        return HttpResponseRedirect(f"/visits/{visit_id}/")
    return HttpResponseRedirect(f"/visits/{visit_id}/wait/")


def _context(participant: Participant) -> dict[str, Any]:
    visit = participant.visit
    return {
        "visit": visit,
        "participant": participant,
        "is_clinician": participant.role == ParticipantRole.CLINICIAN,
        "is_patient": participant.role == ParticipantRole.PATIENT,
        "is_facilitator": participant.role == ParticipantRole.TELEFACILITATOR,
        "may_invite": participant.role in (ParticipantRole.CLINICIAN, ParticipantRole.PATIENT)
        and participant.user_id is not None,
        "vitals": [
            {"name": name, "display": spec[1], "unit": spec[2], "low": spec[3], "high": spec[4]}
            for name, spec in VITALS.items()
        ],
    }


def _ended_page(request: HttpRequest, participant: Participant) -> HttpResponse:
    """The visit is over: how long it lasted, and for its patient and clinician the way on
    (the episode, and the after-visit summary once the note is signed)."""
    visit = participant.visit
    context = _context(participant)
    context["duration"] = duration_words(visit.duration_seconds)
    encounter = _encounter_of(visit)
    if (
        participant.user is not None
        and participant.role in (ParticipantRole.PATIENT, ParticipantRole.CLINICIAN)
        and encounter is not None
    ):
        context["episode_url"] = f"/episodes/{encounter.episode_id}/"
        if ClinicalNote.objects.filter(encounter=encounter, status=NoteStatus.SIGNED).exists():
            context["summary_url"] = f"/episodes/encounters/{encounter.pk}/summary/"
    return render(request, "visits/ended.html", context)


@never_cache
def waiting_room(request: HttpRequest, visit_id: int) -> HttpResponse:
    participant = _page_participant(request, visit_id, "visit.wait")
    visit = participant.visit
    if participant.role == ParticipantRole.CLINICIAN:
        return HttpResponseRedirect(f"/visits/{visit_id}/")
    if visit.status in (VisitStatus.ENDED, VisitStatus.CANCELLED):
        return _ended_page(request, participant)
    context = _context(participant)
    context["zone"] = participant.user.time_zone if participant.user else "UTC"
    context["estimate"] = estimate_wait(visit)
    context["on_demand"] = visit.kind == VisitKind.ON_DEMAND
    return render(request, "visits/wait.html", context)


def _take_claimed_request(request: HttpRequest, visit_id: int) -> None:
    """A clinician who claimed an on-demand request in the queue and opens it: they take the
    visit (and the patient is brought in)."""
    user = _signed_in(request)
    if user is None or user.role != Role.CLINICIAN:
        return
    visit = (
        Visit.objects.select_related("work_item")
        .filter(pk=visit_id, kind=VisitKind.ON_DEMAND, clinician__isnull=True)
        .first()
    )
    if visit is None or visit.work_item is None:
        return
    if visit.work_item.claimed_by_id == user.pk and visit.work_item.status == "claimed":
        actions.do_take_on_demand(user, visit.pk)


@never_cache
def room(request: HttpRequest, visit_id: int) -> HttpResponse:
    _take_claimed_request(request, visit_id)
    participant = _page_participant(request, visit_id, "visit.room")
    visit = participant.visit
    if visit.status in (VisitStatus.ENDED, VisitStatus.CANCELLED):
        return _ended_page(request, participant)
    if participant.state != AdmissionState.ADMITTED:
        return HttpResponseRedirect(f"/visits/{visit_id}/wait/")
    context = _context(participant)
    if participant.user is not None:
        context["time_zone"] = participant.user.time_zone or "UTC"
    if context["is_clinician"] and participant.user is not None:
        context["encounter"] = _encounter_of(visit)
        context["intake"] = _intake_panel(visit, participant.user)
        context["signed_note"] = _signed_note(visit, participant.user)
    return render(request, "visits/room.html", context)


def _signed_note(visit: Visit, clinician: User) -> ClinicalNote | None:
    """The clinician's signed note of this visit: the room shows it read-only (a signed note
    never changes; amendments are appended)."""
    if visit.encounter_id is None:
        return None
    note = (
        ClinicalNote.objects.filter(
            encounter_id=visit.encounter_id, author=clinician, status=NoteStatus.SIGNED
        )
        .prefetch_related("amendments__author")
        .order_by("-signed_at")
        .first()
    )
    if note is not None:
        do_record_audit(
            "note.read",
            actor=clinician,
            object_type="note",
            object_id=note.pk,
            patient_id=visit.patient_id,
        )
    return note


def _encounter_of(visit: Visit) -> Encounter | None:
    """The visit's encounter: its own once started, else the one planned for it (an
    escalation's live encounter, carried by the visit or by its appointment)."""
    if visit.encounter is not None:
        return visit.encounter
    appointment = visit.appointment
    return appointment.encounter if appointment is not None else None


def _intake_case(visit: Visit) -> Case | None:
    """The async case behind a visit: the one its encounter escalated from, else the intake
    attached to its appointment."""
    encounter = _encounter_of(visit)
    if encounter is not None and encounter.escalated_from_id is not None:
        case = case_of_encounter(encounter.escalated_from_id)
        if case is not None:
            return case
    if visit.appointment is not None:
        from carepath.scheduling.selectors import intake_case_for

        return intake_case_for(visit.appointment)
    return None


def _intake_panel(visit: Visit, clinician: User) -> dict[str, Any] | None:
    """The clinician's panel: the async intake (answers, photos, red flags, messages) the
    visit continues. Only for the visit's clinician (the room decides); reading it is
    authorized and audited like opening the case (no care relationship: no panel)."""
    case = _intake_case(visit)
    if case is None:
        return None
    try:
        case = access_case(clinician, case.pk, action="case.visit_panel")
    except Http404:
        return None
    return {
        "case": case,
        "rows": summary_rows(case.questionnaire.definition, case.answers),
        "other_files": [a for a in attachments_of(case) if not a.link_id and a.message_id is None],
        "thread": messages_of(case),
        "review_url": f"/staff/cases/{case.pk}/review/",
    }


@role_required(Role.CLINICIAN)
@require_POST
def take(request: HttpRequest, visit_id: int) -> HttpResponse:
    try:
        visit = actions.do_take_on_demand(request_user(request), visit_id)
    except ActionRefused as refused:
        messages.error(request, refused.message)
        return HttpResponseRedirect("/visits/")
    return HttpResponseRedirect(f"/visits/{visit.pk}/")
