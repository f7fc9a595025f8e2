"""Monitoring pages: the patient's own page, the care team's page per patient (charts,
enrollment, devices, alerts, time), and the billing-readiness report with its CSV export."""

import csv
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils import timezone

from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.core import clock
from carepath.core.decorators import STAFF, consent_required, request_user, role_required
from carepath.core.errors import ActionRefused
from carepath.notifications.models import Notification
from carepath.rpm import actions
from carepath.rpm.billing import BillingPeriod, billing_for_patient
from carepath.rpm.charts import Chart, render_chart
from carepath.rpm.consent import (
    RPM_CONSENT_PARAGRAPHS,
    RPM_CONSENT_TITLE,
    RPM_CONSENT_VERSION,
    VERBAL_ATTESTATION,
)
from carepath.rpm.forms import (
    DeviceForm,
    EnrollForm,
    NoteForm,
    ReasonForm,
    RpmConsentForm,
    ThresholdsForm,
    TimeEntryForm,
    TimerForm,
)
from carepath.rpm.measures import MEASURE_ORDER
from carepath.rpm.selectors import (
    access_alert,
    access_device,
    access_enrollment,
    access_reading,
    access_rpm_patient,
    active_enrollments,
    billing_patients,
    devices_of,
    enrollments_of,
    measures_with_readings,
    monitored_patients,
    open_alerts,
    patient_thresholds,
    readings_of,
    recent_alerts,
    running_timer,
    series,
    time_entries_of,
    watched_measures,
)

CHART_DAYS = (7, 30, 90)
BILLING_ROLES = (Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN)


def _post_only(request: HttpRequest) -> HttpResponse | None:
    return None if request.method == "POST" else HttpResponseNotAllowed(["POST"])


def _days(request: HttpRequest) -> int:
    raw = request.GET.get("days", "30")
    return int(raw) if raw.isdigit() and int(raw) in CHART_DAYS else 30


def _charts(patient: User, days: int, *, viewer_zone: dt.tzinfo) -> list[Chart]:
    end = clock.now()
    start = end - dt.timedelta(days=days)
    enrollments = active_enrollments(patient.pk)
    thresholds = patient_thresholds(enrollments)
    measures = set(watched_measures(enrollments)) | measures_with_readings(patient.pk, start)
    charts = []
    for measure in MEASURE_ORDER:
        if measure not in measures:
            continue
        points = series(patient.pk, measure, start, end)
        charts.append(
            render_chart(
                measure,
                points,
                thresholds.get(measure, {}),
                start=start,
                end=end,
                zone=viewer_zone,
                chart_id=f"chart-{measure}",
            )
        )
    return charts


def _viewer_zone() -> dt.tzinfo:
    return timezone.get_current_timezone()


# --- The patient -------------------------------------------------------------------------------


@role_required(Role.PATIENT)
@consent_required
def patient_home(request: HttpRequest) -> HttpResponse:
    patient = request_user(request)
    access_rpm_patient(patient, patient.pk)
    days = _days(request)
    enrollments = list(enrollments_of(patient.pk).filter(ended_at__isnull=True))
    return render(
        request,
        "rpm/patient_home.html",
        {
            "enrollments": enrollments,
            "pending": [e for e in enrollments if e.started_at is None],
            "devices": [d for d in devices_of(patient.pk) if d.is_active],
            "charts": _charts(patient, days, viewer_zone=_viewer_zone()),
            "days": days,
            "day_choices": CHART_DAYS,
            "notices": Notification.objects.filter(user=patient, kind="rpm_alert")[:5],
        },
    )


@role_required(Role.PATIENT)
@consent_required
def patient_consent(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    patient = request_user(request)
    enrollment = access_enrollment(patient, enrollment_id)
    form = RpmConsentForm(request.POST or None, initial={"version": RPM_CONSENT_VERSION})
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_accept_rpm_consent(patient, enrollment, version=form.cleaned_data["version"])
        except ActionRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, "Thank you. Monitoring has started.")
            return HttpResponseRedirect("/rpm/")
    return render(
        request,
        "rpm/consent.html",
        {
            "enrollment": enrollment,
            "form": form,
            "title": RPM_CONSENT_TITLE,
            "paragraphs": RPM_CONSENT_PARAGRAPHS,
            "version": RPM_CONSENT_VERSION,
        },
        status=400 if form.errors else 200,
    )


