"""The only writes of remote monitoring: one transaction each, with its audit event.

Ingestion is built for batches: a batch costs a fixed handful of queries whatever its size
(device, enrollments, existing keys, one bulk insert, one audit event), thresholds are judged
in Python over the whole batch, and queries beyond that happen only when a reading crosses a
threshold (a rare event by design)."""

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q

from carepath.access.selectors import may_access_patient
from carepath.accounts.models import PatientProfile, Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.rpm.advice import EMAIL_BODY, EMAIL_SUBJECT, alert_message
from carepath.rpm.consent import RPM_CONSENT_VERSION
from carepath.rpm.measures import Measure, spec_of
from carepath.rpm.models import (
    Alert,
    AlertSeverity,
    AlertStatus,
    ConsentMethod,
    Device,
    DeviceType,
    Enrollment,
    Program,
    Reading,
    ReadingStatus,
    TimeEntry,
    TimeKind,
)
from carepath.rpm.parsing import ItemError, ReadingIn
from carepath.rpm.selectors import (
    DEVICE_LAST_SEEN_PRECISION,
    active_enrollments,
    patient_thresholds,
)
from carepath.rpm.thresholds import (
    SEVERITY_RANK,
    Crossing,
    ThresholdError,
    check_thresholds,
    gain_crossings,
    has_gain_rules,
    level_crossing,
    worse,
)
from carepath.rpm.tokens import new_device_token

logger = logging.getLogger("carepath.rpm")

ALERT_SUBJECT = "rpm.alert"
MESSAGE_SUBJECT = "Home monitoring"
PRIORITY = {AlertSeverity.CRITICAL: 80, AlertSeverity.WARNING: 20}
NOTE_MAX = 2000
MAX_TIMER_MINUTES = 240
MAX_ENTRY_MINUTES = 240


def alert_due(severity: str) -> dt.timedelta:
    if severity == AlertSeverity.CRITICAL:
        return dt.timedelta(minutes=getattr(settings, "RPM_CRITICAL_DUE_MINUTES", 60))
    return dt.timedelta(minutes=getattr(settings, "RPM_WARNING_DUE_MINUTES", 24 * 60))


def _audit(
    action: str,
    actor: User | None,
    object_type: str,
    object_id: object,
    patient_id: int | None,
    *,
    outcome: str = Outcome.ALLOWED,
    **detail: Any,
) -> None:
    do_record_audit(
        action,
        actor=actor,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        outcome=outcome,
        detail=detail or None,
    )


def _note(text: str) -> str:
    return " ".join(text.split())[:NOTE_MAX] if text else ""


def _require_clinician(user: User, action: str) -> None:
    if user.role != Role.CLINICIAN:
        do_record_audit(action, actor=user, outcome=Outcome.DENIED)
        raise ActionRefused("forbidden", "Only a clinician may do this.", status=403)


def _patient(patient_id: int) -> User:
    patient = User.objects.filter(pk=patient_id, role=Role.PATIENT).first()
    if patient is None:
        raise ActionRefused("not_found", "No patient with that id.", status=404)
    return patient


def _nudge_by_email(patient: User) -> None:
    from carepath.notifications.actions import enqueue_email

    enqueue_email(
        [patient.email],
        EMAIL_SUBJECT,
        EMAIL_BODY.format(url=f"{settings.SITE_URL}/notifications/"),
    )


# --- Enrollment ----------------------------------------------------------------------------------


def do_enroll(
    clinician: User,
    patient_id: int,
    program_code: str,
    *,
    verbal_consent: bool = False,
    thresholds: dict[str, Any] | None = None,
) -> Enrollment:
    """Enroll a patient the clinician cares for. With `verbal_consent` the clinician attests
    the patient agreed and monitoring starts now; otherwise the patient is asked to accept
    the RPM consent in the portal, and nothing is monitored until they do."""
    from carepath.care.actions import do_open_episode, do_start_encounter
    from carepath.care.models import EncounterMode
    from carepath.consent.selectors import check_care_consent
    from carepath.notifications.actions import notify_user

    _require_clinician(clinician, "rpm.enrollment.create")
    patient = _patient(patient_id)
    if not may_access_patient(clinician, patient_id):
        raise ActionRefused("not_found", "No patient with that id.", status=404)
    program = Program.objects.filter(code=program_code, is_active=True).first()
    if program is None:
        raise ActionRefused("unknown_program", "Choose a monitoring program.", field="program")
    check_care_consent(patient)
    overrides = _checked_thresholds(thresholds or {})
    with transaction.atomic():
        if Enrollment.objects.filter(
            patient=patient, program=program, ended_at__isnull=True
        ).exists():
            raise ActionRefused(
                "already_enrolled",
                f"The patient is already enrolled in {program.name}.",
                field="program",
                status=409,
            )
        now = clock.now()
        episode = do_open_episode(patient, title=f"Remote monitoring: {program.name}", by=clinician)
        encounter = do_start_encounter(
            episode,
            EncounterMode.MONITORING,
            by=clinician,
            clinician=clinician,
            started=verbal_consent,
        )
        enrollment = Enrollment(
            patient=patient,
            program=program,
            enrolled_by=clinician,
            created_at=now,
            thresholds=overrides,
            episode=episode,
            encounter=encounter,
        )
        if verbal_consent:
            enrollment.consent_version = RPM_CONSENT_VERSION
            enrollment.consent_accepted_at = now
            enrollment.consent_method = ConsentMethod.VERBAL
            enrollment.consent_attested_by = clinician
            enrollment.started_at = now
        enrollment.save()
        _audit(
            "rpm.enrollment.create",
            clinician,
            "rpm_enrollment",
            enrollment.pk,
            patient.pk,
            program=program.code,
            consent=enrollment.consent_method or "pending",
        )
        if not verbal_consent:
            notify_user(
                patient,
                kind="rpm_consent",
                title="Your care team invited you to home monitoring",
                body="Read how remote monitoring works and accept it to start.",
                url="/rpm/",
            )
            _nudge_by_email(patient)
    return enrollment


