"""The SMS outbox: the default backend stores each message instead of calling a carrier."""

from django.db import models

from carepath.core import clock


class SmsOutbox(models.Model):
    to = models.CharField(max_length=32)
    body = models.CharField(max_length=640)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "SMS outbox message"

    def __str__(self) -> str:
        return f"sms {self.pk}"
