"""/api/v1/files: upload a photo or document for a patient (the patient, or staff with
access), read its metadata. The bytes are served by /files/<id>/ (access-checked)."""

from django.http import HttpRequest
from ninja import File, Form, Router, Status
from ninja.files import UploadedFile

from carepath.core.api import current_user
from carepath.files.actions import do_store_upload
from carepath.files.schemas import StoredFileOut, stored_file_out
from carepath.files.selectors import access_file

router = Router(tags=["files"])


@router.post(
    "",
    response={201: StoredFileOut},
    summary="Upload a JPEG, PNG, WebP or PDF for a patient (multipart: patient_id, file)",
)
def upload(
    request: HttpRequest, patient_id: Form[int], file: File[UploadedFile]
) -> Status[StoredFileOut]:
    stored = do_store_upload(current_user(request), patient_id, file)
    return Status(201, stored_file_out(stored))


@router.get("/{file_id}", response=StoredFileOut, summary="A stored file's metadata")
def get_file(request: HttpRequest, file_id: int) -> StoredFileOut:
    return stored_file_out(access_file(current_user(request), file_id, action="file.metadata"))
