"""/api/v1/rpm: device ingestion (`Authorization: Device <token>`) and the monitoring record
for patients and their care team (session or bearer token).

Ingestion:
  POST /rpm/readings         one reading (JSON)                       201 created, 200 duplicate
  POST /rpm/readings/batch   application/x-ndjson, up to 10,000 lines 200 with a per-item report
  POST /rpm/readings/fhir    a FHIR R4 Bundle of Observations         200 with a per-item report
A batch keeps every good item; the report lists duplicates (by index) and failures as
{index, field, message}. A batch where nothing could be stored is a 422 with the same report."""

import json
from typing import Any

from django.http import HttpRequest, JsonResponse
from ninja import Query, Router, Schema, Status

from carepath.accounts.models import Role
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core import clock
from carepath.core.api import current_user, only
from carepath.core.errors import ActionRefused
from carepath.core.responses import error_body
from carepath.rpm import actions
from carepath.rpm.billing import billing_for_patient
from carepath.rpm.models import Device, ReadingSource
from carepath.rpm.parsing import (
    MAX_BATCH_BYTES,
    ItemError,
    parse_fhir,
    parse_json_item,
    parse_ndjson,
)
from carepath.rpm.schemas import (
    AlertOut,
    BillingPeriodOut,
    ConsentIn,
    DeviceIn,
    DeviceOut,
    EnrollmentIn,
    EnrollmentOut,
    IngestOut,
    IssuedDeviceOut,
    NoteIn,
    ProgramOut,
    ReadingOut,
    ReasonIn,
    SingleReadingOut,
    ThresholdsIn,
    TimeEntryIn,
    TimeEntryOut,
    alert_out,
    device_out,
    enrollment_out,
    ingest_out,
    program_out,
    reading_out,
    time_entry_out,
)
from carepath.rpm.selectors import (
    access_alert,
    access_billing_patient,
    access_device,
    access_enrollment,
    access_reading,
    access_rpm_patient,
    authenticate_device_token,
    devices_of,
    enrollments_of,
    programs,
    readings_of,
    recent_alerts,
    time_entries_of,
)
from carepath.rpm.tokens import AUTH_SCHEME

router = Router(tags=["rpm"])

NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/json-lines"})
FHIR_TYPES = frozenset({"application/fhir+json", "application/json"})
STAFF_WITH_DEVICES = (Role.CLINICIAN, Role.COORDINATOR)
BILLING = (Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN)


class DeviceAuth:
    """`Authorization: Device cpd_...`: the request acts as that device, for its patient
    only. A wrong or revoked token is a 401 (audited), never a fall-back to a session."""

    def __call__(self, request: HttpRequest) -> Device | None:
        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        if scheme != AUTH_SCHEME:
            return None
        device = authenticate_device_token(raw.strip())
        if device is None:
            do_record_audit(
                "rpm.device.auth", outcome=Outcome.DENIED, detail={"path": request.path}
            )
            raise ActionRefused(
                "invalid_device_token", "The device token is invalid or revoked.", status=401
            )
        return device


device_auth = [DeviceAuth()]


def _device(request: HttpRequest) -> Device:
    device = request.auth  # type: ignore[attr-defined]
    assert isinstance(device, Device)
    return device


def _content_type(request: HttpRequest) -> str:
    return (request.content_type or "").split(";")[0].strip().lower()


def _body(request: HttpRequest) -> bytes:
    """The raw body, bounded by our own limit (batches are larger than Django's default
    in-memory limit for form data)."""
    length = request.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > MAX_BATCH_BYTES:
        raise ActionRefused("too_large", "The batch is larger than 8 MB; split it.", status=413)
    body = request.read(MAX_BATCH_BYTES + 1)
    if len(body) > MAX_BATCH_BYTES:
        raise ActionRefused("too_large", "The batch is larger than 8 MB; split it.", status=413)
    return body


