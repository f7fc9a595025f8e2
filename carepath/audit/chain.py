"""The hash of an audit event covers every field and the previous event's hash, so editing,
deleting or reordering any row breaks the chain from that point on."""

import hashlib
import json
from typing import Any

GENESIS_HASH = "0" * 64


def canonical_payload(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str).encode()


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical_payload(fields)).hexdigest()


HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "actor_id",
    "actor_email",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "outcome",
    "source_ip",
    "request_id",
    "detail",
)
