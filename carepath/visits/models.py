"""Live visits: the room (Visit) of an appointment or an on-demand request, who may be in it
(Participant, admitted only by the clinician), the signed links that bring people there
(VisitLink), and what happens inside it, saved on the encounter: chat, modality changes and
vitals (Observation)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from carepath.core import clock


class VisitKind(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled visit"
    ON_DEMAND = "on_demand", "On-demand visit"


class VisitStatus(models.TextChoices):
    OPEN = "open", "Open (waiting)"
    IN_PROGRESS = "in_progress", "In progress"
    ENDED = "ended", "Ended"
    CANCELLED = "cancelled", "Cancelled"


LIVE_STATUSES = (VisitStatus.OPEN, VisitStatus.IN_PROGRESS)


class VisitMode(models.TextChoices):
    VIDEO = "video", "Video"
    AUDIO = "audio", "Audio only"
    CHAT = "chat", "Chat only"


class Visit(models.Model):
    """One live room. A scheduled visit belongs to an appointment; an on-demand visit to a
    work item in the shared queue until a clinician claims it."""

    kind = models.CharField(max_length=12, choices=VisitKind.choices)
    status = models.CharField(max_length=12, choices=VisitStatus.choices, default=VisitStatus.OPEN)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="visits"
    )
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visits_as_clinician",
    )
    appointment = models.OneToOneField(
        "scheduling.Appointment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visit",
    )
    encounter = models.OneToOneField(
        "care.Encounter", on_delete=models.PROTECT, null=True, blank=True, related_name="visit"
    )
    work_item = models.ForeignKey(
        "workqueue.WorkItem", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    mode = models.CharField(max_length=8, choices=VisitMode.choices, default=VisitMode.VIDEO)
    facilitated = models.BooleanField(default=False)
    reason = models.CharField(max_length=500, blank=True)
    required_specialty = models.ForeignKey(
        "accounts.Specialty", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_at = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["patient", "status"]),
            models.Index(fields=["clinician", "status"]),
            models.Index(fields=["kind", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="visit_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(status="ended", ended_at__isnull=False)
                | (~Q(status="ended") & Q(ended_at__isnull=True))
                | Q(status="cancelled"),
                name="visit_ended_at_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(kind="on_demand") | Q(appointment__isnull=False),
                name="visit_scheduled_has_appointment",
            ),
        ]

    def __str__(self) -> str:
        return f"visit {self.pk} ({self.kind}, {self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


class ParticipantRole(models.TextChoices):
    PATIENT = "patient", "Patient"
    CLINICIAN = "clinician", "Clinician"
    INTERPRETER = "interpreter", "Interpreter"
    CAREGIVER = "caregiver", "Caregiver"
    TELEFACILITATOR = "telefacilitator", "Telefacilitator"


GUEST_ROLES = frozenset({ParticipantRole.INTERPRETER, ParticipantRole.CAREGIVER})


class VisitLink(models.Model):
    """A signed, unguessable link bound to one visit and one participant, usable only in a
    window around the visit. Only a SHA-256 of its random part is stored. Guest links
    (caregiver, interpreter) are single-use: consumed when the clinician admits the guest."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="links")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visit_links",
        help_text="The person the link is for; empty for a guest without an account.",
    )
    role = models.CharField(max_length=16, choices=ParticipantRole.choices)
    label = models.CharField(max_length=100, blank=True, help_text="Who the inviter meant.")
    email = models.EmailField(max_length=254, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    single_use = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__gt=F("valid_from")), name="visit_link_window"
            ),
            models.CheckConstraint(
                condition=Q(single_use=True) | Q(user__isnull=False),
                name="visit_link_guest_is_single_use",
            ),
        ]

    def __str__(self) -> str:
        return f"visit link {self.pk} ({self.role})"


class AdmissionState(models.TextChoices):
    WAITING = "waiting", "Waiting for admission"
    ADMITTED = "admitted", "Admitted"
    REMOVED = "removed", "Removed"


