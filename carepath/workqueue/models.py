"""One queue, two clocks: every piece of work waiting on a clinician is a WorkItem with a
due_at. A live patient is due in minutes, an async case in hours (its SLA)."""

from django.conf import settings
from django.db import models

from carepath.core import clock


class WorkItemKind(models.TextChoices):
    ASYNC_CASE = "async_case", "Asynchronous case"
    ECONSULT = "econsult", "eConsult"
    WAITING_ROOM = "waiting_room", "Patient in the waiting room"
    ON_DEMAND = "on_demand", "On-demand visit request"
    RPM_ALERT = "rpm_alert", "Monitoring alert"
    REFILL = "refill", "Refill request"
    MESSAGE = "message", "Message"
    CHECK_IN = "check_in", "Check-in"
    UNSIGNED_NOTE = "unsigned_note", "Unsigned note"


# Kinds where a patient is waiting in real time (shown as "waiting live").
LIVE_KINDS = frozenset({WorkItemKind.WAITING_ROOM, WorkItemKind.ON_DEMAND})


class WorkItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLAIMED = "claimed", "Claimed"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (WorkItemStatus.OPEN, WorkItemStatus.CLAIMED)


class WorkItem(models.Model):
    """Anything waiting on a clinician (FHIR Task). Claiming is a lease; the database holds
    the invariants: a claimed item has one holder and a lease, and one subject has at most
    one active item."""

    kind = models.CharField(max_length=20, choices=WorkItemKind.choices)
    status = models.CharField(
        max_length=12, choices=WorkItemStatus.choices, default=WorkItemStatus.OPEN
    )
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="work_items",
    )
    subject_type = models.CharField(max_length=60)
    subject_id = models.CharField(max_length=64)
    title = models.CharField(max_length=200)
    required_state = models.CharField(max_length=2, blank=True)
    required_specialty = models.ForeignKey(
        "accounts.Specialty", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    required_language = models.CharField(max_length=8, blank=True, default="en")
    priority = models.IntegerField(default=0)
    due_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=clock.now)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="claimed_work_items",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    reassigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reassigned_work_items",
    )

    class Meta:
        ordering = ["due_at", "-priority", "pk"]
        indexes = [
            # The queue's order (due_at, then priority) straight from the index.
            models.Index(fields=["status", "due_at", "-priority"], name="workitem_queue_order"),
            models.Index(fields=["status", "lease_expires_at"], name="workitem_lease"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        status="claimed",
                        claimed_by__isnull=False,
                        lease_expires_at__isnull=False,
                    )
                    | (~models.Q(status="claimed") & models.Q(lease_expires_at__isnull=True))
                ),
                name="workitem_claimed_has_holder_and_lease",
            ),
            models.UniqueConstraint(
                fields=["kind", "subject_type", "subject_id"],
                condition=models.Q(status__in=["open", "claimed"]),
                name="workitem_one_active_per_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_type}:{self.subject_id} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.kind in LIVE_KINDS


class SlaBreach(models.Model):
    """The record that an item passed its due_at while still waiting, and what we did."""

    item = models.ForeignKey(WorkItem, on_delete=models.PROTECT, related_name="breaches")
    breached_at = models.DateTimeField(default=clock.now)
    due_at = models.DateTimeField()
    action_taken = models.TextField(blank=True)

    class Meta:
        ordering = ["-breached_at"]
        constraints = [
            models.UniqueConstraint(fields=["item", "due_at"], name="slabreach_once_per_due")
        ]
