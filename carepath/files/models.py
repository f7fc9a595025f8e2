"""Uploaded photos and documents. The bytes live encrypted in storage under a random key;
this row is the only way to find and decrypt them. Never deleted: entered in error."""

from django.conf import settings
from django.db import models

from carepath.core import clock


class FileKind(models.TextChoices):
    IMAGE = "image", "Image"
    PDF = "pdf", "PDF document"


class StoredFile(models.Model):
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="stored_files"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=FileKind.choices)
    content_type = models.CharField(max_length=60)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_key = models.CharField(max_length=64, unique=True)
    thumbnail_key = models.CharField(max_length=64, blank=True)
    key_id = models.CharField(max_length=40)
    original_name = models.CharField(max_length=120, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=clock.now)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["patient", "created_at"], name="storedfile_patient")]

    def __str__(self) -> str:
        return f"file {self.pk} ({self.kind})"
