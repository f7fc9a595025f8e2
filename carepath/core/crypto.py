"""Small symmetric encryption for secrets we must store (TOTP seeds), keyed from SECRET_KEY.
Fernet gives authenticated encryption, so a tampered value fails to decrypt."""

import base64
import hashlib

from cryptography.fernet import Fernet
from django.conf import settings


def _fernet(purpose: str) -> Fernet:
    digest = hashlib.sha256(f"carepath:{purpose}:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_text(text: str, *, purpose: str) -> str:
    return _fernet(purpose).encrypt(text.encode()).decode()


def decrypt_text(token: str, *, purpose: str) -> str:
    return _fernet(purpose).decrypt(token.encode()).decode()