def _report(result: actions.IngestResult) -> Any:
    body = ingest_out(result)
    if result.accepted == 0 and not result.duplicates:
        shown = [
            {"field": f"{e['index']}.{e['field']}", "message": str(e["message"])}
            for e in body["errors"][:100]
        ]
        payload = error_body("no_valid_readings", "No reading in the batch could be stored.", shown)
        payload.update(body)
        return JsonResponse(payload, status=422)
    return body


@router.post(
    "/readings",
    auth=device_auth,
    response={201: SingleReadingOut, 200: SingleReadingOut},
    summary="One reading from a device (Authorization: Device <token>)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "example": {
                        "measure": "bp_systolic",
                        "value": 128,
                        "unit": "mm[Hg]",
                        "effective_at": "2026-11-01T07:30:00-06:00",
                    }
                }
            }
        }
    },
)
def ingest_one(request: HttpRequest) -> Any:
    device = _device(request)
    try:
        obj = json.loads(_body(request) or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise ActionRefused("invalid_json", "The body is not valid JSON.", field="body") from error
    parsed = parse_json_item(0, obj, clock.now())
    if isinstance(parsed, ItemError):
        raise ActionRefused("invalid_reading", parsed.message, field=parsed.field, status=422)
    result = actions.do_ingest_readings(
        device, [parsed], [], received=1, source=ReadingSource.SINGLE
    )
    if result.errors:
        failure = result.errors[0]
        status = 403 if failure.message == actions.FOREIGN_MESSAGE else 422
        raise ActionRefused("refused_reading", failure.message, field=failure.field, status=status)
    out = {
        "status": "duplicate" if result.duplicates else "created",
        "measure": parsed.measure,
        "value": parsed.value,
        "unit": parsed.unit,
        "effective_at": parsed.effective_at,
        "alerts": ingest_out(result)["alerts"],
    }
    return Status(200 if result.duplicates else 201, out)


@router.post(
    "/readings/batch",
    auth=device_auth,
    response={200: IngestOut},
    summary="A batch of readings as JSON lines (Content-Type: application/x-ndjson)",
)
def ingest_ndjson(request: HttpRequest) -> Any:
    device = _device(request)
    if _content_type(request) not in NDJSON_TYPES:
        raise ActionRefused(
            "unsupported_media_type",
            "Send the batch as application/x-ndjson (one JSON reading per line).",
            status=415,
        )
    readings, errors, received = parse_ndjson(_body(request), clock.now())
    result = actions.do_ingest_readings(
        device, readings, errors, received=received, source=ReadingSource.NDJSON
    )
    return _report(result)


@router.post(
    "/readings/fhir",
    auth=device_auth,
    response={200: IngestOut},
    summary="A FHIR R4 Bundle of Observations (Content-Type: application/fhir+json)",
)
def ingest_fhir(request: HttpRequest) -> Any:
    device = _device(request)
    if _content_type(request) not in FHIR_TYPES:
        raise ActionRefused(
            "unsupported_media_type", "Send a FHIR Bundle as application/fhir+json.", status=415
        )
    readings, errors, received = parse_fhir(_body(request), clock.now())
    result = actions.do_ingest_readings(
        device, readings, errors, received=received, source=ReadingSource.FHIR
    )
    return _report(result)


# --- The monitoring record -----------------------------------------------------------------------


@router.get("/programs", response=list[ProgramOut], summary="Monitoring programs")
def list_programs(request: HttpRequest) -> list[ProgramOut]:
    current_user(request)
    return [program_out(p) for p in programs()]


class ReadingsQuery(Schema):
    measure: str | None = None
    since: str | None = None
    until: str | None = None
    limit: int = 500


@router.get(
    "/patients/{int:patient_id}/readings",
    response=list[ReadingOut],
    summary="A patient's readings, newest first (the patient, or staff with access)",
)
def list_readings(
    request: HttpRequest, patient_id: int, query: Query[ReadingsQuery]
) -> list[ReadingOut]:
    import datetime as dt

    user = current_user(request)
    access_rpm_patient(user, patient_id, action="rpm.readings.read")
    bounds: dict[str, dt.datetime | None] = {"since": None, "until": None}
    for name in ("since", "until"):
        raw = getattr(query, name)
        if raw:
            try:
                moment = dt.datetime.fromisoformat(raw)
            except ValueError as error:
                raise ActionRefused(
                    "invalid_time", "Use an ISO 8601 time with an offset.", field=name
                ) from error
            if moment.tzinfo is None:
                raise ActionRefused("invalid_time", "Give the time with its offset.", field=name)
            bounds[name] = moment
    limit = max(1, min(query.limit, 5000))
    readings = readings_of(
        patient_id,
        measure=query.measure or None,
        since=bounds["since"],
        until=bounds["until"],
        include_errors=True,
    )[:limit]
    return [reading_out(r) for r in readings]


@router.get("/patients/{int:patient_id}/enrollments", response=list[EnrollmentOut])
def list_enrollments(request: HttpRequest, patient_id: int) -> list[EnrollmentOut]:
    access_rpm_patient(current_user(request), patient_id)
    return [enrollment_out(e) for e in enrollments_of(patient_id)]


@router.post(
    "/patients/{int:patient_id}/enrollments",
    auth=only(Role.CLINICIAN),
    response={201: EnrollmentOut},
    summary="Enroll a patient (clinician); verbal_consent=true attests verbal RPM consent",
)
def enroll(request: HttpRequest, patient_id: int, payload: EnrollmentIn) -> Status[EnrollmentOut]:
    clinician = current_user(request)
    access_rpm_patient(clinician, patient_id)
    enrollment = actions.do_enroll(
        clinician,
        patient_id,
        payload.program,
        verbal_consent=payload.verbal_consent,
        thresholds=payload.thresholds,
    )
    return Status(201, enrollment_out(enrollment))


@router.post(
    "/enrollments/{int:enrollment_id}/consent",
    auth=only(Role.PATIENT),
    response=EnrollmentOut,
    summary="The patient accepts the RPM consent (version from the consent text)",
)
def accept_consent(request: HttpRequest, enrollment_id: int, payload: ConsentIn) -> EnrollmentOut:
    patient = current_user(request)
    enrollment = access_enrollment(patient, enrollment_id)
    return enrollment_out(
        actions.do_accept_rpm_consent(patient, enrollment, version=payload.version)
    )


@router.put(
    "/enrollments/{int:enrollment_id}/thresholds",
    auth=only(Role.CLINICIAN),
    response=EnrollmentOut,
    summary="Set per-patient threshold overrides (null removes a program default)",
)
def set_thresholds(
    request: HttpRequest, enrollment_id: int, payload: ThresholdsIn
) -> EnrollmentOut:
    clinician = current_user(request)
    enrollment = access_enrollment(clinician, enrollment_id)
    return enrollment_out(actions.do_set_thresholds(clinician, enrollment, payload.thresholds))


@router.post(
    "/enrollments/{int:enrollment_id}/end", auth=only(Role.CLINICIAN), response=EnrollmentOut
)
def end_enrollment(request: HttpRequest, enrollment_id: int, payload: ReasonIn) -> EnrollmentOut:
    clinician = current_user(request)
    enrollment = access_enrollment(clinician, enrollment_id)
    return enrollment_out(actions.do_end_enrollment(clinician, enrollment, payload.reason))


@router.get("/patients/{int:patient_id}/devices", response=list[DeviceOut])
def list_devices(request: HttpRequest, patient_id: int) -> list[DeviceOut]:
    access_rpm_patient(current_user(request), patient_id)
    return [device_out(d) for d in devices_of(patient_id)]


@router.post(
    "/patients/{int:patient_id}/devices",
    auth=only(*STAFF_WITH_DEVICES),
    response={201: IssuedDeviceOut},
    summary="Register a device; the answer holds its token, shown this once",
)
def register_device(
    request: HttpRequest, patient_id: int, payload: DeviceIn
) -> Status[IssuedDeviceOut]:
    staff = current_user(request)
    access_rpm_patient(staff, patient_id)
    issued = actions.do_register_device(
        staff,
        patient_id,
        device_type=payload.device_type,
        serial=payload.serial,
        label=payload.label,
    )
    out = IssuedDeviceOut(**device_out(issued.device).model_dump(), token=issued.token)
    return Status(201, out)


@router.post("/devices/{int:device_id}/revoke", auth=only(*STAFF_WITH_DEVICES), response=DeviceOut)
def revoke_device(request: HttpRequest, device_id: int) -> DeviceOut:
    staff = current_user(request)
    device = access_device(staff, device_id)
    return device_out(actions.do_revoke_device(staff, device))


@router.get("/patients/{int:patient_id}/alerts", response=list[AlertOut])
def list_alerts(request: HttpRequest, patient_id: int) -> list[AlertOut]:
    access_rpm_patient(current_user(request), patient_id, action="rpm.alerts.read")
    return [alert_out(a) for a in recent_alerts(patient_id)[:200]]


@router.post("/alerts/{int:alert_id}/resolve", auth=only(Role.CLINICIAN), response=AlertOut)
def resolve_alert(request: HttpRequest, alert_id: int, payload: NoteIn) -> AlertOut:
    clinician = current_user(request)
    alert = access_alert(clinician, alert_id)
    return alert_out(actions.do_resolve_alert(clinician, alert, payload.note))


@router.post(
    "/readings/{int:reading_id}/entered-in-error",
    auth=only(Role.CLINICIAN),
    response=ReadingOut,
    summary="Mark a reading entered in error (it stays in the record, out of charts)",
)
def reading_in_error(request: HttpRequest, reading_id: int, payload: ReasonIn) -> ReadingOut:
    clinician = current_user(request)
    reading = access_reading(clinician, reading_id)
    return reading_out(actions.do_mark_reading_in_error(clinician, reading, payload.reason))


@router.get(
    "/patients/{int:patient_id}/time-entries",
    auth=only(Role.CLINICIAN, Role.COORDINATOR, Role.TELEFACILITATOR),
    response=list[TimeEntryOut],
)
def list_time(request: HttpRequest, patient_id: int) -> list[TimeEntryOut]:
    access_rpm_patient(current_user(request), patient_id, action="rpm.time.read")
    return [time_entry_out(e) for e in time_entries_of(patient_id)[:500]]


@router.post(
    "/patients/{int:patient_id}/time-entries",
    auth=only(Role.CLINICIAN),
    response={201: TimeEntryOut},
    summary="Record minutes of RPM review or interactive communication",
)
def record_time(
    request: HttpRequest, patient_id: int, payload: TimeEntryIn
) -> Status[TimeEntryOut]:
    clinician = current_user(request)
    access_rpm_patient(clinician, patient_id)
    entry = actions.do_record_time(
        clinician,
        patient_id,
        kind=payload.kind,
        minutes=payload.minutes,
        occurred_at=payload.occurred_at,
        note=payload.note,
    )
    return Status(201, time_entry_out(entry))


@router.get(
    "/patients/{int:patient_id}/billing",
    auth=only(*BILLING),
    response=list[BillingPeriodOut],
    summary="Billing readiness per 30-day period (days counted in the patient's time zone)",
)
def billing(request: HttpRequest, patient_id: int) -> list[BillingPeriodOut]:
    patient = access_billing_patient(current_user(request), patient_id)
    return [
        BillingPeriodOut(
            number=p.number,
            start=p.start,
            end=p.end,
            in_progress=p.in_progress,
            reading_days=p.reading_days,
            review_minutes=p.review_minutes,
            interactive_minutes=p.interactive_minutes,
            cpt_99453=p.cpt_99453,
            cpt_99454=p.cpt_99454,
            cpt_99457=p.cpt_99457,
            cpt_99458=p.cpt_99458,
        )
        for p in billing_for_patient(patient)
    ]
