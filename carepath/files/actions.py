"""The upload pipeline. Types come from the bytes (never the name or the declared type);
images are decoded under a pixel limit, turned upright, and re-encoded from their pixels
alone, so EXIF (GPS included), ICC, XMP, appended trailers and polyglot payloads are gone.
PDFs are stored as they are and never rendered here. Everything is encrypted before it
reaches storage."""

import hashlib
import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from PIL import Image, ImageOps

from carepath.access.selectors import may_access_patient
from carepath.accounts.models import PatientProfile, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.files import crypto, storage
from carepath.files.models import FileKind, StoredFile

THUMBNAIL_PX = 320
JPEG_QUALITY = 90
SNIFF_BYTES = 16
READ_CHUNK = 1024 * 1024
MAX_NAME = 120

# format sniffed -> (kind, Pillow format, content type, extension)
FORMATS = {
    "jpeg": (FileKind.IMAGE, "JPEG", "image/jpeg", ".jpg"),
    "png": (FileKind.IMAGE, "PNG", "image/png", ".png"),
    "webp": (FileKind.IMAGE, "WEBP", "image/webp", ".webp"),
    "pdf": (FileKind.PDF, "", "application/pdf", ".pdf"),
}
EXTENSIONS = {content_type: ext for _k, _f, content_type, ext in FORMATS.values()}


