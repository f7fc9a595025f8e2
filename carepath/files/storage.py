"""Encrypted objects in Django's default storage (local disk under MEDIA_ROOT by default,
S3-compatible when configured). Names are random; nothing about the patient or the upload."""

import secrets

from django.core.files.base import ContentFile
from django.core.files.storage import storages

from carepath.files import crypto

PREFIX = "files"


def new_storage_key() -> str:
    return secrets.token_hex(16)


def object_name(storage_key: str) -> str:
    return f"{PREFIX}/{storage_key[:2]}/{storage_key}.bin"


def put_encrypted(plaintext: bytes, *, key_id: str) -> str:
    """Encrypt and store; returns the new storage key."""
    storage = storages["default"]
    for _attempt in range(3):
        storage_key = new_storage_key()
        name = object_name(storage_key)
        if storage.exists(name):
            continue
        blob = crypto.encrypt(plaintext, key_id=key_id, associated=storage_key)
        saved = storage.save(name, ContentFile(blob))
        if saved == name:
            return storage_key
        storage.delete(saved)  # the storage renamed it: never keep an object we cannot find
    raise RuntimeError("could not allocate a storage key")


def get_decrypted(storage_key: str, *, key_id: str) -> bytes:
    with storages["default"].open(object_name(storage_key), "rb") as handle:
        blob = handle.read()
    return crypto.decrypt(blob, key_id=key_id, associated=storage_key)
