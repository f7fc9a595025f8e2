from django.http import Http404

from carepath.access.selectors import may_access_patient
from carepath.accounts.models import User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.files import storage
from carepath.files.models import StoredFile


def access_file(user: User, file_id: int, *, action: str = "file.read") -> StoredFile:
    """The file's record if the user may see its patient; else an audited 404."""
    stored = StoredFile.objects.filter(pk=file_id).first()
    if stored is None or not may_access_patient(user, stored.patient_id):
        do_record_audit(
            action,
            actor=user,
            object_type="file",
            object_id=file_id,
            patient_id=stored.patient_id if stored else None,
            outcome=Outcome.DENIED,
        )
        raise Http404("No file with that id.")
    do_record_audit(
        action, actor=user, object_type="file", object_id=stored.pk, patient_id=stored.patient_id
    )
    return stored


def read_plaintext(stored: StoredFile, *, thumbnail: bool = False) -> bytes:
    """The decrypted bytes (call access_file first). A PDF has no thumbnail: Http404."""
    key = stored.thumbnail_key if thumbnail else stored.storage_key
    if not key:
        raise Http404("This file has no thumbnail.")
    return storage.get_decrypted(key, key_id=stored.key_id)


def files_for_patient(user: User, patient_id: int) -> list[StoredFile]:
    """Files of a patient the user may access (nothing otherwise); the listing is audited."""
    if not may_access_patient(user, patient_id):
        return []
    files = list(StoredFile.objects.filter(patient_id=patient_id)[:200])
    do_record_audit(
        "file.list",
        actor=user,
        object_type="file",
        patient_id=patient_id,
        detail={"file_ids": [stored.pk for stored in files]},
    )
    return files
