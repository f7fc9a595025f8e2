from django.db import models


class Outcome(models.TextChoices):
    ALLOWED = "allowed", "Allowed"
    DENIED = "denied", "Denied"


class AuditEvent(models.Model):
    """One append-only entry of the hash chain. Actor facts are copied, not joined, so the
    record stays true even if the user's name or role changes later."""

    seq = models.PositiveBigIntegerField(unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, db_index=True)
    actor_email = models.CharField(max_length=254, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.BigIntegerField(null=True, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    source_ip = models.CharField(max_length=45, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"audit #{self.seq} {self.action} {self.outcome}"


class AuditChainHead(models.Model):
    """A single row holding the newest seq and hash. Writers lock it, which serialises the
    chain, and it lets verification notice a deleted tail."""

    seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)
