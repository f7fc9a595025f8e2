"""Scheduling pages. Patients: search slots (in their zone, named), book, see, reschedule,
cancel. Clinicians: weekly hours (in their own zone), exceptions, visit types, appointments."""

import contextlib
import datetime as dt
import uuid
from collections import OrderedDict
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from carepath.access.selectors import deny
from carepath.accounts.models import License, Role, User
from carepath.audit.actions import do_record_audit
from carepath.core import clock
from carepath.core.decorators import consent_required, request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.scheduling import actions
from carepath.scheduling.forms import (
    WEEKDAYS,
    BookForm,
    CancelForm,
    ExceptionForm,
    SlotSearchForm,
    VisitTypeForm,
    WeeklyHoursForm,
)
from carepath.scheduling.idempotent import idempotent_create
from carepath.scheduling.models import Appointment, AppointmentStatus, VisitType
from carepath.scheduling.selectors import (
    EscalationBooking,
    Slot,
    access_appointment,
    active_service_lines,
    appointments_for_clinician,
    appointments_for_patient,
    audit_listed,
    available_slots,
    escalation_booking,
    escalation_slots,
    exceptions_of,
    intake_case_for,
    patient_state_of,
    service_line_by_code,
    visit_types_of,
    weekly_hours_of,
    zone_of,
)

SEARCH_DAYS = 7
SLOTS_SHOWN = 300


def _service_line_choices() -> list[tuple[str, str]]:
    return [(line.code, line.name) for line in active_service_lines()]


def _clinician_choices(patient: User, state: str = "") -> list[tuple[int, str]]:
    """Clinicians licensed today in the patient's state."""
    state = state or patient_state_of(patient)
    today = clock.now().astimezone(zone_of(patient)).date()
    ids = License.objects.filter(state=state, expires_on__gte=today).values("clinician__user_id")
    clinicians = User.objects.filter(pk__in=ids, role=Role.CLINICIAN, is_active=True).order_by(
        "last_name", "first_name"
    )
    return [(clinician.pk, clinician.display_name) for clinician in clinicians]


def _group_by_day(slots: list[Slot]) -> list[tuple[dt.date, list[Slot]]]:
    days: OrderedDict[dt.date, list[Slot]] = OrderedDict()
    for slot in slots:
        days.setdefault(slot.starts_local.date(), []).append(slot)
    return list(days.items())


def _slot_query(slot: Slot, escalation_id: int | None = None) -> str:
    query: dict[str, object] = {
        "clinician": slot.clinician_id,
        "visit_type": slot.visit_type_id,
        "starts_at": slot.starts_at.isoformat(),
    }
    if escalation_id is not None:
        query["escalation"] = escalation_id
    return urlencode(query)


def _escalation_param(patient: User, params: Any) -> EscalationBooking | None:
    """The escalation a booking page is for (?escalation=<id>): the patient's own, still
    waiting for a booking; anything else is a 404."""
    raw = params.get("escalation", "")
    if not raw:
        return None
    try:
        escalation_id = int(raw)
    except (TypeError, ValueError) as error:
        raise Http404("No such live visit to book.") from error
    booking = escalation_booking(patient, escalation_id)
    if booking is None:
        raise deny(patient, "escalation", escalation_id, patient.pk)
    do_record_audit(
        "escalation.read",
        actor=patient,
        object_type="escalation",
        object_id=escalation_id,
        patient_id=patient.pk,
    )
    return booking


def intake_url(appointment: Appointment) -> str:
    """Where the patient answers the service line's questionnaire (the intake pages)."""
    line = appointment.visit_type.service_line
    if line is None:
        return ""
    try:
        url = reverse("visit-state", kwargs={"code": line.code})
    except NoReverseMatch:
        return ""
    return f"{url}?{urlencode({'next': f'/patient/appointments/{appointment.pk}/'})}"


