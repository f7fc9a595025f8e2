import base64
import io
import shutil
import struct
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from PIL import Image

TEST_KEYS = {"k1": bytes(range(32)), "k0": bytes(range(100, 132))}


@pytest.fixture(autouse=True)
def media_root() -> Iterator[Path]:
    """Each test stores into its own temporary MEDIA_ROOT, with known keys."""
    root = Path(tempfile.mkdtemp(prefix="carepath-files-"))
    with override_settings(
        MEDIA_ROOT=str(root), FILE_ENCRYPTION_KEYS=TEST_KEYS, FILE_ENCRYPTION_KEY_ID="k1"
    ):
        yield root
    shutil.rmtree(root, ignore_errors=True)


def upload(
    name: str, data: bytes, content_type: str = "application/octet-stream"
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def jpeg_with_gps(orientation: int = 6) -> bytes:
    """A 40x20 JPEG, left half red, with GPS EXIF and an Orientation tag."""
    image = Image.new("RGB", (40, 20), "blue")
    image.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation: 6 = rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (29.0, 45.0, 36.0)
    gps[3] = "W"
    gps[4] = (95.0, 22.0, 12.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=95)
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (16, 16), color: str = "green") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims width x height (a decompression bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
KEY_B64 = base64.b64encode(TEST_KEYS["k1"]).decode()
