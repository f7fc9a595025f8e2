"""The spine of the care path (DESIGN.md): an Episode (FHIR EpisodeOfCare) holds Encounters of
any mode; notes hang off encounters. Records are never deleted: statuses, amendments."""

from typing import Any

from django.conf import settings
from django.db import models

from carepath.core import clock


class EpisodeStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Episode(models.Model):
    """A patient's care for one concern over time (e.g. "rash, Nov 2026")."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="episodes"
    )
    service_line = models.ForeignKey(
        "intake.ServiceLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="episodes",
    )
    title = models.CharField(max_length=200)
    status = models.CharField(
        max_length=10, choices=EpisodeStatus.choices, default=EpisodeStatus.OPEN
    )
    opened_at = models.DateTimeField(default=clock.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["patient", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open", closed_at__isnull=True)
                | models.Q(status="closed", closed_at__isnull=False),
                name="episode_closed_at_matches_status",
            )
        ]

    def __str__(self) -> str:
        return f"episode {self.pk}: {self.title}"


class EncounterMode(models.TextChoices):
    ASYNC = "async", "Online visit (asynchronous)"
    VIDEO = "video", "Video visit"
    AUDIO = "audio", "Audio visit"
    CHAT = "chat", "Chat visit"
    FACILITATED = "facilitated", "Facilitated visit"
    ECONSULT = "econsult", "eConsult"
    MONITORING = "monitoring", "Remote monitoring"


LIVE_MODES = frozenset({EncounterMode.VIDEO, EncounterMode.AUDIO, EncounterMode.CHAT})


class EncounterStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"


class Encounter(models.Model):
    """One interaction inside an episode. Escalation is a new encounter in the same episode,
    pointing at the one it came from: the intake, photos and messages stay linked."""

    episode = models.ForeignKey(Episode, on_delete=models.PROTECT, related_name="encounters")
    mode = models.CharField(max_length=12, choices=EncounterMode.choices)
    status = models.CharField(
        max_length=20, choices=EncounterStatus.choices, default=EncounterStatus.PLANNED
    )
    created_at = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="encounters_as_clinician",
    )
    escalated_from = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="escalations"
    )
    error_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True)
                | models.Q(started_at__isnull=False, ended_at__gte=models.F("started_at")),
                name="encounter_ends_after_start",
            ),
            models.CheckConstraint(
                condition=~models.Q(escalated_from=models.F("id")),
                name="encounter_not_escalated_from_itself",
            ),
        ]

    def __str__(self) -> str:
        return f"encounter {self.pk} ({self.mode})"

    @property
    def patient_id(self) -> int:
        return int(self.episode.patient_id)


class EscalationStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    SCHEDULED = "scheduled", "Scheduled"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class EscalationRequest(models.Model):
    """A clinician (or a red-flag rule) asks for this encounter to continue live. The hybrid
    work creates the live encounter (escalated_from = this one) and sets `live_encounter`."""

    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, related_name="escalation_requests"
    )
    mode_wanted = models.CharField(max_length=12, choices=EncounterMode.choices)
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_at = models.DateTimeField(default=clock.now)
    status = models.CharField(
        max_length=12, choices=EscalationStatus.choices, default=EscalationStatus.REQUESTED
    )
    live_encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-requested_at"]


class NoteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Signed"


class SignedNoteImmutable(Exception):  # noqa: N818 - names the rule that was broken
    """Raised when code tries to save a signed note; later changes are amendments."""


class ClinicalNote(models.Model):
    """A SOAP note for one encounter. Once signed it never changes: see NoteAmendment."""

    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="clinical_notes"
    )
    subjective = models.TextField(blank=True)
    objective = models.TextField(blank=True)
    assessment = models.TextField(blank=True)
    plan = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=NoteStatus.choices, default=NoteStatus.DRAFT)
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="draft", signed_at__isnull=True)
                | models.Q(status="signed", signed_at__isnull=False),
                name="note_signed_at_matches_status",
            ),
            # A note is signed with an assessment and a plan, or not at all.
            models.CheckConstraint(
                condition=models.Q(status="draft")
                | (~models.Q(assessment="") & ~models.Q(plan="")),
                name="signed_note_has_assessment_and_plan",
            ),
        ]

    def __str__(self) -> str:
        return f"note {self.pk} ({self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Defence in depth behind the actions: a row already signed in the database is never
        written again, whatever the caller does."""
        if self.pk is not None:
            stored = type(self).objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == NoteStatus.SIGNED:
                raise SignedNoteImmutable(f"note {self.pk} is signed; add an amendment instead")
        super().save(*args, **kwargs)


class NoteAmendment(models.Model):
    """A later change to a signed note: appended, never edited."""

    note = models.ForeignKey(ClinicalNote, on_delete=models.PROTECT, related_name="amendments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["created_at"]
