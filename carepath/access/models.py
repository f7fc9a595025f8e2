from django.conf import settings
from django.db import models

from carepath.core import clock


class RelationshipKind(models.TextChoices):
    CARE_TEAM = "care_team", "Care team"
    WORK_ITEM = "work_item", "Claimed work item"
    APPOINTMENT = "appointment", "Appointment"


class CareRelationship(models.Model):
    """Why a staff member may see a patient. Care work (claiming an item, booking a visit,
    joining a care team) creates one; without one, access is denied."""

    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="care_relationships"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="patient_relationships"
    )
    kind = models.CharField(max_length=20, choices=RelationshipKind.choices)
    source_id = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(default=clock.now)
    ends_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["staff", "patient"])]


class BreakGlassGrant(models.Model):
    """Emergency access without a care relationship: reasoned, time-boxed, alerted, audited."""

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="break_glass_grants"
    )
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    started_at = models.DateTimeField(default=clock.now)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("started_at")),
                name="break_glass_expires_after_start",
            )
        ]
