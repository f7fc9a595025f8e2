"""Visit link tokens: 32 random bytes (URL-safe), prefixed with the visit id and signed with
the site key, so a tampered or other-visit token is refused before any database lookup. Only a
SHA-256 of the random part is stored."""

import hashlib
import secrets
from dataclasses import dataclass

from django.core import signing

SALT = "carepath.visits.link"
MAX_TOKEN_LENGTH = 200


class TokenRefused(Exception):  # noqa: N818 - reads as what happened
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class LinkToken:
    visit_id: int
    secret: str

    @property
    def hash(self) -> str:
        return hash_secret(self.secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def make_token(visit_id: int) -> tuple[str, str]:
    """A new token for `visit_id` and the hash to store."""
    secret = secrets.token_urlsafe(32)
    token = signing.Signer(salt=SALT).sign(f"{visit_id}.{secret}")
    return token, hash_secret(secret)


def read_token(token: str, visit_id: int) -> LinkToken:
    """The verified contents, or TokenRefused("tampered" | "other_visit")."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenRefused("tampered")
    try:
        value = signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature as error:
        raise TokenRefused("tampered") from error
    prefix, _, secret = value.partition(".")
    if not prefix.isdigit() or not secret:
        raise TokenRefused("tampered")
    if int(prefix) != visit_id:
        raise TokenRefused("other_visit")
    return LinkToken(int(prefix), secret)
