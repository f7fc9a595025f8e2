"""HMAC-SHA256 signatures between Carepath and a pharmacy, in both directions, with the
pharmacy's webhook secret:

    X-Carepath-Timestamp: <unix seconds>
    X-Carepath-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

Outbound (our webhook POST) also carries `X-Carepath-Delivery: <dispatch delivery id>`, stable
across retries so the pharmacy can drop duplicates. Inbound (a pharmacy reporting a status)
adds `X-Carepath-Pharmacy: <NCPDP id>` to say whose secret to check. A timestamp further than
SIGNATURE_TOLERANCE from our clock is refused, which bounds replays (and replays are harmless
anyway: status reports are idempotent)."""

import datetime as dt
import hashlib
import hmac

from carepath.core import clock

TIMESTAMP_HEADER = "X-Carepath-Timestamp"
SIGNATURE_HEADER = "X-Carepath-Signature"
DELIVERY_HEADER = "X-Carepath-Delivery"
PHARMACY_HEADER = "X-Carepath-Pharmacy"
SIGNATURE_PREFIX = "sha256="
SIGNATURE_TOLERANCE = dt.timedelta(minutes=5)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def signed_headers(secret: str, body: bytes, *, at: dt.datetime | None = None) -> dict[str, str]:
    timestamp = str(int((at or clock.now()).timestamp()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def timestamp_is_fresh(timestamp: str) -> bool:
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    sent = dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)
    return abs(clock.now() - sent) <= SIGNATURE_TOLERANCE


def signature_matches(secret: str, timestamp: str, body: bytes, given: str) -> bool:
    return hmac.compare_digest(signature(secret, timestamp, body), given.strip())
