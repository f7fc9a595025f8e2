from collections.abc import Callable

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from carepath.access.actions import do_add_care_relationship
from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.files.actions import do_store_upload
from tests.files.conftest import PDF, jpeg_with_gps, png_bytes, upload

ClientFor = Callable[..., Client]


def test_owner_gets_bytes_with_safe_headers(client_for: ClientFor, alice: User) -> None:
    stored = do_store_upload(alice, alice.pk, upload("rash.jpg", jpeg_with_gps()))
    response = client_for(alice).get(f"/files/{stored.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith('inline; filename="rash.jpg"')
    assert response["Cache-Control"] == "private, no-store"
    assert b"Exif" not in response.content
    thumb = client_for(alice).get(f"/files/{stored.pk}/thumbnail/")
    assert thumb.status_code == 200
    assert thumb["Content-Type"] == "image/jpeg"
    assert len(thumb.content) < len(response.content) + 1
    reads = AuditEvent.objects.filter(patient_id=alice.pk, action__startswith="file.read")
    assert reads.count() == 2


def test_pdf_is_an_attachment_with_its_real_extension(client_for: ClientFor, alice: User) -> None:
    stored = do_store_upload(alice, alice.pk, upload("photo.jpg", PDF))
    response = client_for(alice).get(f"/files/{stored.pk}/")
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith('attachment; filename="photo.pdf"')
    assert client_for(alice).get(f"/files/{stored.pk}/thumbnail/").status_code == 404


def test_other_patients_and_unrelated_staff_get_404(
    client_for: ClientFor, alice: User, bob: User, dr_tex: User, dr_ny: User
) -> None:
    stored = do_store_upload(alice, alice.pk, upload("a.png", png_bytes()))
    for user in (bob, dr_ny, dr_tex):
        client = client_for(user)
        assert client.get(f"/files/{stored.pk}/").status_code == 404
        assert client.get(f"/files/{stored.pk}/thumbnail/").status_code == 404
        assert client.get(f"/api/v1/files/{stored.pk}").status_code == 404
    assert AuditEvent.objects.filter(
        action="file.read", actor_id=bob.pk, outcome="denied", patient_id=alice.pk
    ).exists()
    # A care relationship (e.g. a claimed work item) opens it.
    do_add_care_relationship(dr_tex, alice.pk)
    assert client_for(dr_tex).get(f"/files/{stored.pk}/").status_code == 200
    assert Client().get(f"/files/{stored.pk}/").status_code == 302  # to sign in


def test_api_upload_and_metadata(client_for: ClientFor, alice: User, bob: User) -> None:
    client = client_for(alice)
    photo = SimpleUploadedFile("../x/IMG.jpg", jpeg_with_gps(), content_type="image/jpeg")
    created = client.post("/api/v1/files", {"patient_id": alice.pk, "file": photo})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["kind"] == "image"
    assert body["name"] == "IMG.jpg"
    assert body["url"] == f"/files/{body['id']}/"
    assert body["thumbnail_url"] == f"/files/{body['id']}/thumbnail/"
    assert client.get(f"/api/v1/files/{body['id']}").json()["sha256"] == body["sha256"]

    for_bob = client.post(
        "/api/v1/files", {"patient_id": bob.pk, "file": SimpleUploadedFile("a.png", png_bytes())}
    )
    assert for_bob.status_code == 404
    empty = client.post(
        "/api/v1/files", {"patient_id": alice.pk, "file": SimpleUploadedFile("e.png", b"")}
    )
    assert empty.status_code == 400
    assert empty.json()["error"]["code"] == "empty_file"
    assert empty.json()["error"]["fields"][0]["field"] == "file"
    missing = client.post("/api/v1/files", {"patient_id": alice.pk})
    assert missing.status_code == 422
