"""Scheduling: clinicians' weekly hours (in their own time zone), exceptions, visit types and
appointments. The database itself refuses two booked appointments of one clinician that overlap
(an exclusion constraint on PostgreSQL; a per-clinician lock row + check on SQLite)."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from carepath.core import clock
from carepath.core.us_states import UsState


def _new_ical_uid() -> str:
    return uuid.uuid4().hex


class VisitMode(models.TextChoices):
    """The live modes of carepath.care's EncounterMode (same values)."""

    VIDEO = "video", "Video"
    AUDIO = "audio", "Audio only"
    CHAT = "chat", "Chat"


class VisitType(models.Model):
    """What can be booked: duration, mode and the buffer kept free after it."""

    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visit_types",
        help_text="Empty for a clinic-wide visit type.",
    )
    name = models.CharField(max_length=100)
    duration_minutes = models.PositiveIntegerField(default=20)
    mode = models.CharField(max_length=10, choices=VisitMode.choices, default=VisitMode.VIDEO)
    buffer_minutes = models.PositiveIntegerField(default=0)
    service_line = models.ForeignKey(
        "intake.ServiceLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visit_types",
    )
    requires_intake = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5) & Q(duration_minutes__lte=480),
                name="visit_type_duration_range",
            ),
            models.CheckConstraint(
                condition=Q(buffer_minutes__lte=240), name="visit_type_buffer_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.duration_minutes} min)"


class WeeklyAvailability(models.Model):
    """Recurring hours: local wall-clock times in the clinician's own time zone."""

    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="weekly_availability"
    )
    weekday = models.PositiveSmallIntegerField(help_text="0 = Monday … 6 = Sunday")
    start_time = models.TimeField()
    end_time = models.TimeField()
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["weekday", "start_time"]
        constraints = [
            models.CheckConstraint(condition=Q(weekday__lte=6), name="weekly_weekday_range"),
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")), name="weekly_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=F("valid_from")),
                name="weekly_valid_range",
            ),
        ]
        indexes = [models.Index(fields=["clinician", "weekday"])]


class ExceptionKind(models.TextChoices):
    TIME_OFF = "time_off", "Time off"
    EXTRA_HOURS = "extra_hours", "Extra hours"


class AvailabilityException(models.Model):
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="availability_exceptions"
    )
    kind = models.CharField(max_length=12, choices=ExceptionKind.choices)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="exception_end_after_start"
            )
        ]
        indexes = [models.Index(fields=["clinician", "starts_at"])]


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"
    NO_SHOW = "no_show", "No-show"
    RESCHEDULED = "rescheduled", "Rescheduled"


class Appointment(models.Model):
    """A booked visit. starts_at/ends_at are UTC; ends_at excludes the buffer (the buffer is
    kept free by the slot search and the overlap check via `blocks_until`)."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments"
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clinician_appointments"
    )
    visit_type = models.ForeignKey(VisitType, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    # ends_at + the visit type's buffer: the span the clinician is unavailable (what the
    # database's no-overlap rule covers).
    blocks_until = models.DateTimeField()
    status = models.CharField(
        max_length=12, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    # The state the patient will be in during the visit (licensure is checked against it).
    patient_state = models.CharField(max_length=2, choices=UsState.choices)
    episode = models.ForeignKey(
        "care.Episode", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    encounter = models.ForeignKey(
        "care.Encounter", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The service line's intake, when the visit type requires one.
    intake_case = models.ForeignKey(
        "intake.Case", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    booked_at = models.DateTimeField(default=clock.now)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)
    no_show_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    rescheduled_from = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rescheduled_to",
    )
    # The calendar UID: kept by the appointment that replaces this one on a reschedule, so the
    # patient's calendar moves the event instead of adding a second one.
    ical_uid = models.CharField(max_length=64, default=_new_ical_uid, db_index=True)
    # Bumped on every reschedule/cancel: a reminder task carrying an older version does nothing.
    reminder_version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="appointment_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(blocks_until__gte=F("ends_at")), name="appointment_blocks_after_end"
            ),
        ]
        indexes = [
            models.Index(fields=["clinician", "status", "starts_at"]),
            models.Index(fields=["patient", "status", "starts_at"]),
        ]

    def __str__(self) -> str:
        return f"appointment {self.pk}"

    @property
    def is_booked(self) -> bool:
        return self.status == AppointmentStatus.BOOKED


class ClinicianBookingLock(models.Model):
    """One row per clinician, locked (SELECT ... FOR UPDATE) by every booking transaction, so
    two bookings for one clinician run one after the other. On SQLite the IMMEDIATE
    transactions already serialize writers; on PostgreSQL the exclusion constraint is the
    final word and this lock only keeps the conflict error clean."""

    clinician = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="+",
    )


class ReminderSent(models.Model):
    """A reminder actually sent: unique per (appointment, offset, version), so a task that runs
    twice sends once."""

    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="+")
    offset_minutes = models.IntegerField()
    version = models.PositiveIntegerField()
    sent_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "offset_minutes", "version"],
                name="reminder_sent_once",
            )
        ]