def join_url(appointment: Appointment) -> str:
    """The way into the live visit (the visits pages decide whether it is open yet)."""
    try:
        return reverse("visit-appointment", kwargs={"appointment_id": appointment.pk})
    except NoReverseMatch:
        return ""


# --- Patient pages --------------------------------------------------------------------------


@role_required(Role.PATIENT)
@consent_required
def my_appointments(request: HttpRequest) -> HttpResponse:
    patient = request_user(request)
    appointments = list(appointments_for_patient(patient)[:100])
    audit_listed(patient, appointments)
    return render(
        request,
        "scheduling/patient_appointments.html",
        {"appointments": appointments, "zone": zone_of(patient).key},
    )


@role_required(Role.PATIENT)
@consent_required
def book_search(request: HttpRequest) -> HttpResponse:
    patient = request_user(request)
    zone = zone_of(patient)
    today = clock.now().astimezone(zone).date()
    escalation = _escalation_param(patient, request.GET)
    if escalation is not None:
        return _escalation_search(request, patient, escalation)
    data = request.GET if request.GET else None
    form = SlotSearchForm(
        data,
        initial={"start_date": today, "days": SEARCH_DAYS},
        service_lines=_service_line_choices(),
        clinicians=_clinician_choices(patient),
    )
    slots: list[Slot] = []
    if data is not None and form.is_valid():
        clinician_id = form.cleaned_data["clinician"]
        slots = available_slots(
            service_line=service_line_by_code(form.cleaned_data["service_line"])
            if form.cleaned_data["service_line"]
            else None,
            clinician=User.objects.filter(pk=clinician_id).first() if clinician_id else None,
            patient=patient,
            start_date=form.cleaned_data["start_date"],
            days=form.cleaned_data["days"],
            limit=SLOTS_SHOWN,
        )
    return render(
        request,
        "scheduling/book_search.html",
        {
            "form": form,
            "searched": data is not None and form.is_valid(),
            "days": [
                (day, [(slot, _slot_query(slot)) for slot in day_slots])
                for day, day_slots in _group_by_day(slots)
            ],
            "zone": zone.key,
            "state": patient_state_of(patient),
        },
        status=400 if form.errors else 200,
    )


def _escalation_search(
    request: HttpRequest, patient: User, escalation: EscalationBooking
) -> HttpResponse:
    """Times for the live visit a clinician asked for: with that clinician first
    (?with=any for any clinician licensed in the patient's state with the right specialty)."""
    zone = zone_of(patient)
    start_date = clock.now().astimezone(zone).date()
    with contextlib.suppress(ValueError):
        start_date = max(start_date, dt.date.fromisoformat(request.GET.get("start_date", "")))
    same = escalation.clinician is not None and request.GET.get("with") != "any"
    slots = escalation_slots(
        escalation,
        patient=patient,
        start_date=start_date,
        days=SEARCH_DAYS,
        same_clinician=same,
        limit=SLOTS_SHOWN,
    )
    escalation_id = escalation.escalation.pk
    return render(
        request,
        "scheduling/book_escalation.html",
        {
            "booking": escalation,
            "same_clinician": same,
            "days": [
                (day, [(slot, _slot_query(slot, escalation_id)) for slot in day_slots])
                for day, day_slots in _group_by_day(slots)
            ],
            "zone": zone.key,
            "start_date": start_date,
            "next_week": start_date + dt.timedelta(days=SEARCH_DAYS),
            "base_query": urlencode(
                {"escalation": escalation_id, **({} if same else {"with": "any"})}
            ),
        },
    )


def _parse_slot_params(params: Any) -> tuple[User, VisitType, dt.datetime]:
    try:
        clinician_id = int(params.get("clinician", ""))
        visit_type_id = int(params.get("visit_type", ""))
        starts_at = dt.datetime.fromisoformat(params.get("starts_at", ""))
    except (TypeError, ValueError) as error:
        raise Http404("No such slot.") from error
    clinician = User.objects.filter(pk=clinician_id, role=Role.CLINICIAN, is_active=True).first()
    visit_type = VisitType.objects.filter(pk=visit_type_id, active=True).first()
    if clinician is None or visit_type is None or starts_at.tzinfo is None:
        raise Http404("No such slot.")
    return clinician, visit_type, starts_at


