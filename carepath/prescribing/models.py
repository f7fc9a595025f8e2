"""Prescribing: the formulary (Medication, admin data), what we know of the patient
(AllergyIntolerance, MedicationStatement), the orders (Prescription, FHIR MedicationRequest)
with their status history, and refill requests. Nothing here is ever deleted: statuses,
reasons and entered_in_error."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from carepath.core import clock
from carepath.core.us_states import UsState
from carepath.prescribing.units import quantity_text

RXCUI_PATTERN = r"^[0-9]{1,10}$"
validate_rxcui = RegexValidator(RXCUI_PATTERN, "An RxNorm code (RxCUI) is 1 to 10 digits.")


class Schedule(models.TextChoices):
    """US DEA controlled-substance schedule; blank: not controlled."""

    NONE = "", "Not controlled"
    II = "II", "Schedule II"
    III = "III", "Schedule III"
    IV = "IV", "Schedule IV"
    V = "V", "Schedule V"


class Medication(models.Model):
    """One formulary entry. `rxcui` is the RxNorm concept of the ingredient; `drug_classes`
    and `ingredients` are what allergy and duplicate-therapy checks match against."""

    name = models.CharField(max_length=120, unique=True)
    generic_name = models.CharField(max_length=120)
    rxcui = models.CharField("RxNorm code (RxCUI)", max_length=10, validators=[validate_rxcui])
    strengths = models.JSONField(default=list)
    dose_forms = models.JSONField(default=list)
    route = models.CharField(max_length=40)
    sig_templates = models.JSONField(default=list, blank=True)
    schedule = models.CharField(max_length=3, choices=Schedule.choices, blank=True, default="")
    drug_classes = models.JSONField(default=list, blank=True)
    ingredients = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rxcui__regex=RXCUI_PATTERN), name="medication_rxcui_digits"
            ),
            models.CheckConstraint(
                condition=Q(schedule__in=Schedule.values), name="medication_schedule_known"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_controlled(self) -> bool:
        return bool(self.schedule)


class AllergySeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    UNKNOWN = "unknown", "Not sure"


class AllergyStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RESOLVED = "resolved", "No longer allergic"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"


class AllergyIntolerance(models.Model):
    """An allergy the patient told us about, or a clinician recorded."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="allergies"
    )
    substance = models.CharField(max_length=120)
    reaction = models.CharField(max_length=200, blank=True)
    severity = models.CharField(
        max_length=10, choices=AllergySeverity.choices, default=AllergySeverity.UNKNOWN
    )
    status = models.CharField(
        max_length=20, choices=AllergyStatus.choices, default=AllergyStatus.ACTIVE
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=clock.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-pk"]
        indexes = [models.Index(fields=["patient", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="active", ended_at__isnull=True)
                | (~Q(status="active") & Q(ended_at__isnull=False)),
                name="allergy_ended_at_matches_status",
            )
        ]

    def __str__(self) -> str:
        return f"allergy {self.pk}: {self.substance}"


class StatementStatus(models.TextChoices):
    ACTIVE = "active", "Taking"
    STOPPED = "stopped", "Stopped"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"


class StatementSource(models.TextChoices):
    PATIENT = "patient", "Reported by the patient"
    CLINICIAN = "clinician", "Recorded by a clinician"
    PRESCRIPTION = "prescription", "Prescribed here"


class MedicationStatement(models.Model):
    """One line of the patient's medication list (FHIR MedicationStatement). Prescriptions
    signed here add theirs automatically; other entries are free text, optionally linked to
    the formulary."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="medication_statements"
    )
    medication = models.ForeignKey(
        Medication, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=120)
    dosage = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=12, choices=StatementSource.choices)
    prescription = models.OneToOneField(
        "prescribing.Prescription",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="statement",
    )
    status = models.CharField(
        max_length=20, choices=StatementStatus.choices, default=StatementStatus.ACTIVE
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=clock.now)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-pk"]
        indexes = [models.Index(fields=["patient", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="active", stopped_at__isnull=True)
                | (~Q(status="active") & Q(stopped_at__isnull=False) & ~Q(stop_reason="")),
                name="statement_stopped_with_reason",
            ),
            models.CheckConstraint(
                condition=~Q(source="prescription") | Q(prescription__isnull=False),
                name="statement_prescribed_has_prescription",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class PrescriptionStatus(models.TextChoices):
    """FHIR MedicationRequest.status (the subset we use)."""

    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed (renewed)"
    CANCELLED = "cancelled", "Cancelled"
    ENTERED_IN_ERROR = "entered_in_error", "Entered in error"


class DispatchState(models.TextChoices):
    """Where the handoff to the pharmacy is (mirrored from the pharmacy app's dispatch)."""

    NONE = "", "Not sent yet"
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent to the pharmacy"
    RECEIVED = "received", "Received by the pharmacy"
    FILLED = "filled", "Filled: ready at the pharmacy"
    FAILED = "failed", "Could not be sent"
    CANCELLED = "cancelled", "Withdrawn from the pharmacy"


class Prescription(models.Model):
    """An order for one medication (FHIR MedicationRequest), written in an encounter of an
    episode. The drug fields are a snapshot taken when it was written, so a later formulary
    edit never changes a signed order. After signing, only status fields change."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="prescriptions"
    )
    episode = models.ForeignKey(
        "care.Episode", on_delete=models.PROTECT, related_name="prescriptions"
    )
    encounter = models.ForeignKey(
        "care.Encounter", on_delete=models.PROTECT, related_name="prescriptions"
    )
    prescriber = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="prescriptions_written"
    )
    medication = models.ForeignKey(Medication, on_delete=models.PROTECT, related_name="+")
    medication_name = models.CharField(max_length=120)
    rxcui = models.CharField(max_length=10, validators=[validate_rxcui])
    schedule = models.CharField(max_length=3, choices=Schedule.choices, blank=True, default="")
    strength = models.CharField(max_length=60)
    dose_form = models.CharField(max_length=60)
    route = models.CharField(max_length=40)
    sig = models.CharField("directions (sig)", max_length=500)
    quantity = models.PositiveIntegerField()
    days_supply = models.PositiveIntegerField()
    refills = models.PositiveSmallIntegerField(default=0)
    pharmacy = models.ForeignKey("pharmacy.Pharmacy", on_delete=models.PROTECT, related_name="+")
    note_to_pharmacist = models.CharField(max_length=500, blank=True)
    state_of_care = models.CharField(max_length=2, choices=UsState.choices)
    status = models.CharField(
        max_length=20, choices=PrescriptionStatus.choices, default=PrescriptionStatus.DRAFT
    )
    dispatch_state = models.CharField(
        max_length=10, choices=DispatchState.choices, blank=True, default=""
    )
    refill_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="renewals"
    )
    allergy_override_reason = models.CharField(max_length=500, blank=True)
    duplicate_override_reason = models.CharField(max_length=500, blank=True)
    # The warnings the prescriber acknowledged when signing, as they were then.
    warnings_at_signing = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    signed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["patient", "status"]),
            models.Index(fields=["encounter", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="draft", signed_at__isnull=True)
                | Q(status="cancelled")
                | (~Q(status__in=["draft", "cancelled"]) & Q(signed_at__isnull=False)),
                name="prescription_signed_at_matches_status",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["cancelled", "entered_in_error"])
                | (Q(ended_at__isnull=False) & ~Q(end_reason="")),
                name="prescription_ended_with_reason",
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(days_supply__gte=1) & Q(refills__lte=11),
                name="prescription_quantities_sane",
            ),
            # Federal rules: schedule II is never refilled; III-V at most five times.
            models.CheckConstraint(
                condition=~Q(schedule="II") | Q(refills=0),
                name="prescription_schedule_ii_no_refills",
            ),
            models.CheckConstraint(
                condition=~Q(schedule__in=["III", "IV", "V"]) | Q(refills__lte=5),
                name="prescription_schedule_iii_v_refill_limit",
            ),
        ]

    def __str__(self) -> str:
        return f"prescription {self.pk}: {self.medication_name} ({self.status})"

    @property
    def is_controlled(self) -> bool:
        return bool(self.schedule)

    @property
    def title(self) -> str:
        return f"{self.medication_name} {self.strength} {self.dose_form}"

    @property
    def quantity_text(self) -> str:
        """e.g. "28 capsules", "1 tablet", "30 g" (creams are dispensed by weight)."""
        return quantity_text(self.quantity, self.dose_form)


class PrescriptionEvent(models.Model):
    """The status history of a prescription: signed, each pharmacy status, cancelled."""

    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=20)
    at = models.DateTimeField(default=clock.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "pk"]


class RefillStatus(models.TextChoices):
    REQUESTED = "requested", "Waiting for a clinician"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Not approved"
    CANCELLED = "cancelled", "Withdrawn"


class RefillRequest(models.Model):
    """A patient asks for more of an active prescription. It is a REFILL work item routed to
    the prescriber until `prescriber_until`, then to any eligible clinician."""

    prescription = models.ForeignKey(
        Prescription, on_delete=models.PROTECT, related_name="refill_requests"
    )
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refill_requests"
    )
    note = models.CharField(max_length=1000, blank=True)
    status = models.CharField(
        max_length=10, choices=RefillStatus.choices, default=RefillStatus.REQUESTED
    )
    requested_at = models.DateTimeField(default=clock.now)
    work_item = models.ForeignKey(
        "workqueue.WorkItem", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    prescriber_until = models.DateTimeField()
    widened_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=1000, blank=True)
    new_prescription = models.OneToOneField(
        Prescription, on_delete=models.PROTECT, null=True, blank=True, related_name="from_refill"
    )

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["prescription"],
                condition=Q(status="requested"),
                name="refill_one_pending_per_prescription",
            ),
            models.CheckConstraint(
                condition=~Q(status="denied") | ~Q(decision_reason=""),
                name="refill_denied_with_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(new_prescription__isnull=False),
                name="refill_approved_has_prescription",
            ),
        ]

    def __str__(self) -> str:
        return f"refill {self.pk} of prescription {self.prescription_id} ({self.status})"
