"""Encryption at rest: AES-256-GCM, a fresh 12-byte nonce per object stored in front of the
ciphertext, the object's storage key as associated data (a blob moved to another key does not
decrypt). The key id lives on the StoredFile row, so old keys keep decrypting after rotation."""

import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

NONCE_BYTES = 12


class DecryptionError(Exception):
    """The stored bytes do not authenticate under the recorded key (tampered, or key lost)."""


def current_key_id() -> str:
    key_id: str = settings.FILE_ENCRYPTION_KEY_ID
    if key_id not in settings.FILE_ENCRYPTION_KEYS:
        raise ImproperlyConfigured(f"FILE_ENCRYPTION_KEY_ID {key_id!r} has no key")
    return key_id


def _key(key_id: str) -> bytes:
    try:
        key: bytes = settings.FILE_ENCRYPTION_KEYS[key_id]
    except KeyError as exc:
        raise DecryptionError(f"no file key with id {key_id!r}") from exc
    return key


def encrypt(plaintext: bytes, *, key_id: str, associated: str) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(_key(key_id)).encrypt(nonce, plaintext, associated.encode())


def decrypt(blob: bytes, *, key_id: str, associated: str) -> bytes:
    nonce, ciphertext = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    try:
        return AESGCM(_key(key_id)).decrypt(nonce, ciphertext, associated.encode())
    except InvalidTag as exc:
        raise DecryptionError("stored file failed authentication") from exc