def do_accept_rpm_consent(patient: User, enrollment: Enrollment, *, version: str) -> Enrollment:
    """The patient accepts the RPM consent in the portal: monitoring starts now."""
    from carepath.care.actions import do_begin_encounter

    if enrollment.patient_id != patient.pk:
        raise ActionRefused("not_found", "No enrollment with that id.", status=404)
    if version != RPM_CONSENT_VERSION:
        raise ActionRefused(
            "consent_changed",
            "The consent text has changed; read the current version and accept it.",
            field="version",
            status=409,
        )
    with transaction.atomic():
        locked = (
            Enrollment.objects.select_for_update(of=("self",))
            .select_related("encounter")
            .get(pk=enrollment.pk)
        )
        if locked.ended_at is not None:
            raise ActionRefused("ended", "This monitoring has ended.", status=409)
        if locked.started_at is not None:
            return locked
        now = clock.now()
        locked.consent_version = version
        locked.consent_accepted_at = now
        locked.consent_method = ConsentMethod.PORTAL
        locked.started_at = now
        locked.save(
            update_fields=["consent_version", "consent_accepted_at", "consent_method", "started_at"]
        )
        if locked.encounter is not None and locked.encounter.started_at is None:
            clinician = User.objects.get(pk=locked.enrolled_by_id)
            do_begin_encounter(locked.encounter, clinician=clinician)
        _audit(
            "rpm.consent.accept",
            patient,
            "rpm_enrollment",
            locked.pk,
            patient.pk,
            version=version,
        )
    return locked


def _checked_thresholds(raw: dict[str, Any]) -> dict[str, Any]:
    try:
        check_thresholds(raw)
    except ThresholdError as error:
        raise ActionRefused(
            "invalid_threshold", error.message, field=f"thresholds.{error.field}"
        ) from error
    # Keep nulls: they remove a program default band.
    return {m: dict(bands) for m, bands in raw.items()}


def do_set_thresholds(
    clinician: User, enrollment: Enrollment, thresholds: dict[str, Any]
) -> Enrollment:
    """Replace the per-patient overrides (null removes a program default band)."""
    from carepath.rpm.selectors import enrollment_thresholds

    _require_clinician(clinician, "rpm.thresholds.update")
    overrides = _checked_thresholds(thresholds)
    merged_check = enrollment_thresholds(
        Enrollment(program=enrollment.program, thresholds=overrides)
    )
    _checked_thresholds(merged_check)  # defaults + overrides must still be in order
    with transaction.atomic():
        before = enrollment.thresholds
        Enrollment.objects.filter(pk=enrollment.pk).update(thresholds=overrides)
        enrollment.thresholds = overrides
        _audit(
            "rpm.thresholds.update",
            clinician,
            "rpm_enrollment",
            enrollment.pk,
            enrollment.patient_id,
            before=before,
            after=overrides,
        )
    return enrollment


def do_end_enrollment(clinician: User, enrollment: Enrollment, reason: str) -> Enrollment:
    from carepath.care.actions import do_close_episode, do_end_encounter
    from carepath.care.models import EncounterStatus

    _require_clinician(clinician, "rpm.enrollment.end")
    reason = _note(reason)
    if not reason:
        raise ActionRefused("reason_required", "Say why monitoring ends.", field="reason")
    with transaction.atomic():
        locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
        if locked.ended_at is not None:
            return locked
        locked.ended_at = clock.now()
        locked.end_reason = reason
        locked.save(update_fields=["ended_at", "end_reason"])
        if locked.encounter_id is not None:
            encounter = locked.encounter
            assert encounter is not None
            status = EncounterStatus.FINISHED if locked.started_at else EncounterStatus.CANCELLED
            do_end_encounter(encounter, by=clinician, status=status)
        if locked.episode is not None:
            do_close_episode(locked.episode, by=clinician)
        _audit(
            "rpm.enrollment.end",
            clinician,
            "rpm_enrollment",
            locked.pk,
            locked.patient_id,
            reason=reason,
        )
    return locked


