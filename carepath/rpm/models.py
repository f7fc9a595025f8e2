"""Remote patient monitoring: programs, enrollments (with the RPM consent), devices with
their tokens, readings, threshold alerts and the clinician time that RPM billing counts.

Readings are stored in one UCUM unit per measure (see measures.py), in UTC. A reading is
never deleted or edited: a wrong one is marked entered_in_error with a reason."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from carepath.core import clock
from carepath.rpm.measures import Measure


class Program(models.Model):
    """A monitoring program as data: the measures it watches and default thresholds
    ({measure: {band: value}}, see thresholds.py)."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    measures = models.JSONField(default=list)
    default_thresholds = models.JSONField(default=dict)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ConsentMethod(models.TextChoices):
    PORTAL = "portal", "Accepted by the patient in the portal"
    VERBAL = "verbal", "Verbal consent attested by a clinician"


class Enrollment(models.Model):
    """A patient in a program. Monitoring starts only with the RPM consent: `started_at` is
    the moment consent was in place (the enrollment date for CPT 99453 and the anchor of the
    30-day billing periods); until then the enrollment is only proposed."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rpm_enrollments"
    )
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="enrollments")
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.TextField(blank=True)
    # Per-patient overrides of the program's default thresholds (null removes a band).
    thresholds = models.JSONField(default=dict, blank=True)
    consent_version = models.CharField(max_length=40, blank=True)
    consent_accepted_at = models.DateTimeField(null=True, blank=True)
    consent_method = models.CharField(max_length=10, choices=ConsentMethod.choices, blank=True)
    consent_attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    episode = models.ForeignKey(
        "care.Episode", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    encounter = models.ForeignKey(
        "care.Encounter", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "program"],
                condition=Q(ended_at__isnull=True),
                name="rpm_one_current_enrollment_per_program",
            ),
            # Consent is all there (version, time, how) or not at all, and monitoring starts
            # exactly when it is given.
            models.CheckConstraint(
                condition=(
                    Q(
                        consent_accepted_at__isnull=True,
                        consent_method="",
                        consent_version="",
                        started_at__isnull=True,
                    )
                    | (
                        Q(consent_accepted_at__isnull=False, started_at__isnull=False)
                        & Q(consent_method__in=["portal", "verbal"])
                        & ~Q(consent_version="")
                    )
                ),
                name="rpm_enrollment_consent_complete",
            ),
            models.CheckConstraint(
                condition=~Q(consent_method="verbal") | Q(consent_attested_by__isnull=False),
                name="rpm_verbal_consent_is_attested",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("created_at")),
                name="rpm_enrollment_ends_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"enrollment {self.pk} ({self.program_id})"

    @property
    def status(self) -> str:
        if self.ended_at is not None:
            return "ended"
        return "active" if self.started_at is not None else "pending_consent"

    @property
    def status_label(self) -> str:
        return {
            "ended": "Ended",
            "active": "Active",
            "pending_consent": "Waiting for consent",
        }[self.status]


class DeviceType(models.TextChoices):
    BP_CUFF = "bp_cuff", "Blood pressure cuff"
    GLUCOMETER = "glucometer", "Glucose meter"
    SCALE = "scale", "Scale"
    PULSE_OXIMETER = "pulse_oximeter", "Pulse oximeter"
    THERMOMETER = "thermometer", "Thermometer"
    HUB = "hub", "Cellular hub"


class Device(models.Model):
    """A device registered to one patient. Its token (`Authorization: Device cpd_...`) lets
    it write readings for that patient only; only a SHA-256 of the secret is stored.
    One active registration per (type, serial); a returned device may be registered again
    after its registration is revoked."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rpm_devices"
    )
    device_type = models.CharField(max_length=20, choices=DeviceType.choices)
    serial = models.CharField(max_length=80)
    label = models.CharField(max_length=100, blank=True)
    token_prefix = models.CharField(max_length=12, unique=True)
    token_hash = models.CharField(max_length=64)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    registered_at = models.DateTimeField(default=clock.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-registered_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["device_type", "serial"],
                condition=Q(revoked_at__isnull=True),
                name="rpm_device_type_serial_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_device_type_display()} {self.serial}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ReadingStatus(models.TextChoices):
    VALID = "valid", "Valid"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"


class ReadingSource(models.TextChoices):
    SINGLE = "single", "Single reading"
    NDJSON = "ndjson", "JSON lines batch"
    FHIR = "fhir", "FHIR Bundle"


class Reading(models.Model):
    """One measurement. (device, effective_at, measure) is unique: a device sending the same
    reading again changes nothing. Few indexes, so batches insert fast."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    device = models.ForeignKey(
        Device, on_delete=models.PROTECT, related_name="readings", db_index=False
    )
    measure = models.CharField(max_length=16, choices=Measure.choices)
    value = models.FloatField()
    unit = models.CharField(max_length=16)
    # What the device sent, when we converted it (e.g. 180 [lb_av] -> 81.6 kg).
    original_value = models.FloatField(null=True, blank=True)
    original_unit = models.CharField(max_length=16, blank=True)
    effective_at = models.DateTimeField()
    received_at = models.DateTimeField()
    source = models.CharField(max_length=8, choices=ReadingSource.choices)
    status = models.CharField(
        max_length=16, choices=ReadingStatus.choices, default=ReadingStatus.VALID
    )
    error_reason = models.TextField(blank=True)
    errored_at = models.DateTimeField(null=True, blank=True)
    errored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-effective_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "effective_at", "measure"], name="rpm_reading_unique"
            ),
            models.CheckConstraint(
                condition=Q(status="valid") | ~Q(error_reason=""),
                name="rpm_reading_error_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "measure", "effective_at"], name="rpm_reading_series")
        ]

    def __str__(self) -> str:
        return f"{self.measure} {self.value} {self.unit} at {self.effective_at:%Y-%m-%d %H:%M}"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class AlertSeverity(models.TextChoices):
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class Alert(models.Model):
    """An alert episode: readings of one measure past a threshold, for one patient, until a
    clinician resolves it. At most one open alert per (patient, measure); it is the subject
    of one work item, so further readings join it instead of flooding the queue."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rpm_alerts"
    )
    measure = models.CharField(max_length=16, choices=Measure.choices)
    severity = models.CharField(max_length=10, choices=AlertSeverity.choices)
    status = models.CharField(max_length=10, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    direction = models.CharField(max_length=6)  # high | low | gain
    reason = models.CharField(max_length=300)
    opened_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)
    first_reading = models.ForeignKey(
        Reading, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_reading = models.ForeignKey(
        Reading, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reading_count = models.PositiveIntegerField(default=1)
    work_item = models.ForeignKey(
        "workqueue.WorkItem", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "measure"],
                condition=Q(status="open"),
                name="rpm_one_open_alert_per_measure",
            ),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True)
                | Q(status="resolved", resolved_at__isnull=False),
                name="rpm_alert_resolved_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"alert {self.pk} {self.measure} ({self.severity}, {self.status})"


