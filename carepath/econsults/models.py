"""Provider-to-provider eConsults: a clinician asks a specialist about a patient. The
question waits in the one work queue (kind "econsult"), routed by specialty and the patient's
state; an eConsult is an Encounter of mode "econsult" in one of the patient's episodes."""

from django.conf import settings
from django.db import models

from carepath.core import clock
from carepath.core.us_states import UsState


class EConsultStatus(models.TextChoices):
    SUBMITTED = "submitted", "Waiting for a specialist"
    ANSWERED = "answered", "Answered"
    CANCELLED = "cancelled", "Cancelled"


class EConsult(models.Model):
    asker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="econsults_asked"
    )
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="econsults_about"
    )
    specialty = models.ForeignKey(
        "accounts.Specialty", on_delete=models.PROTECT, related_name="econsults"
    )
    state_at_request = models.CharField(max_length=2, choices=UsState.choices)
    question = models.TextField()
    status = models.CharField(
        max_length=10, choices=EConsultStatus.choices, default=EConsultStatus.SUBMITTED
    )
    encounter = models.OneToOneField(
        "care.Encounter", on_delete=models.PROTECT, related_name="econsult"
    )
    work_item = models.ForeignKey(
        "workqueue.WorkItem", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answer = models.TextField(blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="econsults_answered",
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="answered", answered_at__isnull=False)
                & ~models.Q(answer="")
                | ~models.Q(status="answered"),
                name="answered_econsult_has_answer",
            ),
            models.CheckConstraint(
                condition=~models.Q(asker=models.F("patient")),
                name="econsult_asker_is_not_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"eConsult {self.pk} ({self.status})"


class EConsultAttachment(models.Model):
    econsult = models.ForeignKey(EConsult, on_delete=models.PROTECT, related_name="attachments")
    file = models.ForeignKey("files.StoredFile", on_delete=models.PROTECT, related_name="+")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["econsult", "file"], name="econsult_attachment_once")
        ]