# --- The care team ------------------------------------------------------------------------------


@role_required(*STAFF)
def staff_list(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    rows = monitored_patients(user)
    for row in rows:
        do_record_audit(
            "patient.list",
            actor=user,
            object_type="patient",
            object_id=row.patient.pk,
            patient_id=row.patient.pk,
        )
    return render(request, "rpm/staff_list.html", {"rows": rows})


def _patient_page(
    request: HttpRequest, patient_id: int, *, status: int = 200, **forms: django_forms.Form
) -> HttpResponse:
    user = request_user(request)
    profile = access_rpm_patient(user, patient_id)
    patient = profile.user
    days = _days(request)
    now = clock.now()
    periods = billing_for_patient(patient)
    timer = running_timer(user) if user.role == Role.CLINICIAN else None
    is_clinician = user.role == Role.CLINICIAN
    context: dict[str, Any] = {
        "profile": profile,
        "patient": patient,
        "patient_zone": patient.time_zone,
        "enrollments": list(enrollments_of(patient_id)[:20]),
        "devices": list(devices_of(patient_id)),
        "alerts": list(open_alerts(patient_id)),
        "past_alerts": list(recent_alerts(patient_id).exclude(status="open")[:10]),
        "charts": _charts(patient, days, viewer_zone=_viewer_zone()),
        "days": days,
        "day_choices": CHART_DAYS,
        "readings": list(
            readings_of(patient_id, include_errors=True).select_related("device")[:50]
        ),
        "time_entries": list(time_entries_of(patient_id, now - dt.timedelta(days=90))[:50]),
        "period": next((p for p in periods if p.in_progress), periods[-1] if periods else None),
        "timer": timer,
        "timer_here": timer is not None and timer.patient_id == patient_id,
        "is_clinician": is_clinician,
        "may_register_devices": user.role in actions.DEVICE_ROLES,
        "enroll_form": forms.get("enroll_form") or EnrollForm(),
        "device_form": forms.get("device_form") or DeviceForm(),
        "time_form": forms.get("time_form")
        or TimeEntryForm(
            initial={"occurred_at": timezone.localtime(now).replace(second=0, microsecond=0)}
        ),
        "timer_form": forms.get("timer_form") or TimerForm(),
        "note_form": NoteForm(),
        "reason_form": ReasonForm(),
        "verbal_attestation": VERBAL_ATTESTATION,
    }
    return render(request, "rpm/staff_patient.html", context, status=status)


@role_required(*STAFF)
def staff_patient(request: HttpRequest, patient_id: int) -> HttpResponse:
    return _patient_page(request, patient_id)


def _back(patient_id: int) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"/rpm/staff/patients/{patient_id}/")


@role_required(*STAFF)
def enroll(request: HttpRequest, patient_id: int) -> HttpResponse:
    if (refusal := _post_only(request)) is not None:
        return refusal
    user = request_user(request)
    access_rpm_patient(user, patient_id)
    form = EnrollForm(request.POST)
    if form.is_valid():
        try:
            enrollment = actions.do_enroll(
                user,
                patient_id,
                form.cleaned_data["program"],
                verbal_consent=form.cleaned_data["verbal_consent"],
            )
        except ActionRefused as refused:
            if refused.status == 403:
                raise
            form.add_error(refused.field if refused.field in form.fields else None, refused.message)
        else:
            messages.success(
                request,
                "Enrolled; monitoring has started."
                if enrollment.started_at
                else "Enrolled; the patient was asked to accept the monitoring consent.",
            )
            return _back(patient_id)
    return _patient_page(request, patient_id, status=400, enroll_form=form)


