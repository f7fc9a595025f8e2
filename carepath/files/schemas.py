import datetime as dt

from ninja import Schema

from carepath.files.models import StoredFile


class StoredFileOut(Schema):
    id: int
    patient_id: int
    kind: str
    content_type: str
    size: int
    sha256: str
    name: str
    width: int | None
    height: int | None
    created_at: dt.datetime
    url: str
    thumbnail_url: str | None
    entered_in_error: bool


def stored_file_out(stored: StoredFile) -> StoredFileOut:
    return StoredFileOut(
        id=stored.pk,
        patient_id=stored.patient_id,
        kind=stored.kind,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
        name=stored.original_name,
        width=stored.width,
        height=stored.height,
        created_at=stored.created_at,
        url=f"/files/{stored.pk}/",
        thumbnail_url=f"/files/{stored.pk}/thumbnail/" if stored.thumbnail_key else None,
        entered_in_error=stored.entered_in_error_at is not None,
    )
