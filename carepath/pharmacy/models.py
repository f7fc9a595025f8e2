"""The pharmacy directory (seeded, admin-maintained) and each patient's preferred pharmacy.
How a prescription reaches a pharmacy (the handoff adapters and their outbox) lives beside
these in this app; the prescribing app knows only `do_dispatch` and the status listeners."""

import uuid

from django.conf import settings
from django.db import models

from carepath.core import clock
from carepath.core.us_states import UsState
from carepath.pharmacy.validators import validate_ncpdp_id, validate_postal_code


class HandoffAdapter(models.TextChoices):
    # A FHIR R4 MedicationRequest written to the outbox, collected by the pharmacy network.
    OUTBOX = "outbox", "FHIR outbox"
    # The same document POSTed to the pharmacy's HTTPS endpoint, signed with HMAC-SHA256.
    WEBHOOK = "webhook", "Signed webhook"


class Pharmacy(models.Model):
    """One dispensing pharmacy. `ncpdp_id` is the 7-digit NCPDP provider id pharmacies are
    known by in e-prescribing networks."""

    ncpdp_id = models.CharField(
        "NCPDP id", max_length=7, unique=True, validators=[validate_ncpdp_id]
    )
    name = models.CharField(max_length=120)
    address_line = models.CharField(max_length=200)
    city = models.CharField(max_length=80)
    state = models.CharField(max_length=2, choices=UsState.choices)
    postal_code = models.CharField("ZIP code", max_length=10, validators=[validate_postal_code])
    phone = models.CharField(max_length=32)
    fax = models.CharField(max_length=32, blank=True)
    open_24_hours = models.BooleanField(default=False)
    mail_order = models.BooleanField(default=False)
    accepts_controlled = models.BooleanField(
        default=True, help_text="Registered to dispense schedule II-V substances."
    )
    adapter = models.CharField(
        max_length=10, choices=HandoffAdapter.choices, default=HandoffAdapter.OUTBOX
    )
    webhook_url = models.URLField(max_length=500, blank=True)
    # Encrypted at rest (carepath.core.crypto); never shown after it is set.
    webhook_secret_encrypted = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["name", "city"]
        verbose_name_plural = "pharmacies"
        indexes = [models.Index(fields=["state", "city"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(adapter="outbox") | ~models.Q(webhook_url=""),
                name="pharmacy_webhook_has_url",
            ),
            models.CheckConstraint(
                condition=models.Q(ncpdp_id__regex=r"^[0-9]{7}$"),
                name="pharmacy_ncpdp_id_seven_digits",
            ),
            models.CheckConstraint(
                condition=models.Q(adapter__in=[a.value for a in HandoffAdapter]),
                name="pharmacy_adapter_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}, {self.city} {self.state}"


class PreferredPharmacy(models.Model):
    """The pharmacy a patient wants prescriptions sent to (one per patient)."""

    patient = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="preferred_pharmacy"
    )
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="+")
    chosen_at = models.DateTimeField(default=clock.now)

    def __str__(self) -> str:
        return f"patient {self.patient_id} -> {self.pharmacy_id}"


class DispatchStatus(models.TextChoices):
    """Where a handed-off order is. queued: waiting for its adapter (or a retry); sent: in the
    outbox for the network, or accepted by the pharmacy's webhook; received: the pharmacy
    acknowledged it; filled: dispensed (final); failed: delivery gave up, or the pharmacy
    refused it (staff may retry); cancelled: the prescriber withdrew the order (final; the
    pharmacy is sent the cancelled document until it acknowledges, see
    Dispatch.cancel_acknowledged_at)."""

    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    RECEIVED = "received", "Received by the pharmacy"
    FILLED = "filled", "Filled"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class DispatchSource(models.TextChoices):
    """Who moved a dispatch (recorded on each history row)."""

    SYSTEM = "system", "Carepath"
    ADAPTER = "adapter", "Delivery adapter"
    NETWORK = "network", "Pharmacy network"
    PHARMACY = "pharmacy", "Pharmacy (signed request)"
    STAFF = "staff", "Staff"


class Dispatch(models.Model):
    """The outbox row of one order handed to a pharmacy: exactly one per (order_type,
    order_id), which is what makes `do_dispatch` idempotent even under concurrent calls.
    `delivery_id` is the stable public id a pharmacy sees (webhook header, outbox feed)."""

    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="dispatches")
    # The adapter chosen when the dispatch was (re)queued; a later change of the pharmacy's
    # adapter applies from its next retry.
    adapter = models.CharField(max_length=10, choices=HandoffAdapter.choices)
    order_type = models.CharField(max_length=40)
    order_id = models.CharField(max_length=64)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    document = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DispatchStatus.choices, default=DispatchStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker delivering holds this lease, so a second worker (or a duplicate task) skips.
    delivering_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    updated_at = models.DateTimeField(default=clock.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # When the pharmacy (its webhook answering 2xx to the cancelled document) or the network
    # (reporting "cancelled") confirmed the withdrawal; also set at once when the order never
    # left us (nothing to withdraw). Until then the cancellation is pending.
    cancel_acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "dispatches"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "sent_at"]),
            models.Index(fields=["patient"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["order_type", "order_id"], name="one_dispatch_per_order"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=[s.value for s in DispatchStatus]),
                name="dispatch_status_known",
            ),
            models.CheckConstraint(
                condition=models.Q(adapter__in=[a.value for a in HandoffAdapter]),
                name="dispatch_adapter_known",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="filled") | models.Q(filled_at__isnull=False),
                name="dispatch_filled_has_time",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="cancelled") | models.Q(cancelled_at__isnull=False),
                name="dispatch_cancelled_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_type} {self.order_id} -> pharmacy {self.pharmacy_id}: {self.status}"

    @property
    def cancellation_pending(self) -> bool:
        return self.status == DispatchStatus.CANCELLED and self.cancel_acknowledged_at is None

    @property
    def can_retry(self) -> bool:
        """A failed delivery, or a cancellation notice the webhook never took (gave up)."""
        if self.status == DispatchStatus.FAILED:
            return True
        return (
            self.cancellation_pending
            and self.adapter == HandoffAdapter.WEBHOOK
            and self.next_attempt_at is None
        )


class DispatchStatusChange(models.Model):
    """Append-only history of a dispatch: every status change (and every failed attempt)."""

    dispatch = models.ForeignKey(Dispatch, on_delete=models.PROTECT, related_name="history")
    from_status = models.CharField(max_length=10, choices=DispatchStatus.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=DispatchStatus.choices)
    source = models.CharField(max_length=10, choices=DispatchSource.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    attempt = models.PositiveIntegerField(default=0)
    detail = models.CharField(max_length=500, blank=True)
    occurred_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["occurred_at", "pk"]

    def __str__(self) -> str:
        return f"dispatch {self.dispatch_id}: {self.from_status or '-'} -> {self.to_status}"


class PharmacyNetworkClient(models.Model):
    """A credential for the pharmacy network's integration, which collects the outbox and
    reports statuses. Only SHA-256 of the secret is stored (shown once when issued); it opens
    the network endpoints and nothing else (not a user, not an ApiToken)."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"network client {self.name}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