@role_required(*STAFF)
def thresholds(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    user = request_user(request)
    enrollment = access_enrollment(user, enrollment_id)
    form = ThresholdsForm(enrollment, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_set_thresholds(user, enrollment, form.overrides())
        except ActionRefused as refused:
            if refused.status == 403:
                raise
            form.add_error(None, refused.message)
        else:
            messages.success(request, "Thresholds saved.")
            return _back(enrollment.patient_id)
    return render(
        request,
        "rpm/thresholds.html",
        {"enrollment": enrollment, "form": form, "is_clinician": user.role == Role.CLINICIAN},
        status=400 if form.errors else 200,
    )


@role_required(*STAFF)
def end_enrollment(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    user = request_user(request)
    enrollment = access_enrollment(user, enrollment_id)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_end_enrollment(user, enrollment, form.cleaned_data["reason"])
        except ActionRefused as refused:
            if refused.status == 403:
                raise
            form.add_error("reason", refused.message)
        else:
            messages.success(request, "Monitoring ended.")
            return _back(enrollment.patient_id)
    return render(
        request,
        "rpm/end_enrollment.html",
        {"enrollment": enrollment, "form": form},
        status=400 if form.errors else 200,
    )


@role_required(*STAFF)
def register_device(request: HttpRequest, patient_id: int) -> HttpResponse:
    if (refusal := _post_only(request)) is not None:
        return refusal
    user = request_user(request)
    profile = access_rpm_patient(user, patient_id)
    form = DeviceForm(request.POST)
    if form.is_valid():
        try:
            issued = actions.do_register_device(
                user,
                patient_id,
                device_type=form.cleaned_data["device_type"],
                serial=form.cleaned_data["serial"],
                label=form.cleaned_data["label"],
            )
        except ActionRefused as refused:
            if refused.status == 403:
                raise
            form.add_error(refused.field if refused.field in form.fields else None, refused.message)
        else:
            response = render(
                request,
                "rpm/device_token.html",
                {"device": issued.device, "token": issued.token, "profile": profile},
            )
            response["Cache-Control"] = "private, no-store"
            return response
    return _patient_page(request, patient_id, status=400, device_form=form)


@role_required(*STAFF)
def revoke_device(request: HttpRequest, device_id: int) -> HttpResponse:
    if (refusal := _post_only(request)) is not None:
        return refusal
    user = request_user(request)
    device = access_device(user, device_id)
    actions.do_revoke_device(user, device)
    messages.success(request, "Device revoked: its token no longer works.")
    return _back(device.patient_id)


@role_required(*STAFF)
def resolve_alert(request: HttpRequest, alert_id: int) -> HttpResponse:
    if (refusal := _post_only(request)) is not None:
        return refusal
    user = request_user(request)
    alert = access_alert(user, alert_id)
    form = NoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what you did about the alert before resolving it.")
        return _back(alert.patient_id)
    try:
        actions.do_resolve_alert(user, alert, form.cleaned_data["note"])
    except ActionRefused as refused:
        if refused.status == 403:
            raise
        messages.error(request, refused.message)
    else:
        messages.success(request, "Alert resolved.")
    return _back(alert.patient_id)


@role_required(*STAFF)
def reading_in_error(request: HttpRequest, reading_id: int) -> HttpResponse:
    if (refusal := _post_only(request)) is not None:
        return refusal
    user = request_user(request)
    reading = access_reading(user, reading_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the reading is wrong.")
        return _back(reading.patient_id)
    actions.do_mark_reading_in_error(user, reading, form.cleaned_data["reason"])
    messages.success(request, "Reading marked entered in error; it no longer counts.")
    return _back(reading.patient_id)


@role_required(*STAFF)
def record_time(request: HttpRequest, patient_id: int) -> HttpResponse:
    if (refusal := _post_only(request)) is not None:
        return refusal
    user = request_user(request)
    access_rpm_patient(user, patient_id)
    form = TimeEntryForm(request.POST)
    if form.is_valid():
        try:
            actions.do_record_time(
                user,
                patient_id,
                kind=form.cleaned_data["kind"],
                minutes=form.cleaned_data["minutes"],
                occurred_at=form.cleaned_data["occurred_at"],
                note=form.cleaned_data["note"],
            )
        except ActionRefused as refused:
            if refused.status == 403:
                raise
            form.add_error(refused.field if refused.field in form.fields else None, refused.message)
        else:
            messages.success(request, "Time recorded.")
            return _back(patient_id)
    return _patient_page(request, patient_id, status=400, time_form=form)


@role_required(*STAFF)
def start_timer(request: HttpRequest, patient_id: int) -> HttpResponse:
    if (refusal := _post_only(request)) is not None:
        return refusal
    user = request_user(request)
    access_rpm_patient(user, patient_id)
    form = TimerForm(request.POST)
    if form.is_valid():
        try:
            actions.do_start_timer(
                user, patient_id, kind=form.cleaned_data["kind"], note=form.cleaned_data["note"]
            )
        except ActionRefused as refused:
            if refused.status == 403:
                raise
            form.add_error(None, refused.message)
        else:
            return _back(patient_id)
    return _patient_page(request, patient_id, status=400, timer_form=form)


@role_required(*STAFF)
def stop_timer(request: HttpRequest) -> HttpResponse:
    if (refusal := _post_only(request)) is not None:
        return refusal
    user = request_user(request)
    if user.role != Role.CLINICIAN:
        do_record_audit("rpm.time.stop", actor=user, outcome="denied")
        return render(
            request,
            "core/error.html",
            {"title": "Not allowed", "message": "Only clinicians track time."},
            status=403,
        )
    try:
        entry = actions.do_stop_timer(user, note=request.POST.get("note", ""))
    except ActionRefused as refused:
        messages.error(request, refused.message)
        return HttpResponseRedirect("/rpm/staff/")
    messages.success(request, f"Timer stopped: {entry.minutes} minute(s) recorded.")
    return _back(entry.patient_id)


# --- Billing -------------------------------------------------------------------------------------


CSV_HEADER = [
    "patient_id",
    "patient",
    "time_zone",
    "period",
    "start",
    "end",
    "in_progress",
    "days_with_readings",
    "review_minutes",
    "interactive_minutes",
    "cpt_99453",
    "cpt_99454",
    "cpt_99457",
    "cpt_99458_units",
]


def _billing_rows(user: User, *, all_periods: bool) -> list[tuple[User, BillingPeriod]]:
    rows: list[tuple[User, BillingPeriod]] = []
    for patient in billing_patients(user)[:500]:
        periods = billing_for_patient(patient)
        if not all_periods:
            periods = periods[-2:]
        do_record_audit(
            "rpm.billing.read",
            actor=user,
            object_type="patient",
            object_id=patient.pk,
            patient_id=patient.pk,
        )
        rows.extend((patient, period) for period in reversed(periods))
    return rows


@role_required(*BILLING_ROLES)
def billing_report(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    all_periods = request.GET.get("all") == "1"
    return render(
        request,
        "rpm/billing.html",
        {"rows": _billing_rows(user, all_periods=all_periods), "all_periods": all_periods},
    )


def csv_safe(value: object) -> str:
    """A cell a spreadsheet will not run: text starting with =, +, -, @, tab or CR gets a
    leading apostrophe (as the audit export does)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@role_required(*BILLING_ROLES)
def billing_csv(request: HttpRequest) -> StreamingHttpResponse:
    user = request_user(request)
    rows = _billing_rows(user, all_periods=request.GET.get("all") == "1")
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(CSV_HEADER)
        for patient, period in rows:
            yield writer.writerow(
                [
                    csv_safe(v)
                    for v in (
                        patient.pk,
                        patient.get_full_name() or patient.email,
                        patient.time_zone,
                        period.number,
                        period.start.isoformat(),
                        period.end.isoformat(),
                        "yes" if period.in_progress else "no",
                        period.reading_days,
                        period.review_minutes,
                        period.interactive_minutes,
                        "yes" if period.cpt_99453 else "no",
                        "yes" if period.cpt_99454 else "no",
                        "yes" if period.cpt_99457 else "no",
                        period.cpt_99458,
                    )
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="carepath-rpm-billing.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
