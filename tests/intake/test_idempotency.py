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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_with_one_key_make_one_row(alice: User) -> None:
    """The second request waits on the first one's key and replays its answer."""
    import threading
    import time

    from django.db import connection

    from carepath.notifications.models import Notification

    results: list[tuple[int, object]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def create() -> tuple[int, dict[str, int]]:
        notice = Notification.objects.create(user=alice, kind="test", title="once")
        time.sleep(0.3)  # hold the key while the others arrive
        return 201, {"id": notice.pk}

    def call() -> None:
        try:
            start.wait()
            results.append(idempotent(alice, "same", "thing.create", {"a": 1}, create))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert Notification.objects.filter(kind="test").count() == 1
    assert len({str(result) for result in results}) == 1