# --- Devices -----------------------------------------------------------------------------------


@dataclass
class IssuedDevice:
    device: Device
    token: str  # shown once


DEVICE_ROLES = frozenset({Role.CLINICIAN, Role.COORDINATOR})


def do_register_device(
    staff: User, patient_id: int, *, device_type: str, serial: str, label: str = ""
) -> IssuedDevice:
    if staff.role not in DEVICE_ROLES:
        do_record_audit("rpm.device.register", actor=staff, outcome=Outcome.DENIED)
        raise ActionRefused("forbidden", "Your role may not register devices.", status=403)
    patient = _patient(patient_id)
    if not may_access_patient(staff, patient_id):
        raise ActionRefused("not_found", "No patient with that id.", status=404)
    if device_type not in DeviceType.values:
        raise ActionRefused("invalid_type", "Choose the kind of device.", field="device_type")
    serial = serial.strip()
    if not serial or len(serial) > 80 or not serial.isprintable():
        raise ActionRefused(
            "invalid_serial", "Give the serial number printed on the device.", field="serial"
        )
    if not Enrollment.objects.filter(patient=patient, ended_at__isnull=True).exists():
        raise ActionRefused(
            "not_enrolled",
            "Enroll the patient in a program before adding a device.",
            status=409,
        )
    raw, prefix, secret_hash = new_device_token()
    try:
        with transaction.atomic():
            device = Device.objects.create(
                patient=patient,
                device_type=device_type,
                serial=serial,
                label=label.strip()[:100],
                token_prefix=prefix,
                token_hash=secret_hash,
                registered_by=staff,
                registered_at=clock.now(),
            )
            _audit(
                "rpm.device.register",
                staff,
                "rpm_device",
                device.pk,
                patient.pk,
                device_type=device_type,
            )
    except IntegrityError as error:
        raise ActionRefused(
            "device_in_use",
            "A device of this kind with this serial is already registered; revoke it first.",
            field="serial",
            status=409,
        ) from error
    return IssuedDevice(device, raw)


def do_revoke_device(staff: User, device: Device) -> Device:
    if staff.role not in DEVICE_ROLES:
        do_record_audit("rpm.device.revoke", actor=staff, outcome=Outcome.DENIED)
        raise ActionRefused("forbidden", "Your role may not revoke devices.", status=403)
    with transaction.atomic():
        now = clock.now()
        changed = Device.objects.filter(pk=device.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=staff
        )
        device.refresh_from_db()
        if changed:
            _audit("rpm.device.revoke", staff, "rpm_device", device.pk, device.patient_id)
    return device


# --- Ingestion ---------------------------------------------------------------------------------


@dataclass
class AlertOutcome:
    alert_id: int
    measure: str
    severity: str
    opened: bool
    escalated: bool


@dataclass
class IngestResult:
    received: int
    accepted: int = 0
    duplicates: list[int] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    alerts: list[AlertOutcome] = field(default_factory=list)


FOREIGN_MESSAGE = "This device writes readings for its own patient only."


def _resolve_devices(
    device: Device, readings: list[ReadingIn], errors: list[ItemError]
) -> tuple[list[tuple[ReadingIn, int]], int]:
    """Pair each reading with the device it came from: the token's device, or another
    active device of the same patient named by serial or id. Readings naming another patient
    (or a device that is not theirs) become errors. Returns (pairs, foreign count)."""
    others: dict[str, int] = {}
    other_ids: set[int] = set()
    named = {
        r.device_serial for r in readings if r.device_serial and r.device_serial != device.serial
    }
    named_ids = {r.device_ref_id for r in readings if r.device_ref_id not in (None, device.pk)}
    if named or named_ids:
        rows = Device.objects.filter(
            Q(serial__in=named) | Q(pk__in=named_ids),
            patient_id=device.patient_id,
            revoked_at__isnull=True,
        ).values_list("pk", "serial")
        for pk, serial in rows:
            others[serial] = pk
            other_ids.add(pk)
    pairs: list[tuple[ReadingIn, int]] = []
    foreign = 0
    for reading in readings:
        if reading.patient_id is not None and reading.patient_id != device.patient_id:
            where = "resource.subject.reference" if reading.field_prefix else "patient_id"
            errors.append(ItemError(reading.index, where, FOREIGN_MESSAGE))
            foreign += 1
            continue
        device_id = device.pk
        if reading.device_serial and reading.device_serial != device.serial:
            found = others.get(reading.device_serial)
            if found is None:
                where = "resource.device" if reading.field_prefix else "device"
                errors.append(
                    ItemError(
                        reading.index,
                        where,
                        "No active device with that serial is registered to this patient.",
                    )
                )
                foreign += 1
                continue
            device_id = found
        elif reading.device_ref_id is not None and reading.device_ref_id != device.pk:
            if reading.device_ref_id not in other_ids:
                errors.append(
                    ItemError(
                        reading.index,
                        "resource.device.reference",
                        "No active device with that id is registered to this patient.",
                    )
                )
                foreign += 1
                continue
            device_id = reading.device_ref_id
        pairs.append((reading, device_id))
    return pairs, foreign


