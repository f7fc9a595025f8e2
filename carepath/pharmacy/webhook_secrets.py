"""A pharmacy's webhook secret: encrypted at rest (carepath.core.crypto), write-only (pages and
the API only ever say whether one is set), decrypted only to sign or verify."""

from cryptography.fernet import InvalidToken

from carepath.core.crypto import decrypt_text, encrypt_text
from carepath.pharmacy.models import Pharmacy

PURPOSE = "pharmacy.webhook_secret"
MIN_SECRET_LENGTH = 24
MAX_SECRET_LENGTH = 200


def encrypt_webhook_secret(secret: str) -> str:
    return encrypt_text(secret, purpose=PURPOSE)


def webhook_secret_of(pharmacy: Pharmacy) -> str:
    """The plain secret, or "" when none is set or it cannot be decrypted (e.g. SECRET_KEY
    rotated: an admin must set it again)."""
    if not pharmacy.webhook_secret_encrypted:
        return ""
    try:
        return decrypt_text(pharmacy.webhook_secret_encrypted, purpose=PURPOSE)
    except InvalidToken:
        return ""
