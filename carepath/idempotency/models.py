from django.conf import settings
from django.db import models

from carepath.core import clock


class IdempotencyRecord(models.Model):
    """The first response to a create request sent with an Idempotency-Key. A retry with the
    same key (same user, same endpoint) gets this response back instead of a second row."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    endpoint = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "endpoint", "key"], name="idempotency_one_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key}"
