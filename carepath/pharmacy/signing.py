"""HMAC-SHA256 signatures between Carepath and a pharmacy, in both directions, with the
pharmacy's webhook secret:

    X-Carepath-Timestamp: <unix seconds>
    X-Carepath-Signature: sha256=<hex HMAC-SHA256(secret,
                              "<timestamp>.<METHOD>.<path>." + body)>

METHOD is the upper-case HTTP method ("POST") and path the request target as sent: the path
and, when there is one, "?" and the query (e.g. "/api/v1/pharmacy/deliveries/<id>/status").
Signing the method and path binds a signature to the one request it was made for: a captured
status report for one delivery cannot be replayed against another delivery's URL.

Outbound (our webhook POST) also carries `X-Carepath-Delivery: <dispatch delivery id>`, stable
across retries so the pharmacy can drop duplicates. Inbound (a pharmacy reporting a status)
adds `X-Carepath-Pharmacy: <NCPDP id>` to say whose secret to check. A timestamp further than
SIGNATURE_TOLERANCE from our clock is refused, and so is a signature already accepted within
that window (remembered in the shared cache): a captured request cannot be sent again."""

import datetime as dt
import hashlib
import hmac

from django.core.cache import cache

from carepath.core import clock

TIMESTAMP_HEADER = "X-Carepath-Timestamp"
SIGNATURE_HEADER = "X-Carepath-Signature"
DELIVERY_HEADER = "X-Carepath-Delivery"
PHARMACY_HEADER = "X-Carepath-Pharmacy"
SIGNATURE_PREFIX = "sha256="
SIGNATURE_TOLERANCE = dt.timedelta(minutes=5)


def signed_message(timestamp: str, method: str, path: str, body: bytes) -> bytes:
    return f"{timestamp}.{method.upper()}.{path}.".encode() + body


def signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    message = signed_message(timestamp, method, path, body)
    digest = hmac.new(secret.encode(), message, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def signed_headers(
    secret: str, body: bytes, *, method: str, path: str, at: dt.datetime | None = None
) -> dict[str, str]:
    timestamp = str(int((at or clock.now()).timestamp()))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, method, path, body),
    }


def timestamp_is_fresh(timestamp: str) -> bool:
    if not timestamp.isdigit() or len(timestamp) > 12:
        return False
    sent = dt.datetime.fromtimestamp(int(timestamp), tz=dt.UTC)
    return abs(clock.now() - sent) <= SIGNATURE_TOLERANCE


def signature_matches(
    secret: str, timestamp: str, method: str, path: str, body: bytes, given: str
) -> bool:
    return hmac.compare_digest(signature(secret, timestamp, method, path, body), given.strip())


def first_use(given: str) -> bool:
    """True the first time a (valid) signature is presented within the tolerance window,
    False for a replay. Both sides of the window are covered: a timestamp may be up to
    SIGNATURE_TOLERANCE in the future."""
    window = int(2 * SIGNATURE_TOLERANCE.total_seconds()) + 60
    return bool(cache.add(f"pharmacy:signature-seen:{given.strip()}", 1, timeout=window))