def sniff(head: bytes) -> str | None:
    """The format from magic bytes only."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    return None


def sanitize_name(name: str | None) -> str:
    """A display name only: the last path part, printable, short. Never used as a path."""
    raw = unicodedata.normalize("NFC", name or "")
    base = re.split(r"[\\/]", raw)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] not in {"C", "Z"} or ch == " ")
    base = re.sub(r"[^\w .()+-]", "_", base).strip(" .")
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        if dot and stem and 0 < len(ext) <= 10:
            base = stem[: MAX_NAME - len(ext) - 1] + "." + ext
        else:
            base = base[:MAX_NAME]
    return base or "upload"


def download_name(stored: StoredFile) -> str:
    """The display name with the extension of what the file really is."""
    ext = EXTENSIONS.get(stored.content_type, "")
    stem = (
        stored.original_name.rsplit(".", 1)[0]
        if "." in stored.original_name
        else stored.original_name
    )
    return f"{stem or 'file'}{ext}"


@dataclass
class Prepared:
    kind: str
    content_type: str
    data: bytes
    thumbnail: bytes | None
    width: int | None
    height: int | None


def _read_all(upload: "UploadedFile[Any]", limit: int) -> bytes:
    upload.seek(0)
    chunks: list[bytes] = []
    total = 0
    for chunk in upload.chunks(READ_CHUNK):
        total += len(chunk)
        if total > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ActionRefused:
    return ActionRefused(
        "too_large",
        f"The file is larger than {limit // (1024 * 1024) or 1} MB.",
        field="file",
        status=413,
    )


def _clean_pixels(image: Image.Image) -> Image.Image:
    """Pixels only: a converted copy (RGB or RGBA) with the metadata dict emptied, so no
    EXIF, ICC, XMP, comment or text chunk can reach the encoder."""
    if image.mode in {"I;16", "I;16B", "I;16L", "I", "F"}:
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    has_alpha = image.mode in {"RGBA", "LA", "PA", "RGBa", "La"} or (
        image.mode == "P" and "transparency" in image.info
    )
    clean = image.convert("RGBA" if has_alpha else "RGB")
    clean.info = {}
    return clean


def _encode(image: Image.Image, pil_format: str) -> bytes:
    out = io.BytesIO()
    if pil_format == "JPEG":
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        rgb.save(out, "JPEG", quality=JPEG_QUALITY, exif=b"", icc_profile=None)
    elif pil_format == "WEBP":
        image.save(out, "WEBP", quality=JPEG_QUALITY, exif=b"", icc_profile=None, xmp="")
    else:
        image.save(out, "PNG", icc_profile=None)
    return out.getvalue()


def _prepare_image(data: bytes, fmt: str) -> Prepared:
    _kind, pil_format, content_type, _ext = FORMATS[fmt]
    max_pixels = settings.UPLOAD_MAX_PIXELS
    too_big = ActionRefused(
        "image_too_large",
        f"The image has too many pixels (the limit is {max_pixels // 1_000_000} megapixels).",
        field="file",
    )
    corrupt = ActionRefused(
        "corrupt_image", "The image could not be read; it may be damaged.", field="file"
    )
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[pil_format]) as opened:
                width, height = opened.size
                if width * height > max_pixels or width < 1 or height < 1:
                    raise too_big
                opened.load()
                ImageOps.exif_transpose(opened, in_place=True)
                clean = _clean_pixels(opened)
    except ActionRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise too_big from exc
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise corrupt from exc
    encoded = _encode(clean, pil_format)
    thumb = clean.copy()
    thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    return Prepared(
        kind=FileKind.IMAGE,
        content_type=content_type,
        data=encoded,
        thumbnail=_encode(thumb, pil_format),
        width=clean.width,
        height=clean.height,
    )


def check_upload(upload: "UploadedFile[Any]", allowed_kinds: tuple[str, ...]) -> Prepared:
    """Validate and prepare an upload; raises ActionRefused with a clear message."""
    limit = settings.UPLOAD_MAX_BYTES
    declared = upload.size
    if declared is not None and declared > limit:
        raise _too_large(limit)
    if not declared:
        upload.seek(0)
        if not upload.read(1):
            raise ActionRefused("empty_file", "The file is empty.", field="file")
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    fmt = sniff(head)
    allowed = ", ".join(
        name for name, (kind, *_rest) in FORMATS.items() if kind in allowed_kinds
    ).upper()
    if fmt is None or FORMATS[fmt][0] not in allowed_kinds:
        raise ActionRefused(
            "unsupported_type",
            f"This kind of file is not accepted here. Accepted: {allowed}.",
            field="file",
        )
    data = _read_all(upload, limit)
    if not data:
        raise ActionRefused("empty_file", "The file is empty.", field="file")
    if fmt == "pdf":
        return Prepared(FileKind.PDF, "application/pdf", data, None, None, None)
    return _prepare_image(data, fmt)


def _audit_refusal(uploader: User, patient_id: int, code: str, exists: bool) -> None:
    do_record_audit(
        "file.upload",
        actor=uploader,
        object_type="file",
        patient_id=patient_id if exists else None,
        outcome=Outcome.DENIED,
        detail={"code": code},
    )


def do_store_upload(
    uploader: User,
    patient_id: int,
    upload: "UploadedFile[Any]",
    *,
    allowed_kinds: tuple[str, ...] = ("image", "pdf"),
) -> StoredFile:
    """Store one upload for a patient: the patient themself, or staff who may access the
    patient. Refusal codes: not_found (404), empty_file, too_large (413),
    unsupported_type, image_too_large, corrupt_image."""
    exists = PatientProfile.objects.filter(user_id=patient_id).exists()
    if not exists or not may_access_patient(uploader, patient_id):
        _audit_refusal(uploader, patient_id, "not_found", exists)
        raise ActionRefused("not_found", "No patient with that id.", status=404)
    try:
        prepared = check_upload(upload, allowed_kinds)
    except ActionRefused as refused:
        _audit_refusal(uploader, patient_id, refused.code, True)
        raise
    key_id = crypto.current_key_id()
    storage_key = storage.put_encrypted(prepared.data, key_id=key_id)
    thumbnail_key = (
        storage.put_encrypted(prepared.thumbnail, key_id=key_id) if prepared.thumbnail else ""
    )
    with transaction.atomic():
        stored = StoredFile.objects.create(
            patient_id=patient_id,
            uploaded_by=uploader,
            kind=prepared.kind,
            content_type=prepared.content_type,
            size=len(prepared.data),
            sha256=hashlib.sha256(prepared.data).hexdigest(),
            storage_key=storage_key,
            thumbnail_key=thumbnail_key,
            key_id=key_id,
            original_name=sanitize_name(upload.name),
            width=prepared.width,
            height=prepared.height,
            created_at=clock.now(),
        )
        do_record_audit(
            "file.upload",
            actor=uploader,
            object_type="file",
            object_id=stored.pk,
            patient_id=patient_id,
            detail={"kind": stored.kind, "size": stored.size},
        )
    return stored


def do_mark_file_entered_in_error(user: User, stored: StoredFile, reason: str) -> StoredFile:
    """Files are never deleted; a wrong upload is marked, with the reason."""
    reason = reason.strip()
    if not reason:
        raise ActionRefused("reason_required", "Give the reason.", field="reason")
    with transaction.atomic():
        stored.entered_in_error_at = clock.now()
        stored.entered_in_error_reason = reason[:2000]
        stored.save(update_fields=["entered_in_error_at", "entered_in_error_reason"])
        do_record_audit(
            "file.entered_in_error",
            actor=user,
            object_type="file",
            object_id=stored.pk,
            patient_id=stored.patient_id,
        )
    return stored
