"""Secure messaging. A Thread is about one patient: either between the patient and their care
team (per episode, or general) or between clinicians. Messages carry a per-thread `seq` that
only grows (unique with the thread, assigned under a row lock on the thread), so a client that
reconnects asks for "everything after seq N". Messages are never edited or deleted: a wrong
one is marked entered in error, with the reason."""

from django.conf import settings
from django.db import models

from carepath.core import clock


class ThreadKind(models.TextChoices):
    PATIENT = "patient", "Patient and care team"
    CLINICIAN = "clinician", "Clinicians about a patient"


class Thread(models.Model):
    kind = models.CharField(max_length=10, choices=ThreadKind.choices)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="message_threads"
    )
    episode = models.ForeignKey(
        "care.Episode",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="message_threads",
    )
    subject = models.CharField(max_length=120)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=clock.now)
    # The seq of the newest message; raised only while the thread row is locked.
    last_seq = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-pk"]
        indexes = [models.Index(fields=["patient", "kind"], name="msgthread_patient_kind")]
        constraints = [
            # One patient thread per episode (a general thread has no episode).
            models.UniqueConstraint(
                fields=["patient", "episode"],
                condition=models.Q(kind="patient", episode__isnull=False),
                name="msgthread_one_patient_thread_per_episode",
            ),
        ]

    def __str__(self) -> str:
        return f"thread {self.pk} ({self.kind})"


class Participant(models.Model):
    """Someone explicitly in a thread. `last_read_seq` is their read receipt."""

    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="participants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="message_participations"
    )
    added_at = models.DateTimeField(default=clock.now)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    last_read_seq = models.PositiveIntegerField(default=0)
    last_read_at = models.DateTimeField(null=True, blank=True)
    # At most one nudge (e-mail/SMS/in-app) per thread per MESSAGE_NUDGE_MINUTES.
    last_nudged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["thread", "user"], name="msgparticipant_once"),
        ]

    def __str__(self) -> str:
        return f"participant {self.user_id} in thread {self.thread_id}"


class Message(models.Model):
    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="messages")
    seq = models.PositiveIntegerField()
    # None: a message from Carepath itself (e.g. a monitoring alert to the patient).
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="messages_written",
    )
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=clock.now)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["thread", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["thread", "seq"], name="message_seq_unique"),
            models.CheckConstraint(condition=models.Q(seq__gte=1), name="message_seq_positive"),
            models.CheckConstraint(
                condition=models.Q(entered_in_error_at__isnull=True)
                | ~models.Q(entered_in_error_reason=""),
                name="message_error_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"message {self.thread_id}#{self.seq}"

    @property
    def entered_in_error(self) -> bool:
        return self.entered_in_error_at is not None


class MessageAttachment(models.Model):
    """A file sent with a message; the bytes went through the upload pipeline (carepath.files)."""

    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="attachments")
    file = models.ForeignKey("files.StoredFile", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(fields=["message", "file"], name="msgattachment_once"),
        ]


class QuickReply(models.Model):
    """A clinician's canned reply (owner set) or a clinic-wide one (owner empty). Retired,
    never deleted."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="quick_replies",
    )
    title = models.CharField(max_length=80)
    body = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["title", "pk"]
        verbose_name_plural = "quick replies"

    def __str__(self) -> str:
        return self.title

    @property
    def clinic_wide(self) -> bool:
        return self.owner_id is None