class TimeKind(models.TextChoices):
    REVIEW = "review", "Review of data"
    INTERACTIVE = "interactive", "Interactive communication"


class TimeEntry(models.Model):
    """Clinician time spent on a patient's monitoring. Entered as minutes, or with a
    start/stop timer (a running timer has started_at and no minutes yet)."""

    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="rpm_time_entries"
    )
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=TimeKind.choices)
    minutes = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    occurred_at = models.DateTimeField()
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=clock.now)
    status = models.CharField(
        max_length=16, choices=ReadingStatus.choices, default=ReadingStatus.VALID
    )
    error_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["patient", "occurred_at"], name="rpm_time_patient")]
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes__isnull=True) | Q(minutes__lte=480),
                name="rpm_time_minutes_bounded",
            ),
            # Running: a start, no end, no minutes yet. Finished: minutes (a timer also has
            # its end after its start).
            models.CheckConstraint(
                condition=Q(started_at__isnull=False, ended_at__isnull=True, minutes__isnull=True)
                | (
                    Q(minutes__isnull=False)
                    & (
                        Q(started_at__isnull=True, ended_at__isnull=True)
                        | Q(started_at__isnull=False, ended_at__gte=models.F("started_at"))
                    )
                ),
                name="rpm_time_running_or_finished",
            ),
            models.UniqueConstraint(
                fields=["clinician"],
                condition=Q(started_at__isnull=False, ended_at__isnull=True),
                name="rpm_one_running_timer_per_clinician",
            ),
            models.CheckConstraint(
                condition=Q(status="valid") | ~Q(error_reason=""),
                name="rpm_time_error_has_reason",
            ),
        ]

    @property
    def is_running(self) -> bool:
        return self.started_at is not None and self.ended_at is None