Key = tuple[int, str, dt.datetime]


def _key(pair: tuple[ReadingIn, int]) -> Key:
    return (pair[1], pair[0].measure, pair[0].effective_at)


def _store_readings(
    patient_id: int, pairs: list[tuple[ReadingIn, int]], now: dt.datetime, source: str
) -> tuple[list[tuple[ReadingIn, int]], list[int]]:
    """Insert the batch in one statement; (new readings, indexes of duplicates: already
    stored, or repeated in the batch). The unique (device, effective_at, measure) constraint
    decides, so a concurrent copy of the same reading is a duplicate too, never an error."""
    unique: list[tuple[ReadingIn, int]] = []
    duplicates: list[int] = []
    seen: set[Key] = set()
    for pair in pairs:
        key = _key(pair)
        if key in seen:
            duplicates.append(pair[0].index)
        else:
            seen.add(key)
            unique.append(pair)
    if not unique:
        return [], duplicates
    if connection.vendor == "postgresql":
        inserted = _insert_returning(patient_id, unique, now, source)
    else:
        stored = _stored_keys(unique)
        inserted = {_key(pair) for pair in unique if _key(pair) not in stored}
        _insert_many(patient_id, [pair for pair in unique if _key(pair) in inserted], now, source)
    fresh = []
    for pair in unique:
        if _key(pair) in inserted:
            fresh.append(pair)
        else:
            duplicates.append(pair[0].index)
    return fresh, duplicates


def _stored_keys(pairs: list[tuple[ReadingIn, int]]) -> set[Key]:
    """Which of these readings are stored already (one query for the batch)."""
    times = [reading.effective_at for reading, _ in pairs]
    return set(
        Reading.objects.filter(
            device_id__in={device_id for _, device_id in pairs},
            measure__in={reading.measure for reading, _ in pairs},
            effective_at__gte=min(times),
            effective_at__lte=max(times),
        ).values_list("device_id", "measure", "effective_at")
    )


@dataclass
class _Found:
    crossing: Crossing
    reading: ReadingIn
    device_id: int
    count: int = 1


def _judge(
    patient_id: int,
    fresh: list[tuple[ReadingIn, int]],
    thresholds: dict[str, dict[str, float]],
) -> dict[str, _Found]:
    """The worst crossing per measure in this batch (ties: the latest reading), judged in
    Python; weight gains need the patient's recent weights (one query, only then). The
    batch is already stored, so those weights include it: a reading compared with its own
    stored copy gains nothing, so that changes no result."""
    gains: dict[int, Crossing | None] = {}
    weight_bands = thresholds.get(Measure.WEIGHT) or {}
    if has_gain_rules(weight_bands):
        weights = [r for r, _ in fresh if r.measure == Measure.WEIGHT]
        if weights:
            first = min(r.effective_at for r in weights)
            last = max(r.effective_at for r in weights)
            history = list(
                Reading.objects.filter(
                    patient_id=patient_id,
                    measure=Measure.WEIGHT,
                    status=ReadingStatus.VALID,
                    effective_at__gte=first - dt.timedelta(days=7),
                    effective_at__lte=last,
                ).values_list("effective_at", "value")
            )
            judged = gain_crossings(
                [(r.effective_at, r.value) for r in weights], history, weight_bands
            )
            gains = {id(r): gain for r, gain in zip(weights, judged, strict=True)}
    found: dict[str, _Found] = {}
    for reading, device_id in fresh:
        bands = thresholds.get(reading.measure)
        if not bands:
            continue
        crossing = worse(level_crossing(reading.value, bands), gains.get(id(reading)))
        if crossing is None:
            continue
        current = found.get(reading.measure)
        if current is None:
            found[reading.measure] = _Found(crossing, reading, device_id)
            continue
        current.count += 1
        rank_new = SEVERITY_RANK[crossing.severity]
        rank_old = SEVERITY_RANK[current.crossing.severity]
        if rank_new > rank_old or (
            rank_new == rank_old and reading.effective_at >= current.reading.effective_at
        ):
            current.crossing, current.reading, current.device_id = crossing, reading, device_id
    return found


INSERT_COLUMNS = (
    "patient_id",
    "device_id",
    "measure",
    "value",
    "unit",
    "original_value",
    "original_unit",
    "effective_at",
    "received_at",
    "source",
    "status",
    "error_reason",
)