@role_required(Role.PATIENT)
@consent_required
def book_confirm(request: HttpRequest) -> HttpResponse:
    patient = request_user(request)
    params = request.POST if request.method == "POST" else request.GET
    clinician, visit_type, starts_at = _parse_slot_params(params)
    escalation = _escalation_param(patient, params)
    escalation_id = escalation.escalation.pk if escalation is not None else None
    form = BookForm(
        request.POST or None,
        initial={
            "patient_state": escalation.state if escalation else patient_state_of(patient),
            "idempotency_key": uuid.uuid4().hex,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            appointment_id = idempotent_create(
                form.cleaned_data["idempotency_key"] or None,
                patient,
                scope="scheduling.book",
                payload={
                    "clinician_id": clinician.pk,
                    "visit_type_id": visit_type.pk,
                    "starts_at": starts_at.isoformat(),
                    "patient_state": form.cleaned_data["patient_state"],
                    "escalation_id": escalation_id,
                },
                create=lambda: (
                    actions.do_book(
                        patient,
                        patient=patient,
                        clinician=clinician,
                        visit_type=visit_type,
                        starts_at=starts_at,
                        patient_state=form.cleaned_data["patient_state"],
                        escalation_id=escalation_id,
                    ).pk
                ),
            )
        except ActionRefused as refused:
            form.add_error(refused.field if refused.field in form.fields else None, refused.message)
        else:
            messages.success(request, "Your visit is booked. We sent you an e-mail invitation.")
            return HttpResponseRedirect(f"/patient/appointments/{appointment_id}/")
    return render(
        request,
        "scheduling/book_confirm.html",
        {
            "form": form,
            "clinician": clinician,
            "visit_type": visit_type,
            "starts_at": starts_at,
            "ends_at": starts_at + dt.timedelta(minutes=visit_type.duration_minutes),
            "zone": zone_of(patient).key,
            "slot": {
                "clinician": clinician.pk,
                "visit_type": visit_type.pk,
                "starts_at": starts_at.isoformat(),
            },
            "escalation": escalation,
        },
        status=409 if form.errors and request.method == "POST" else 200,
    )


def _appointment_context(appointment: Appointment, viewer: User) -> dict[str, Any]:
    needs_intake = (
        appointment.visit_type.requires_intake
        and appointment.status == AppointmentStatus.BOOKED
        and intake_case_for(appointment) is None
    )
    return {
        "appointment": appointment,
        "zone": zone_of(viewer).key,
        "needs_intake": needs_intake,
        "intake_url": intake_url(appointment) if needs_intake else "",
        "is_booked": appointment.status == AppointmentStatus.BOOKED,
        "can_patient_change": appointment.status == AppointmentStatus.BOOKED
        and clock.now() <= appointment.starts_at - actions.cancel_cutoff(),
        "cutoff_hours": actions.cancel_cutoff().total_seconds() / 3600,
        "started": clock.now() >= appointment.starts_at,
        "join_url": join_url(appointment)
        if appointment.status == AppointmentStatus.BOOKED and clock.now() < appointment.ends_at
        else "",
    }


@role_required(Role.PATIENT)
@consent_required
def appointment_detail(request: HttpRequest, appointment_id: int) -> HttpResponse:
    patient = request_user(request)
    appointment = access_appointment(patient, appointment_id)
    return render(
        request, "scheduling/patient_appointment.html", _appointment_context(appointment, patient)
    )


@role_required(Role.PATIENT)
@consent_required
def cancel_appointment(request: HttpRequest, appointment_id: int) -> HttpResponse:
    patient = request_user(request)
    appointment = access_appointment(patient, appointment_id)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_cancel(patient, appointment, reason=form.cleaned_data["reason"])
        except ActionRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, "Your visit is cancelled.")
            return HttpResponseRedirect("/patient/appointments/")
    context = _appointment_context(appointment, patient)
    context["form"] = form
    return render(request, "scheduling/cancel.html", context, status=409 if form.errors else 200)


@role_required(Role.PATIENT)
@consent_required
def reschedule_appointment(request: HttpRequest, appointment_id: int) -> HttpResponse:
    patient = request_user(request)
    appointment = access_appointment(patient, appointment_id)
    error = ""
    if request.method == "POST":
        try:
            starts_at = dt.datetime.fromisoformat(request.POST.get("starts_at", ""))
            if starts_at.tzinfo is None:
                raise ValueError
        except ValueError:
            error = "Choose one of the times offered."
        else:
            try:
                new = actions.do_reschedule(patient, appointment, starts_at=starts_at)
            except ActionRefused as refused:
                error = refused.message
            else:
                messages.success(request, "Your visit has moved. We sent you an updated invite.")
                return HttpResponseRedirect(f"/patient/appointments/{new.pk}/")
    zone = zone_of(patient)
    start_date = clock.now().astimezone(zone).date()
    with contextlib.suppress(ValueError):
        start_date = dt.date.fromisoformat(request.GET.get("start_date", "")) or start_date
    slots = available_slots(
        clinician=appointment.clinician,
        visit_type=appointment.visit_type,
        patient=patient,
        start_date=start_date,
        days=SEARCH_DAYS,
        state=appointment.patient_state,
        limit=SLOTS_SHOWN,
    )
    context = _appointment_context(appointment, patient)
    context.update(
        {
            "days": _group_by_day(slots),
            "error": error,
            "start_date": start_date,
            "next_week": start_date + dt.timedelta(days=SEARCH_DAYS),
        }
    )
    return render(request, "scheduling/reschedule.html", context, status=409 if error else 200)


# --- Clinician pages ------------------------------------------------------------------------


@role_required(Role.CLINICIAN)
def clinician_schedule(request: HttpRequest) -> HttpResponse:
    clinician = request_user(request)
    appointments = list(appointments_for_clinician(clinician)[:200])
    audit_listed(clinician, appointments)
    now = clock.now()
    return render(
        request,
        "scheduling/clinician_schedule.html",
        {
            "appointments": [(item, now >= item.starts_at) for item in appointments],
            "zone": zone_of(clinician).key,
        },
    )


@role_required(Role.CLINICIAN)
def clinician_appointment(request: HttpRequest, appointment_id: int) -> HttpResponse:
    clinician = request_user(request)
    appointment = access_appointment(clinician, appointment_id)
    context = _appointment_context(appointment, clinician)
    context["intake_case"] = intake_case_for(appointment)
    context["form"] = CancelForm()
    return render(request, "scheduling/clinician_appointment.html", context)


@role_required(Role.CLINICIAN)
@require_POST
def clinician_cancel(request: HttpRequest, appointment_id: int) -> HttpResponse:
    clinician = request_user(request)
    appointment = access_appointment(clinician, appointment_id)
    form = CancelForm(request.POST)
    try:
        if not form.is_valid():
            raise ActionRefused("invalid", "The reason is too long.")
        actions.do_cancel(clinician, appointment, reason=form.cleaned_data["reason"])
    except ActionRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "The visit is cancelled; the patient was e-mailed.")
    return HttpResponseRedirect(f"/staff/schedule/appointments/{appointment.pk}/")


