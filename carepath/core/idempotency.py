"""Idempotent creates (DESIGN.md): a POST that creates something accepts an `Idempotency-Key`;
a retry with the same key returns the first result, never a second row.

    status, body = idempotent(user, key, "intake.case.create", payload, create)

`create()` runs inside the same transaction as the record of its response, so either both
commit or neither does (a refused request leaves no record: fix it and retry with the key).
The same key with a different payload is refused with 422 "idempotency_key_reused". Two
concurrent requests with one key: the unique constraint makes the second wait for the first
and then replay its response."""

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from carepath.accounts.models import User
from carepath.core.errors import ActionRefused
from carepath.idempotency.models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")


def idempotency_key(request: HttpRequest) -> str | None:
    """The request's key, or None when it sent none; a malformed key is a 400."""
    raw = request.headers.get(HEADER)
    if raw is None or raw == "":
        return None
    if not KEY_PATTERN.match(raw):
        raise ActionRefused(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-255 visible ASCII characters.",
            field=HEADER,
        )
    return raw


def payload_hash(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(record: IdempotencyRecord, request_hash: str) -> tuple[int, Any]:
    if record.request_hash != request_hash:
        raise ActionRefused(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request.",
            field=HEADER,
            status=422,
        )
    return record.status_code, record.response


def idempotent(
    user: User,
    key: str | None,
    endpoint: str,
    payload: Any,
    create: Callable[[], tuple[int, Any]],
) -> tuple[int, Any]:
    """Run `create` once per (user, endpoint, key); `create` returns (status, JSON body)."""
    if key is None:
        return create()
    request_hash = payload_hash(payload)
    with transaction.atomic():
        existing = IdempotencyRecord.objects.filter(user=user, endpoint=endpoint, key=key).first()
        if existing is not None:
            return _replay(existing, request_hash)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=user,
                    endpoint=endpoint,
                    key=key,
                    request_hash=request_hash,
                    status_code=0,
                    response={},
                )
        except IntegrityError:
            # A concurrent request with this key committed first: answer as it did.
            winner = IdempotencyRecord.objects.get(user=user, endpoint=endpoint, key=key)
            return _replay(winner, request_hash)
        status, body = create()
        record.status_code = status
        record.response = body
        record.save(update_fields=["status_code", "response"])
    return status, body
