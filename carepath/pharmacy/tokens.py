"""Pharmacy network tokens: cpn_<prefix>_<secret>, sent as
`Authorization: PharmacyNetwork <token>`. The prefix finds the client; only SHA-256(secret) is
stored (as for API and device tokens), compared in constant time; shown once when issued."""

import secrets

from carepath.accounts.tokens import hash_secret, secret_matches

NETWORK_TOKEN_PREFIX = "cpn"  # noqa: S105 - a label, not a secret
AUTH_SCHEME = "PharmacyNetwork"

__all__ = ["AUTH_SCHEME", "new_network_token", "secret_matches", "split_network_token"]


def new_network_token() -> tuple[str, str, str]:
    """(full token to show once, prefix, secret hash)."""
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    return f"{NETWORK_TOKEN_PREFIX}_{prefix}_{secret}", prefix, hash_secret(secret)


def split_network_token(token: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != NETWORK_TOKEN_PREFIX or len(parts[1]) != 8:
        return None
    return parts[1], parts[2]