def _insert_returning(
    patient_id: int, pairs: list[tuple[ReadingIn, int]], now: dt.datetime, source: str
) -> set[Key]:
    """PostgreSQL: the batch goes as one JSON parameter, unpacked by json_to_recordset, and
    INSERT ... ON CONFLICT DO NOTHING RETURNING tells which rows were new - one round trip,
    and none of the per-field SQL compiling of bulk_create (~100 µs a row)."""
    table = connection.ops.quote_name(Reading._meta.db_table)
    names = ", ".join(connection.ops.quote_name(name) for name in INSERT_COLUMNS)
    rows = json.dumps(
        [
            {
                "device_id": device_id,
                "measure": reading.measure,
                "value": reading.value,
                "unit": reading.unit,
                "original_value": reading.original_value,
                "original_unit": reading.original_unit,
                "effective_at": reading.effective_at.isoformat(),
            }
            for reading, device_id in pairs
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({names}) "  # noqa: S608 - names from our model
            "SELECT %s, r.device_id, r.measure, r.value, r.unit, r.original_value, "
            "r.original_unit, r.effective_at, %s, %s, %s, '' "
            "FROM json_to_recordset(%s::json) AS r(device_id bigint, measure varchar, "
            "value float8, unit varchar, original_value float8, original_unit varchar, "
            "effective_at timestamptz) "
            "ON CONFLICT DO NOTHING RETURNING device_id, measure, effective_at",
            [patient_id, now, source, ReadingStatus.VALID.value, rows],
        )
        return {(int(d), str(m), at) for d, m, at in cursor.fetchall()}


def _insert_many(
    patient_id: int, pairs: list[tuple[ReadingIn, int]], now: dt.datetime, source: str
) -> None:
    """SQLite: executemany of one INSERT ... ON CONFLICT DO NOTHING in the transaction."""
    if not pairs:
        return
    table = connection.ops.quote_name(Reading._meta.db_table)
    names = ", ".join(connection.ops.quote_name(name) for name in INSERT_COLUMNS)
    placeholders = ", ".join(["%s"] * len(INSERT_COLUMNS))

    def text(moment: dt.datetime) -> str:  # Django's SQLite format: naive UTC
        return str(moment.astimezone(dt.UTC).replace(tzinfo=None))

    received = text(now)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({placeholders}) "  # noqa: S608
            "ON CONFLICT DO NOTHING",
            [
                (
                    patient_id,
                    device_id,
                    reading.measure,
                    reading.value,
                    reading.unit,
                    reading.original_value,
                    reading.original_unit,
                    text(reading.effective_at),
                    received,
                    source,
                    ReadingStatus.VALID.value,
                    "",
                )
                for reading, device_id in pairs
            ],
        )


def do_ingest_readings(
    device: Device,
    readings: list[ReadingIn],
    errors: list[ItemError],
    *,
    received: int,
    source: str,
) -> IngestResult:
    """Store a batch from one device: bad items were already set aside by the parser; here
    readings for another patient are refused, duplicates are reported (not stored twice),
    the rest are bulk-inserted and judged against the patient's thresholds. One audit event
    for the batch."""
    result = IngestResult(received=received, errors=list(errors))
    enrollments = active_enrollments(device.patient_id)
    if not enrollments:
        _audit(
            "rpm.readings.ingest",
            None,
            "rpm_device",
            device.pk,
            device.patient_id,
            outcome=Outcome.DENIED,
            reason="not_enrolled",
            received=received,
        )
        raise ActionRefused(
            "not_enrolled",
            "This patient has no active monitoring with consent; readings are not accepted.",
            status=403,
        )
    thresholds = patient_thresholds(enrollments)
    pairs, foreign = _resolve_devices(device, readings, result.errors)
    now = clock.now()
    with transaction.atomic():
        fresh, result.duplicates = _store_readings(device.patient_id, pairs, now, source)
        found = _judge(device.patient_id, fresh, thresholds)
        result.accepted = len(fresh)
        if found:
            episodes: dict[str, int | None] = {}
            for enrollment in enrollments:
                for measure in enrollment.program.measures:
                    episodes.setdefault(measure, enrollment.episode_id)
            result.alerts = _raise_alerts(device.patient_id, found, now, episodes)
        if device.last_seen_at is None or now - device.last_seen_at > DEVICE_LAST_SEEN_PRECISION:
            Device.objects.filter(pk=device.pk).update(last_seen_at=now)
        # Last, so the audit chain's lock is held only for the commit.
        _audit(
            "rpm.readings.ingest",
            None,
            "rpm_device",
            device.pk,
            device.patient_id,
            source=source,
            received=received,
            accepted=result.accepted,
            duplicates=len(result.duplicates),
            rejected=len(result.errors),
            alerts=[a.alert_id for a in result.alerts],
        )
    if foreign:
        _audit(
            "rpm.readings.ingest",
            None,
            "rpm_device",
            device.pk,
            device.patient_id,
            outcome=Outcome.DENIED,
            reason="other_patient_or_device",
            refused=foreign,
        )
    return result