@role_required(Role.CLINICIAN)
@require_POST
def clinician_no_show(request: HttpRequest, appointment_id: int) -> HttpResponse:
    clinician = request_user(request)
    appointment = access_appointment(clinician, appointment_id)
    try:
        actions.do_mark_no_show(clinician, appointment)
    except ActionRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "Marked as a no-show.")
    return HttpResponseRedirect(f"/staff/schedule/appointments/{appointment.pk}/")


@role_required(Role.CLINICIAN)
def weekly_hours(request: HttpRequest) -> HttpResponse:
    clinician = request_user(request)
    form = WeeklyHoursForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_add_weekly_hours(clinician, **form.cleaned_data)
        except ActionRefused as refused:
            form.add_error(refused.field if refused.field in form.fields else None, refused.message)
        else:
            messages.success(request, "Hours added.")
            return HttpResponseRedirect("/staff/schedule/hours/")
    today = clock.now().astimezone(zone_of(clinician)).date()
    names = dict(WEEKDAYS)
    rules = [
        (rule, names[rule.weekday])
        for rule in weekly_hours_of(clinician)
        if rule.valid_until is None or rule.valid_until >= today
    ]
    return render(
        request,
        "scheduling/weekly_hours.html",
        {"form": form, "rules": rules, "zone": zone_of(clinician).key},
        status=400 if form.errors else 200,
    )


