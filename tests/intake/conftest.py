import io
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from PIL import Image

from carepath.accounts.models import User
from carepath.intake.models import ServiceLine
from carepath.intake.seed import seed_service_lines

TEST_KEYS = {"k1": bytes(range(32))}


@pytest.fixture(autouse=True)
def media_root() -> Iterator[Path]:
    """Uploads go to a temporary MEDIA_ROOT with a known key."""
    root = Path(tempfile.mkdtemp(prefix="carepath-intake-"))
    with override_settings(
        MEDIA_ROOT=str(root), FILE_ENCRYPTION_KEYS=TEST_KEYS, FILE_ENCRYPTION_KEY_ID="k1"
    ):
        yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def lines(clinic: None) -> dict[str, ServiceLine]:
    return {line.code: line for line in seed_service_lines()}


def jpeg_bytes(gps: bool = True) -> bytes:
    image = Image.new("RGB", (64, 48), "red")
    exif = Image.Exif()
    if gps:
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[1] = "N"
        gps_ifd[2] = (29.0, 45.0, 36.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def jpeg_upload(name: str = "rash.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg_bytes(), content_type="image/jpeg")


DERM_ANSWERS: dict[str, Any] = {
    "concern": "Itchy red patches on both elbows.",
    "location": ["arms"],
    "duration": "weeks",
    "spreading": False,
    "fever": False,
    "breathing": False,
}


def derm_answers(photo_ids: list[Any], **overrides: Any) -> dict[str, Any]:
    return {**DERM_ANSWERS, "photos": photo_ids, **overrides}


def upload_photo(patient: User) -> int:
    from carepath.files.actions import do_store_upload

    return do_store_upload(patient, patient.pk, jpeg_upload()).pk


@pytest.fixture
def episode_events() -> Iterator[list[Any]]:
    """Every episode event delivered while the test runs (run the writes inside
    django_capture_on_commit_callbacks(execute=True): events are delivered on commit)."""
    from carepath.care import events

    seen: list[Any] = []
    events.register_episode_listener(seen.append)
    yield seen
    events._listeners.remove(seen.append)