def _reading_ids(patient_id: int, found: dict[str, _Found]) -> dict[str, int]:
    condition = Q()
    for measure, item in found.items():
        condition |= Q(
            device_id=item.device_id, measure=measure, effective_at=item.reading.effective_at
        )
    rows = Reading.objects.filter(condition, patient_id=patient_id).values_list(
        "pk", "measure", "device_id", "effective_at"
    )
    ids: dict[str, int] = {}
    for pk, measure, device_id, at in rows:
        match = found.get(measure)
        if match is not None and match.device_id == device_id and match.reading.effective_at == at:
            ids[measure] = pk
    return ids


def _raise_alerts(
    patient_id: int,
    found: dict[str, _Found],
    now: dt.datetime,
    episodes: dict[str, int | None],
) -> list[AlertOutcome]:
    """Open an alert (and its work item, and the patient's notice) per measure, or add the
    readings to the alert already open for that measure; a critical reading escalates an open
    warning."""
    from carepath.workqueue.models import ACTIVE_STATUSES

    ids = _reading_ids(patient_id, found)
    patient = User.objects.get(pk=patient_id)
    open_alerts = {
        alert.measure: alert
        for alert in Alert.objects.select_for_update(of=("self",))
        .filter(patient_id=patient_id, status=AlertStatus.OPEN, measure__in=list(found))
        .select_related("work_item")
    }
    outcomes = []
    for measure, item in found.items():
        alert = open_alerts.get(measure)
        if alert is not None and (
            alert.work_item is None or alert.work_item.status not in ACTIVE_STATUSES
        ):
            # Its work item was finished in the queue: that alert is over, this is a new one.
            _close_alert(alert, None, "Work item finished in the queue.", now)
            alert = None
        if alert is None:
            try:
                with transaction.atomic():
                    alert = Alert.objects.create(
                        patient_id=patient_id,
                        measure=measure,
                        severity=item.crossing.severity,
                        direction=item.crossing.direction,
                        reason=item.crossing.describe(measure)[:300],
                        opened_at=now,
                        updated_at=now,
                        first_reading_id=ids.get(measure),
                        last_reading_id=ids.get(measure),
                        reading_count=item.count,
                    )
            except IntegrityError:
                alert = Alert.objects.select_related("work_item").get(
                    patient_id=patient_id, measure=measure, status=AlertStatus.OPEN
                )
            else:
                _enqueue_alert(patient, alert, now)
                _tell_patient(patient, alert, episodes.get(measure))
                _audit(
                    "rpm.alert.open",
                    None,
                    "rpm_alert",
                    alert.pk,
                    patient_id,
                    measure=measure,
                    severity=alert.severity,
                )
                outcomes.append(AlertOutcome(alert.pk, measure, alert.severity, True, False))
                continue
        escalated = SEVERITY_RANK[item.crossing.severity] > SEVERITY_RANK[alert.severity]
        updates: dict[str, Any] = {
            "reading_count": F("reading_count") + item.count,
            "updated_at": now,
        }
        if ids.get(measure):
            updates["last_reading_id"] = ids[measure]
        if escalated:
            updates.update(
                severity=item.crossing.severity,
                direction=item.crossing.direction,
                reason=item.crossing.describe(measure)[:300],
            )
        Alert.objects.filter(pk=alert.pk).update(**updates)
        if escalated:
            alert.refresh_from_db()
            _escalate_work_item(patient, alert, now)
            _tell_patient(patient, alert, episodes.get(measure))
            _audit(
                "rpm.alert.escalate",
                None,
                "rpm_alert",
                alert.pk,
                patient_id,
                severity=alert.severity,
            )
        outcomes.append(AlertOutcome(alert.pk, measure, item.crossing.severity, False, escalated))
    return outcomes


def _work_title(alert: Alert) -> str:
    return f"Monitoring alert ({alert.severity}): {spec_of(alert.measure).label.lower()}"


def _enqueue_alert(patient: User, alert: Alert, now: dt.datetime) -> None:
    from carepath.workqueue.actions import do_enqueue
    from carepath.workqueue.models import WorkItemKind

    profile = PatientProfile.objects.filter(user_id=patient.pk).first()
    item = do_enqueue(
        kind=WorkItemKind.RPM_ALERT,
        patient=patient,
        subject_type=ALERT_SUBJECT,
        subject_id=str(alert.pk),
        title=_work_title(alert),
        due_at=now + alert_due(alert.severity),
        priority=PRIORITY[AlertSeverity(alert.severity)],
        required_state=profile.state if profile else "",
        required_language=profile.preferred_language if profile else "",
    )
    Alert.objects.filter(pk=alert.pk).update(work_item=item)
    alert.work_item = item


