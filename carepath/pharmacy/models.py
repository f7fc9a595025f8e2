"""The pharmacy directory (seeded, admin-maintained) and each patient's preferred pharmacy.
How a prescription reaches a pharmacy (the handoff adapters and their outbox) lives beside
these in this app; the prescribing app knows only `do_dispatch` and the status listeners."""

from django.conf import settings
from django.db import models

from carepath.core import clock
from carepath.core.us_states import UsState


class HandoffAdapter(models.TextChoices):
    # A FHIR R4 MedicationRequest written to the outbox, collected by the pharmacy network.
    OUTBOX = "outbox", "FHIR outbox"
    # The same document POSTed to the pharmacy's HTTPS endpoint, signed with HMAC-SHA256.
    WEBHOOK = "webhook", "Signed webhook"


class Pharmacy(models.Model):
    """One dispensing pharmacy. `ncpdp_id` is the 7-digit NCPDP provider id pharmacies are
    known by in e-prescribing networks."""

    ncpdp_id = models.CharField("NCPDP id", max_length=7, unique=True)
    name = models.CharField(max_length=120)
    address_line = models.CharField(max_length=200)
    city = models.CharField(max_length=80)
    state = models.CharField(max_length=2, choices=UsState.choices)
    postal_code = models.CharField(max_length=10)
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
            )
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
