"""carepath.core.idempotency: one result per (user, endpoint, key)."""

import pytest
from django.test import RequestFactory

from carepath.accounts.models import User
from carepath.core.errors import ActionRefused
from carepath.core.idempotency import idempotency_key, idempotent
from carepath.idempotency.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


def test_replays_the_first_result_and_refuses_a_different_payload(alice: User, bob: User) -> None:
    calls: list[int] = []

    def create() -> tuple[int, dict[str, int]]:
        calls.append(1)
        return 201, {"id": len(calls)}

    assert idempotent(alice, "k", "thing.create", {"a": 1}, create) == (201, {"id": 1})
    assert idempotent(alice, "k", "thing.create", {"a": 1}, create) == (201, {"id": 1})
    assert len(calls) == 1
    with pytest.raises(ActionRefused) as reused:
        idempotent(alice, "k", "thing.create", {"a": 2}, create)
    assert reused.value.code == "idempotency_key_reused"
    assert reused.value.status == 422
    # Keys are per user and per endpoint.
    assert idempotent(bob, "k", "thing.create", {"a": 1}, create) == (201, {"id": 2})
    assert idempotent(alice, "k", "other.create", {"a": 1}, create) == (201, {"id": 3})
    # No key: no record, always runs.
    idempotent(alice, None, "thing.create", {"a": 1}, create)
    assert len(calls) == 4
    assert IdempotencyRecord.objects.count() == 3


def test_a_failed_create_leaves_no_record(alice: User) -> None:
    def refuse() -> tuple[int, dict[str, int]]:
        raise ActionRefused("nope", "No.")

    with pytest.raises(ActionRefused):
        idempotent(alice, "k", "thing.create", {}, refuse)
    assert not IdempotencyRecord.objects.exists()


def test_header_is_validated() -> None:
    factory = RequestFactory()
    assert idempotency_key(factory.post("/", headers={"Idempotency-Key": "abc-123"})) == "abc-123"
    assert idempotency_key(factory.post("/")) is None
    with pytest.raises(ActionRefused):
        idempotency_key(factory.post("/", headers={"Idempotency-Key": "x" * 256}))