def _escalate_work_item(patient: User, alert: Alert, now: dt.datetime) -> None:
    """A warning became critical. An item nobody holds is replaced by one with the critical
    priority and due time; an item a clinician holds stays theirs and is made due sooner."""
    from carepath.workqueue.actions import do_cancel, do_requeue
    from carepath.workqueue.models import WorkItemStatus

    item = alert.work_item
    if item is None:
        _enqueue_alert(patient, alert, now)
        return
    item.refresh_from_db()
    if item.status == WorkItemStatus.OPEN:
        do_cancel(item.pk, "Replaced: the monitoring alert became critical.")
        _enqueue_alert(patient, alert, now)
    elif item.status == WorkItemStatus.CLAIMED:
        do_requeue(item.pk, due_at=min(item.due_at, now + alert_due(alert.severity)))


def _tell_patient(patient: User, alert: Alert, episode_id: int | None) -> None:
    """In the app now (with what to do); and, once the readings are committed, the same
    words as a system message in the patient's monitoring thread, which the care team sees
    too (carepath.messaging nudges by e-mail/SMS, without health information)."""
    from carepath.notifications.actions import notify_user

    title, body = alert_message(alert.measure, alert.direction, alert.severity)
    notify_user(patient, kind="rpm_alert", title=title, body=body, url="/rpm/")
    transaction.on_commit(partial(_message_patient, patient.pk, episode_id, body), robust=True)


def _message_patient(patient_id: int, episode_id: int | None, body: str) -> None:
    """(After commit.) A failure here never costs a reading: they are committed already; the
    patient is then nudged by e-mail instead, and the in-app notice stands."""
    from carepath.care.models import Episode
    from carepath.messaging.actions import do_send_system_message

    patient = User.objects.get(pk=patient_id)
    episode = Episode.objects.filter(pk=episode_id).first() if episode_id else None
    try:
        do_send_system_message(patient, subject=MESSAGE_SUBJECT, body=body, episode=episode)
    except Exception:
        logger.exception("rpm alert: system message not posted; e-mailing a nudge instead")
        _nudge_by_email(patient)


def _close_alert(alert: Alert, by: User | None, note: str, now: dt.datetime) -> None:
    Alert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
        status=AlertStatus.RESOLVED, resolved_at=now, resolved_by=by, resolution_note=note
    )
    _audit("rpm.alert.resolve", by, "rpm_alert", alert.pk, alert.patient_id, note=note[:200])


def do_resolve_alert(clinician: User, alert: Alert, note: str) -> Alert:
    """The clinician dealt with the alert. Its work item is completed (if they hold it) or
    cancelled (if nobody does); an item another clinician is working on is left to them."""
    from carepath.workqueue.actions import do_cancel, do_complete
    from carepath.workqueue.models import ACTIVE_STATUSES, WorkItemStatus

    _require_clinician(clinician, "rpm.alert.resolve")
    note = _note(note)
    if not note:
        raise ActionRefused("note_required", "Say what you did about the alert.", field="note")
    with transaction.atomic():
        locked = (
            Alert.objects.select_for_update(of=("self",))
            .select_related("work_item")
            .get(pk=alert.pk)
        )
        if locked.status != AlertStatus.OPEN:
            return locked
        item = locked.work_item
        now = clock.now()
        if item is not None and item.status in ACTIVE_STATUSES:
            held_by_other = (
                item.status == WorkItemStatus.CLAIMED
                and item.claimed_by_id != clinician.pk
                and item.lease_expires_at is not None
                and item.lease_expires_at > now
            )
            if held_by_other:
                raise ActionRefused(
                    "held_by_other",
                    "Another clinician is working on this alert in the queue.",
                    status=409,
                )
            if item.status == WorkItemStatus.CLAIMED and item.claimed_by_id == clinician.pk:
                do_complete(clinician, item.pk)
            else:
                do_cancel(item.pk, "Monitoring alert resolved on the patient's RPM page.")
        _close_alert(locked, clinician, note, now)
        locked.refresh_from_db()
    return locked


def do_mark_reading_in_error(clinician: User, reading: Reading, reason: str) -> Reading:
    _require_clinician(clinician, "rpm.reading.entered_in_error")
    reason = _note(reason)
    if not reason:
        raise ActionRefused("reason_required", "Say why the reading is wrong.", field="reason")
    with transaction.atomic():
        changed = Reading.objects.filter(pk=reading.pk, status=ReadingStatus.VALID).update(
            status=ReadingStatus.ENTERED_IN_ERROR,
            error_reason=reason,
            errored_at=clock.now(),
            errored_by=clinician,
        )
        if changed:
            _audit(
                "rpm.reading.entered_in_error",
                clinician,
                "rpm_reading",
                reading.pk,
                reading.patient_id,
                reason=reason[:200],
            )
        reading.refresh_from_db()
    return reading


