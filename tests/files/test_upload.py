import io
from pathlib import Path

import pytest
from django.test import override_settings
from PIL import Image

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.core.errors import ActionRefused
from carepath.files.actions import do_store_upload, sanitize_name
from carepath.files.models import StoredFile
from carepath.files.selectors import read_plaintext
from tests.files.conftest import PDF, jpeg_with_gps, png_bytes, png_claiming_size, upload


def refused(user: User, patient: User, data: bytes, name: str = "x.png", **kw: object) -> str:
    with pytest.raises(ActionRefused) as caught:
        do_store_upload(user, patient.pk, upload(name, data), **kw)  # type: ignore[arg-type]
    return caught.value.code


def test_jpeg_loses_all_exif_and_is_turned_upright(alice: User) -> None:
    original = jpeg_with_gps(orientation=6)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # GPS present before
    stored = do_store_upload(alice, alice.pk, upload("IMG_0001.JPG", original, "image/jpeg"))
    assert stored.kind == "image"
    assert stored.content_type == "image/jpeg"
    clean = read_plaintext(stored)
    image = Image.open(io.BytesIO(clean))
    assert image.format == "JPEG"
    assert len(image.getexif()) == 0
    assert "exif" not in image.info
    assert "icc_profile" not in image.info
    assert b"Exif" not in clean
    assert b"PhoneMaker" not in clean
    # Orientation 6 rotates the 40x20 image to 20x40; the red half is now on top.
    assert image.size == (20, 40)
    assert (stored.width, stored.height) == (20, 40)
    red, _green, blue = image.convert("RGB").getpixel((10, 5))  # type: ignore[misc]
    assert red > 200
    assert blue < 60
    thumb = Image.open(io.BytesIO(read_plaintext(stored, thumbnail=True)))
    assert max(thumb.size) <= 320
    assert len(thumb.getexif()) == 0
    assert AuditEvent.objects.filter(action="file.upload", patient_id=alice.pk).exists()


def test_png_with_a_script_after_iend_is_reencoded(alice: User) -> None:
    data = png_bytes() + b"<script>alert(document.cookie)</script>"
    stored = do_store_upload(alice, alice.pk, upload("pic.png", data, "image/png"))
    clean = read_plaintext(stored)
    assert b"<script>" not in clean
    assert clean.endswith(b"IEND\xaeB`\x82")
    assert Image.open(io.BytesIO(clean)).size == (16, 16)


def test_a_50000_square_png_is_refused_and_we_carry_on(alice: User) -> None:
    bomb = png_claiming_size(50_000, 50_000)
    assert len(bomb) < 200
    assert refused(alice, alice, bomb, "huge.png") == "image_too_large"
    # The process is alive and the next upload works.
    assert do_store_upload(alice, alice.pk, upload("ok.png", png_bytes())).pk


def test_over_the_pixel_limit_but_under_pillows_own(alice: User) -> None:
    with override_settings(UPLOAD_MAX_PIXELS=100):
        assert refused(alice, alice, png_bytes((20, 20))) == "image_too_large"


def test_a_pdf_named_jpg_is_a_pdf_or_refused(alice: User) -> None:
    stored = do_store_upload(alice, alice.pk, upload("photo.jpg", PDF, "image/jpeg"))
    assert stored.kind == "pdf"
    assert stored.content_type == "application/pdf"
    assert stored.thumbnail_key == ""
    assert read_plaintext(stored) == PDF  # stored as it is
    assert refused(alice, alice, PDF, "photo.jpg", allowed_kinds=("image",)) == "unsupported_type"


def test_type_comes_from_content_never_the_name(alice: User) -> None:
    assert refused(alice, alice, b"GIF89a" + b"\x00" * 40, "x.png") == "unsupported_type"
    assert refused(alice, alice, b"<html><script>1</script></html>", "x.pdf") == "unsupported_type"
    assert refused(alice, alice, b"\x89PNG\r\n\x1a\nbroken", "x.png") == "corrupt_image"
    png_named_pdf = do_store_upload(alice, alice.pk, upload("scan.pdf", png_bytes()))
    assert png_named_pdf.kind == "image"


def test_empty_and_oversize_files(alice: User) -> None:
    assert refused(alice, alice, b"", "empty.png") == "empty_file"
    with override_settings(UPLOAD_MAX_BYTES=1000):
        assert refused(alice, alice, PDF + b"x" * 2000, "big.pdf") == "too_large"
        assert do_store_upload(alice, alice.pk, upload("small.pdf", PDF)).pk
    denied = AuditEvent.objects.filter(action="file.upload", outcome="denied")
    assert set(denied.values_list("detail__code", flat=True)) >= {"empty_file", "too_large"}


def test_path_names_are_sanitized_and_nothing_lands_outside_storage(
    alice: User, media_root: Path
) -> None:
    marker = b"PLAINTEXT-MARKER-0123456789" * 4
    pdf = PDF + marker
    before = set(Path("/etc").iterdir())
    stored = do_store_upload(alice, alice.pk, upload("../../etc/passwd", pdf))
    assert stored.original_name == "passwd"
    assert set(Path("/etc").iterdir()) == before
    written = [path for path in media_root.rglob("*") if path.is_file()]
    assert len(written) == 1
    assert written[0].name == f"{stored.storage_key}.bin"
    on_disk = written[0].read_bytes()
    assert marker not in on_disk
    assert b"%PDF" not in on_disk
    assert read_plaintext(stored) == pdf


def test_sanitize_name() -> None:
    assert sanitize_name("..\\..\\windows\\system32\\cmd.exe") == "cmd.exe"
    assert sanitize_name("a\x00b\u202ec.png") == "abc.png"
    assert sanitize_name("") == "upload"
    assert sanitize_name("....") == "upload"
    assert sanitize_name("<img src=x>.png") == "_img src_x_.png"
    long = sanitize_name("a" * 300 + ".jpeg")
    assert len(long) == 120
    assert long.endswith(".jpeg")


def test_key_rotation_old_files_still_decrypt(alice: User) -> None:
    with override_settings(FILE_ENCRYPTION_KEY_ID="k0"):
        old = do_store_upload(alice, alice.pk, upload("old.pdf", PDF))
    new = do_store_upload(alice, alice.pk, upload("new.pdf", PDF))
    assert (old.key_id, new.key_id) == ("k0", "k1")
    assert read_plaintext(StoredFile.objects.get(pk=old.pk)) == PDF
    assert read_plaintext(new) == PDF


def test_someone_without_access_cannot_upload_for_a_patient(
    alice: User, bob: User, dr_tex: User
) -> None:
    assert refused(bob, alice, png_bytes()) == "not_found"
    assert refused(dr_tex, alice, png_bytes()) == "not_found"
    assert not StoredFile.objects.exists()
