"""Care paths (FHIR PlanDefinition in spirit): per service line, a versioned definition of
steps and the episode events that move between them; per episode, where it stands on the
version it started on, with the history of every transition; and the follow-up check-ins
the path schedules. Nothing here is deleted: a change is a new version, a cancelled check-in
keeps its row."""

from django.conf import settings
from django.db import models

from carepath.core import clock


class CarePathDefinition(models.Model):
    """One version of the care path of a service line. `definition` is checked by
    carepath.carepaths.definitions.check_definition before it is saved; a version is never
    edited, so every episode keeps the exact path it started on."""

    service_line = models.ForeignKey(
        "intake.ServiceLine", on_delete=models.PROTECT, related_name="care_paths"
    )
    version = models.PositiveIntegerField()
    definition = models.JSONField()
    created_at = models.DateTimeField(default=clock.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["service_line", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["service_line", "version"], name="carepath_definition_line_version"
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="carepath_definition_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"care path {self.service_line_id} v{self.version}"


class PathStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"


class EpisodePath(models.Model):
    """Where one episode stands on its care path. `step_due_at` is entered_at plus the step's
    expected_within_hours (null when the step has no expectation), stored so that "stuck"
    is a plain indexed comparison with the clock."""

    episode = models.OneToOneField(
        "care.Episode", on_delete=models.PROTECT, related_name="care_path"
    )
    definition = models.ForeignKey(
        CarePathDefinition, on_delete=models.PROTECT, related_name="episode_paths"
    )
    current_step = models.CharField(max_length=64)
    entered_at = models.DateTimeField(default=clock.now)
    step_due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=PathStatus.choices, default=PathStatus.ACTIVE)
    started_at = models.DateTimeField(default=clock.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-entered_at", "-pk"]
        indexes = [models.Index(fields=["status", "step_due_at"], name="episodepath_stuck")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="active", completed_at__isnull=True)
                | models.Q(status="completed", completed_at__isnull=False),
                name="episodepath_completed_at_matches_status",
            )
        ]

    def __str__(self) -> str:
        return f"episode {self.episode_id} at {self.current_step}"


class TransitionOutcome(models.TextChoices):
    STARTED = "started", "Path started"
    MOVED = "moved", "Moved to the next step"
    IGNORED = "ignored", "Event not handled by the step"
    ENDED = "ended", "Episode closed outside the path"


class PathTransition(models.Model):
    """One event seen by the engine for an episode, and what it did. Ignored events are kept
    too: they show the coordinator what happened while an episode sat in a step."""

    path = models.ForeignKey(EpisodePath, on_delete=models.PROTECT, related_name="transitions")
    from_step = models.CharField(max_length=64, blank=True)
    to_step = models.CharField(max_length=64)
    event = models.CharField(max_length=80)
    outcome = models.CharField(max_length=10, choices=TransitionOutcome.choices)
    # sha256 of the event (name, actor, detail): a delivery repeated back to back is dropped.
    fingerprint = models.CharField(max_length=64)
    at = models.DateTimeField(default=clock.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["path", "at"], name="pathtransition_path_at")]

    def __str__(self) -> str:
        return f"{self.from_step or '(start)'} -{self.event}-> {self.to_step}"


# Scheduled, or sent and waiting for the patient's answers.
PENDING = models.Q(answered_at__isnull=True, cancelled_at__isnull=True, closed_at__isnull=True)


class CheckIn(models.Model):
    """A follow-up questionnaire the path sends the patient after N days. `answers` holds the
    draft until answered_at is set. The questionnaire version is fixed when it is scheduled.
    `scheduled_by` is the transition that (last) scheduled it: entering the check-in step
    again reschedules the pending check-in and points it at the new transition.

    An episode has at most one *pending* check-in (scheduled, or sent and not answered):
    enforced by a partial unique index. A pending check-in stops being pending when it is
    answered, cancelled (before it was sent: the path left its step or ended) or closed (sent,
    never answered, and the episode ended: it can no longer be answered)."""

    episode = models.ForeignKey("care.Episode", on_delete=models.PROTECT, related_name="check_ins")
    scheduled_by = models.OneToOneField(
        PathTransition,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="check_in",
    )
    questionnaire = models.ForeignKey(
        "intake.Questionnaire", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    answers = models.JSONField(default=dict, blank=True)
    draft_saved_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    needs_visit = models.BooleanField(default=False)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    work_item = models.ForeignKey(
        "workqueue.WorkItem", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-due_at", "-pk"]
        indexes = [models.Index(fields=["sent_at", "due_at"], name="checkin_due")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(answered_at__isnull=True) | models.Q(sent_at__isnull=False),
                name="checkin_answered_after_sent",
            ),
            models.CheckConstraint(
                condition=models.Q(reviewed_at__isnull=True) | models.Q(answered_at__isnull=False),
                name="checkin_reviewed_after_answered",
            ),
            models.CheckConstraint(
                condition=models.Q(closed_at__isnull=True)
                | models.Q(sent_at__isnull=False, answered_at__isnull=True),
                name="checkin_closed_only_sent_unanswered",
            ),
            models.UniqueConstraint(
                fields=["episode"],
                condition=PENDING,
                name="checkin_one_pending_per_episode",
            ),
        ]

    def __str__(self) -> str:
        return f"check-in {self.pk} (episode {self.episode_id})"

    @property
    def is_pending(self) -> bool:
        return self.answered_at is None and self.cancelled_at is None and self.closed_at is None

    @property
    def status(self) -> str:
        if self.cancelled_at is not None:
            return "cancelled"
        if self.closed_at is not None:
            return "closed"
        if self.reviewed_at is not None:
            return "reviewed"
        if self.answered_at is not None:
            return "answered"
        if self.sent_at is not None:
            return "sent"
        return "scheduled"
