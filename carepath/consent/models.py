from django.conf import settings
from django.db import models

from carepath.core import clock
from carepath.core.us_states import UsState


class ConsentKind(models.TextChoices):
    TELEHEALTH = "telehealth", "Telehealth consent"
    PRIVACY = "privacy", "Notice of privacy practices"


class ConsentDocument(models.Model):
    """One version of a consent text. A document for a state overrides the national one
    (state blank) for patients in that state."""

    kind = models.CharField(max_length=20, choices=ConsentKind.choices)
    state = models.CharField(max_length=2, choices=UsState.choices, blank=True)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    effective_at = models.DateTimeField(default=clock.now)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "state", "version"], name="one_consent_version_per_scope"
            )
        ]
        ordering = ["kind", "state", "-version"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version} {self.state or 'all states'}"


class ConsentAcceptance(models.Model):
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="consent_acceptances"
    )
    document = models.ForeignKey(ConsentDocument, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(default=clock.now)
    ip_address = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            # At most one live acceptance of a document per patient.
            models.UniqueConstraint(
                fields=["patient", "document"],
                condition=models.Q(revoked_at__isnull=True),
                name="one_live_acceptance_per_document",
            )
        ]