class Participant(models.Model):
    """Someone in (or waiting for) a visit. Only `admitted` participants ever receive media,
    offers or chat: the signaling consumer enforces it."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="participants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visit_participations",
    )
    link = models.OneToOneField(
        VisitLink, on_delete=models.PROTECT, null=True, blank=True, related_name="participant"
    )
    role = models.CharField(max_length=16, choices=ParticipantRole.choices)
    display_name = models.CharField(max_length=100)
    state = models.CharField(
        max_length=10, choices=AdmissionState.choices, default=AdmissionState.WAITING
    )
    created_at = models.DateTimeField(default=clock.now)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    device_check = models.JSONField(default=dict, blank=True)
    admitted_at = models.DateTimeField(null=True, blank=True)
    admitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    # The socket currently in the room (one per participant; a reconnect replaces it).
    room_channel = models.CharField(max_length=200, blank=True)
    room_session = models.CharField(max_length=40, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "user"],
                condition=Q(user__isnull=False),
                name="participant_once_per_visit",
            ),
            models.UniqueConstraint(
                fields=["visit"],
                condition=Q(role="patient"),
                name="participant_one_patient_per_visit",
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(link__isnull=False),
                name="participant_is_user_or_guest",
            ),
            models.CheckConstraint(
                condition=~Q(state="admitted") | Q(admitted_at__isnull=False),
                name="participant_admitted_at",
            ),
        ]

    def __str__(self) -> str:
        return f"participant {self.pk} ({self.role}, {self.state})"

    @property
    def is_admitted(self) -> bool:
        return self.state == AdmissionState.ADMITTED

    @property
    def is_guest(self) -> bool:
        return self.user_id is None


class ChatMessage(models.Model):
    """In-visit chat, saved on the encounter (persisted before anyone sees it)."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="chat_messages")
    encounter = models.ForeignKey(
        "care.Encounter", on_delete=models.PROTECT, related_name="visit_chat_messages"
    )
    sender = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    sent_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["sent_at", "id"]
        indexes = [models.Index(fields=["visit", "id"])]


class VisitEventKind(models.TextChoices):
    CHECKED_IN = "checked_in", "Checked in"
    ADMITTED = "admitted", "Admitted"
    REMOVED = "removed", "Removed"
    JOINED = "joined", "Joined the room"
    LEFT = "left", "Left the room"
    STARTED = "started", "Visit started"
    MODE_CHANGED = "mode_changed", "Modality changed"
    ENDED = "ended", "Visit ended"


class VisitEvent(models.Model):
    """What happened in a visit, with its time. Modality changes are recorded here on the
    encounter (from_mode -> to_mode)."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="events")
    encounter = models.ForeignKey(
        "care.Encounter",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visit_events",
    )
    kind = models.CharField(max_length=16, choices=VisitEventKind.choices)
    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    from_mode = models.CharField(max_length=8, blank=True)
    to_mode = models.CharField(max_length=8, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["visit", "kind"])]


class ObservationStatus(models.TextChoices):
    FINAL = "final", "Final"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"


class Observation(models.Model):
    """One vital sign taken during a facilitated visit (FHIR Observation): a LOINC code, a
    value and a UCUM unit. Values taken together share a panel id."""

    encounter = models.ForeignKey(
        "care.Encounter", on_delete=models.PROTECT, related_name="visit_observations"
    )
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="observations")
    panel = models.UUIDField(db_index=True)
    code = models.CharField(max_length=16)
    display = models.CharField(max_length=100)
    value = models.DecimalField(max_digits=7, decimal_places=2)
    unit = models.CharField(max_length=16)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=clock.now)
    status = models.CharField(
        max_length=20, choices=ObservationStatus.choices, default=ObservationStatus.FINAL
    )
    error_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["recorded_at", "id"]
        indexes = [models.Index(fields=["encounter", "code"])]

    def __str__(self) -> str:
        return f"{self.display} {self.value} {self.unit}"