# --- Clinician time ----------------------------------------------------------------------------


def _check_kind(kind: str) -> None:
    if kind not in TimeKind.values:
        raise ActionRefused("invalid_kind", "Choose review or interactive.", field="kind")


def _check_time_patient(clinician: User, patient_id: int) -> User:
    _require_clinician(clinician, "rpm.time.record")
    patient = _patient(patient_id)
    if not may_access_patient(clinician, patient_id):
        raise ActionRefused("not_found", "No patient with that id.", status=404)
    if not Enrollment.objects.filter(patient=patient, started_at__isnull=False).exists():
        raise ActionRefused(
            "not_enrolled", "Time counts only for patients in monitoring.", status=409
        )
    return patient


def do_record_time(
    clinician: User,
    patient_id: int,
    *,
    kind: str,
    minutes: int,
    occurred_at: dt.datetime,
    note: str = "",
) -> TimeEntry:
    _check_kind(kind)
    if not 1 <= minutes <= MAX_ENTRY_MINUTES:
        raise ActionRefused(
            "invalid_minutes", f"Minutes are between 1 and {MAX_ENTRY_MINUTES}.", field="minutes"
        )
    if occurred_at.tzinfo is None:
        raise ActionRefused("invalid_time", "Give the time with its zone.", field="occurred_at")
    if occurred_at > clock.now() + dt.timedelta(minutes=5):
        raise ActionRefused(
            "future_time", "Time cannot be recorded for the future.", field="occurred_at"
        )
    patient = _check_time_patient(clinician, patient_id)
    with transaction.atomic():
        entry = TimeEntry.objects.create(
            clinician=clinician,
            patient=patient,
            kind=kind,
            minutes=minutes,
            occurred_at=occurred_at,
            note=_note(note),
            created_at=clock.now(),
        )
        _audit(
            "rpm.time.record",
            clinician,
            "rpm_time_entry",
            entry.pk,
            patient.pk,
            kind=kind,
            minutes=minutes,
        )
    return entry


def do_start_timer(clinician: User, patient_id: int, *, kind: str, note: str = "") -> TimeEntry:
    _check_kind(kind)
    patient = _check_time_patient(clinician, patient_id)
    now = clock.now()
    try:
        with transaction.atomic():
            entry = TimeEntry.objects.create(
                clinician=clinician,
                patient=patient,
                kind=kind,
                started_at=now,
                occurred_at=now,
                note=_note(note),
                created_at=now,
            )
            _audit("rpm.time.start", clinician, "rpm_time_entry", entry.pk, patient.pk, kind=kind)
    except IntegrityError as error:
        raise ActionRefused(
            "timer_running", "You already have a timer running; stop it first.", status=409
        ) from error
    return entry


def do_stop_timer(clinician: User, *, note: str = "") -> TimeEntry:
    """Stop the clinician's running timer. Minutes are whole minutes elapsed (rounded down:
    billing never counts time that was not spent), capped at MAX_TIMER_MINUTES."""
    with transaction.atomic():
        entry = (
            TimeEntry.objects.select_for_update(of=("self",))
            .filter(clinician=clinician, started_at__isnull=False, ended_at__isnull=True)
            .first()
        )
        if entry is None or entry.started_at is None:
            raise ActionRefused("no_timer", "No timer is running.", status=409)
        now = max(clock.now(), entry.started_at)
        elapsed = int((now - entry.started_at).total_seconds() // 60)
        entry.ended_at = now
        entry.minutes = min(elapsed, MAX_TIMER_MINUTES)
        if note.strip():
            entry.note = _note(f"{entry.note} {note}")
        entry.save(update_fields=["ended_at", "minutes", "note"])
        _audit(
            "rpm.time.stop",
            clinician,
            "rpm_time_entry",
            entry.pk,
            entry.patient_id,
            minutes=entry.minutes,
            capped=elapsed > MAX_TIMER_MINUTES,
        )
    return entry


def do_mark_time_in_error(clinician: User, entry: TimeEntry, reason: str) -> TimeEntry:
    reason = _note(reason)
    if not reason:
        raise ActionRefused("reason_required", "Say why the entry is wrong.", field="reason")
    if entry.clinician_id != clinician.pk:
        raise ActionRefused("not_found", "No time entry with that id.", status=404)
    with transaction.atomic():
        changed = TimeEntry.objects.filter(
            pk=entry.pk, status=ReadingStatus.VALID, minutes__isnull=False
        ).update(status=ReadingStatus.ENTERED_IN_ERROR, error_reason=reason)
        if changed:
            _audit(
                "rpm.time.entered_in_error",
                clinician,
                "rpm_time_entry",
                entry.pk,
                entry.patient_id,
                reason=reason[:200],
            )
        entry.refresh_from_db()
    return entry