@role_required(Role.CLINICIAN)
@require_POST
def remove_weekly_hours(request: HttpRequest, rule_id: int) -> HttpResponse:
    try:
        actions.do_remove_weekly_hours(request_user(request), rule_id)
    except ActionRefused as refused:
        raise Http404(refused.message) from refused
    messages.success(request, "Hours removed.")
    return HttpResponseRedirect("/staff/schedule/hours/")


@role_required(Role.CLINICIAN)
def availability_exceptions(request: HttpRequest) -> HttpResponse:
    clinician = request_user(request)
    form = ExceptionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_add_exception(clinician, **form.cleaned_data)
        except ActionRefused as refused:
            form.add_error(refused.field if refused.field in form.fields else None, refused.message)
        else:
            messages.success(request, "Saved.")
            return HttpResponseRedirect("/staff/schedule/exceptions/")
    return render(
        request,
        "scheduling/exceptions.html",
        {"form": form, "exceptions": exceptions_of(clinician), "zone": zone_of(clinician).key},
        status=400 if form.errors else 200,
    )


@role_required(Role.CLINICIAN)
@require_POST
def remove_exception(request: HttpRequest, exception_id: int) -> HttpResponse:
    try:
        actions.do_remove_exception(request_user(request), exception_id)
    except ActionRefused as refused:
        raise Http404(refused.message) from refused
    messages.success(request, "Removed.")
    return HttpResponseRedirect("/staff/schedule/exceptions/")


@role_required(Role.CLINICIAN)
def visit_types(request: HttpRequest, visit_type_id: int | None = None) -> HttpResponse:
    clinician = request_user(request)
    editing = None
    initial: dict[str, Any] = {"active": True, "buffer_minutes": 0, "duration_minutes": 20}
    if visit_type_id is not None:
        editing = visit_types_of(clinician).filter(pk=visit_type_id).first()
        if editing is None:
            raise Http404("No such visit type.")
        initial = {
            "name": editing.name,
            "duration_minutes": editing.duration_minutes,
            "mode": editing.mode,
            "buffer_minutes": editing.buffer_minutes,
            "service_line": editing.service_line.code if editing.service_line else "",
            "requires_intake": editing.requires_intake,
            "active": editing.active,
        }
    form = VisitTypeForm(
        request.POST or None, initial=initial, service_lines=_service_line_choices()
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.do_save_visit_type(
                clinician,
                visit_type_id=visit_type_id,
                name=data["name"],
                duration_minutes=data["duration_minutes"],
                mode=data["mode"],
                buffer_minutes=data["buffer_minutes"],
                service_line_code=data["service_line"] or None,
                requires_intake=data["requires_intake"],
                active=data["active"],
            )
        except ActionRefused as refused:
            form.add_error(refused.field if refused.field in form.fields else None, refused.message)
        else:
            messages.success(request, "Visit type saved.")
            return HttpResponseRedirect("/staff/schedule/visit-types/")
    return render(
        request,
        "scheduling/visit_types.html",
        {"form": form, "visit_types": visit_types_of(clinician), "editing": editing},
        status=400 if form.errors else 200,
    )
