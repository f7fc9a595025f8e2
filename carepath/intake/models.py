"""Asynchronous intake: service lines (admin data), versioned questionnaires shaped like FHIR
R4 Questionnaire, and the cases patients submit through them."""

import uuid

from django.conf import settings
from django.db import models

from carepath.core import clock
from carepath.core.us_states import UsState


class Questionnaire(models.Model):
    """One version of an intake questionnaire. `definition` is a FHIR R4 Questionnaire's
    `item` tree (see carepath.intake.questionnaires for what is accepted). A version is never
    edited: an admin's change is saved as the next version, so every case keeps the exact
    questions it was answered against."""

    code = models.SlugField(max_length=60)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    definition = models.JSONField()
    created_at = models.DateTimeField(default=clock.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="questionnaire_code_version"),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="questionnaire_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"

    @property
    def items(self) -> list[dict[str, object]]:
        items = self.definition.get("item", []) if isinstance(self.definition, dict) else []
        return items if isinstance(items, list) else []


class RedFlagOutcome(models.TextChoices):
    NONE = "", "None"
    LIVE_VISIT_NOW = "live_visit_now", "Needs a live visit now"
    EMERGENCY = "emergency", "Go to emergency care"


class ServiceLine(models.Model):
    """What a patient can ask for online: its questionnaire, its SLA, who may answer it.
    `red_flag_rules` are data (see carepath.intake.red_flags), edited by admins."""

    code = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.PROTECT, related_name="service_lines"
    )
    sla_minutes = models.PositiveIntegerField(help_text="Time to a clinician's answer.")
    specialty = models.ForeignKey(
        "accounts.Specialty", on_delete=models.PROTECT, related_name="service_lines"
    )
    allowed_modes = models.JSONField(default=list)
    red_flag_rules = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["sort_order", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sla_minutes__gte=1), name="service_line_sla_positive"
            )
        ]

    def __str__(self) -> str:
        return self.name


class CaseStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    NEEDS_INFO = "needs_info", "Needs information"
    ANSWERED = "answered", "Answered"
    ESCALATED = "escalated", "Escalated"
    # After the live visit the case escalated to: care continues here, asynchronously.
    FOLLOW_UP = "follow_up", "Follow-up"
    CLOSED = "closed", "Closed"


class Case(models.Model):
    """An asynchronous submission: one per async Encounter of an Episode. The draft is saved
    on the server as the patient types, so nothing is lost; the episode and encounter are
    created when it is submitted."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="intake_cases"
    )
    service_line = models.ForeignKey(ServiceLine, on_delete=models.PROTECT, related_name="cases")
    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.PROTECT, related_name="+")
    episode = models.ForeignKey(
        "care.Episode", on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    encounter = models.OneToOneField(
        "care.Encounter", on_delete=models.PROTECT, null=True, blank=True, related_name="case"
    )
    work_item = models.ForeignKey(
        "workqueue.WorkItem", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    state_at_submission = models.CharField(
        "state the patient is in", max_length=2, choices=UsState.choices
    )
    status = models.CharField(max_length=12, choices=CaseStatus.choices, default=CaseStatus.DRAFT)
    answers = models.JSONField(default=dict, blank=True)
    # The per-draft key the pages send as their Idempotency-Key when submitting.
    submit_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    red_flag_outcome = models.CharField(
        max_length=16, choices=RedFlagOutcome.choices, blank=True, default=""
    )
    red_flag_rule = models.CharField(max_length=60, blank=True)
    red_flag_message = models.TextField(blank=True)
    needs_live_visit = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=clock.now)
    draft_saved_at = models.DateTimeField(default=clock.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["patient", "status"], name="case_patient_status")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="draft")
                | models.Q(
                    submitted_at__isnull=False, episode__isnull=False, encounter__isnull=False
                ),
                name="submitted_case_has_episode",
            )
        ]

    def __str__(self) -> str:
        return f"case {self.pk} ({self.status})"

    @property
    def is_draft(self) -> bool:
        return self.status == CaseStatus.DRAFT


class CaseAttachment(models.Model):
    """A photo or document on a case. `link_id` names the questionnaire item it answers
    (blank: a general document); `message` is set when it came with a reply."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="attachments")
    file = models.ForeignKey("files.StoredFile", on_delete=models.PROTECT, related_name="+")
    link_id = models.CharField(max_length=64, blank=True)
    message = models.ForeignKey(
        "intake.CaseMessage",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attachments",
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    # Taken off a draft by the patient; the row and the file stay.
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["case", "file"], name="case_attachment_once")
        ]


class MessageKind(models.TextChoices):
    QUESTION = "question", "Clinician's question"
    REPLY = "reply", "Patient's reply"
    ANSWER = "answer", "Clinician's answer"
    CLOSED = "closed", "Case closed"
    ESCALATED = "escalated", "Escalated to a live visit"
    VISIT = "visit", "Live visit"
    MESSAGE = "message", "Message"


class CaseMessage(models.Model):
    """The minimal thread of a case: the clinician asks, the patient replies, the clinician
    answers; after a live visit both keep writing here (follow-up). Patient-facing text; the
    clinical record is the SOAP note."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=MessageKind.choices)
    body = models.TextField()
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["created_at", "pk"]
