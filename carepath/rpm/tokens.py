"""Device tokens: cpd_<prefix>_<secret>, sent as `Authorization: Device <token>`. The prefix
finds the device; only SHA-256(secret) is stored (as for API tokens), compared in constant
time. The token is shown once, when the device is registered."""

import secrets

from carepath.accounts.tokens import hash_secret, secret_matches

DEVICE_TOKEN_PREFIX = "cpd"  # noqa: S105 - a label, not a secret
AUTH_SCHEME = "Device"

__all__ = ["AUTH_SCHEME", "new_device_token", "secret_matches", "split_device_token"]


def new_device_token() -> tuple[str, str, str]:
    """(full token to show once, prefix, secret hash)."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    return f"{DEVICE_TOKEN_PREFIX}_{prefix}_{secret}", prefix, hash_secret(secret)


def split_device_token(token: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != DEVICE_TOKEN_PREFIX or len(parts[1]) != 8:
        return None
    return parts[1], parts[2]
