"""The webhook adapter end to end against a real HTTP server on 127.0.0.1 that verifies the
HMAC signature. Must show: redirects to 127.0.0.1, 10.0.0.1, 169.254.169.254 and [::1] are
refused and never fetched; direct refused URLs never open a connection."""

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings

from carepath.accounts.models import User
from carepath.core import clock
from carepath.pharmacy.actions import do_dispatch, do_retry_dispatch
from carepath.pharmacy.models import Dispatch, DispatchStatus, Pharmacy
from carepath.pharmacy.registry import register_status_listener
from carepath.pharmacy.tasks import run_delivery, run_due_deliveries
from tests.pharmacy.conftest import REDIRECTS, WebhookServer, medication_request


def dispatch_to(
    pharmacy: Pharmacy, patient: User, by: User, capture: Any, order_id: str = "101"
) -> Dispatch:
    with capture(execute=True):
        dispatch = do_dispatch(
            pharmacy=pharmacy,
            order_type="MedicationRequest",
            order_id=order_id,
            patient_id=patient.pk,
            document=medication_request(order_id, patient.pk),
            by=by,
        )
    dispatch.refresh_from_db()
    return dispatch


def test_webhook_delivers_signed_fhir_document(
    webhook_pharmacy: Callable[..., Pharmacy],
    webhook_server: WebhookServer,
    connections: list[Any],
    alice: User,
    dr_tex: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    heard: list[tuple[str, str]] = []
    register_status_listener("MedicationRequest", lambda order_id, s: heard.append((order_id, s)))
    dispatch = dispatch_to(webhook_pharmacy(), alice, dr_tex, django_capture_on_commit_callbacks)

    assert dispatch.status == DispatchStatus.SENT
    assert dispatch.attempts == 1
    assert heard == [("101", "sent")]
    [request] = webhook_server.received
    assert request.signature_ok
    assert request.headers["Content-Type"] == "application/fhir+json"
    assert request.headers["X-Carepath-Delivery"] == str(dispatch.delivery_id)
    assert request.headers["X-Carepath-Signature"].startswith("sha256=")
    assert request.headers["Host"] == webhook_server.host_port
    assert json.loads(request.body)["resourceType"] == "MedicationRequest"
    assert connections == [("127.0.0.1", webhook_server.port)]


def test_receiver_rejects_a_wrong_secret(
    webhook_pharmacy: Callable[..., Pharmacy],
    webhook_server: WebhookServer,
    alice: User,
    dr_tex: User,
    ada: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The receiver really checks the signature: a different secret gets 401, which is a
    permanent failure (a retry would be signed the same way)."""
    from carepath.pharmacy.actions import PharmacyData, do_update_pharmacy

    pharmacy = webhook_pharmacy()
    data = PharmacyData(**{f: getattr(pharmacy, f) for f in PharmacyData.__dataclass_fields__})
    do_update_pharmacy(ada, pharmacy.pk, data, webhook_secret="another-secret-of-enough-length-1")
    dispatch = dispatch_to(pharmacy, alice, dr_tex, django_capture_on_commit_callbacks)
    assert dispatch.status == DispatchStatus.FAILED
    assert "HTTP 401" in dispatch.last_error
    assert webhook_server.received[0].signature_ok is False


@pytest.mark.parametrize("path", sorted(REDIRECTS))
def test_redirects_to_internal_addresses_are_refused_not_followed(
    path: str,
    webhook_pharmacy: Callable[..., Pharmacy],
    webhook_server: WebhookServer,
    connections: list[Any],
    alice: User,
    dr_tex: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    dispatch = dispatch_to(
        webhook_pharmacy(path), alice, dr_tex, django_capture_on_commit_callbacks
    )
    location = REDIRECTS[path]
    assert dispatch.status == DispatchStatus.FAILED
    assert f"redirect to {location} refused" in dispatch.last_error
    assert "never followed" in dispatch.last_error
    assert dispatch.attempts == 1  # permanent: not retried
    # Exactly one request, to our server; the redirect target was never contacted.
    assert [r.path for r in webhook_server.received] == [path]
    assert connections == [("127.0.0.1", webhook_server.port)]
    history = list(dispatch.history.values_list("to_status", flat=True))
    assert history == ["queued", "failed"]


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://localhost/",
    ],
)
def test_refused_webhook_urls_never_connect(
    url: str,
    ada: User,
    alice: User,
    dr_tex: User,
    connections: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A pharmacy saved with a refused URL (as if the check at save time had been skipped,
    or DNS changed since) fails delivery before any socket is opened."""
    with override_settings(PHARMACY_WEBHOOK_ALLOW_HTTP=True):
        pharmacy = Pharmacy.objects.create(
            ncpdp_id="4899992",
            name="Bad Hook Pharmacy",
            address_line="2 Nowhere Road",
            city="Austin",
            state="TX",
            postal_code="78701",
            phone="512-555-0198",
            adapter="webhook",
            webhook_url=url,
        )
        from carepath.pharmacy.webhook_secrets import encrypt_webhook_secret

        pharmacy.webhook_secret_encrypted = encrypt_webhook_secret("x" * 32)
        pharmacy.save()
        dispatch = dispatch_to(pharmacy, alice, dr_tex, django_capture_on_commit_callbacks)
    assert dispatch.status == DispatchStatus.FAILED
    assert "Refused" in dispatch.last_error
    assert connections == []


def test_loopback_server_refused_when_not_allow_listed(
    webhook_pharmacy: Callable[..., Pharmacy],
    webhook_server: WebhookServer,
    connections: list[Any],
    alice: User,
    dr_tex: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pharmacy = webhook_pharmacy()
    with override_settings(PHARMACY_WEBHOOK_ALLOWED_HOSTS=[]):
        dispatch = dispatch_to(pharmacy, alice, dr_tex, django_capture_on_commit_callbacks)
    assert dispatch.status == DispatchStatus.FAILED
    assert "loopback" in dispatch.last_error
    assert webhook_server.received == []
    assert connections == []


def test_transient_failures_retry_with_backoff_then_give_up(
    webhook_pharmacy: Callable[..., Pharmacy],
    webhook_server: WebhookServer,
    alice: User,
    dr_tex: User,
    cody: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    clock.freeze(dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC))
    webhook_server.fail_with = [503, 503, 503, 503, 503, 503]
    with override_settings(
        PHARMACY_DISPATCH_MAX_ATTEMPTS=3,
        PHARMACY_DISPATCH_BACKOFF_SECONDS=30,
    ):
        dispatch = dispatch_to(
            webhook_pharmacy(), alice, dr_tex, django_capture_on_commit_callbacks
        )
        assert (dispatch.status, dispatch.attempts) == ("queued", 1)
        assert dispatch.next_attempt_at == clock.now() + dt.timedelta(seconds=30)
        assert "HTTP 503" in dispatch.last_error

        # Not due yet: the task is a no-op (idempotent), nothing is sent.
        assert run_delivery(dispatch.pk) == "skipped"
        assert len(webhook_server.received) == 1

        clock.advance(dt.timedelta(seconds=30))
        assert run_due_deliveries() == {"retrying": 1}
        dispatch.refresh_from_db()
        assert dispatch.next_attempt_at == clock.now() + dt.timedelta(seconds=60)  # doubled

        clock.advance(dt.timedelta(seconds=60))
        assert run_due_deliveries() == {"failed": 1}
        dispatch.refresh_from_db()
        assert (dispatch.status, dispatch.attempts) == ("failed", 3)
        assert "gave up after 3 attempts" in dispatch.history.last().detail  # type: ignore[union-attr]

        clock.advance(dt.timedelta(hours=1))
        assert run_due_deliveries() == {}  # bounded: nothing more happens on its own
        assert len(webhook_server.received) == 3
        assert {r.headers["X-Carepath-Delivery"] for r in webhook_server.received} == {
            str(dispatch.delivery_id)
        }

        # Staff retry starts a new round; the pharmacy is back up.
        webhook_server.fail_with = []
        with django_capture_on_commit_callbacks(execute=True):
            do_retry_dispatch(cody, dispatch.pk)
        dispatch.refresh_from_db()
        assert (dispatch.status, dispatch.attempts, dispatch.last_error) == ("sent", 1, "")


def test_a_second_task_run_never_delivers_twice(
    webhook_pharmacy: Callable[..., Pharmacy],
    webhook_server: WebhookServer,
    alice: User,
    dr_tex: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    dispatch = dispatch_to(webhook_pharmacy(), alice, dr_tex, django_capture_on_commit_callbacks)
    assert run_delivery(dispatch.pk) == "skipped"
    assert run_due_deliveries() == {}
    assert len(webhook_server.received) == 1


def test_a_leased_attempt_is_not_taken_by_a_second_worker(
    austin: Pharmacy, alice: User, dr_tex: User
) -> None:
    from carepath.pharmacy.actions import do_claim_delivery

    dispatch = do_dispatch(
        pharmacy=austin,
        order_type="MedicationRequest",
        order_id="lease-1",
        patient_id=alice.pk,
        document=medication_request("lease-1"),
        by=dr_tex,
    )  # on_commit not run: still queued, as if the worker were about to take it
    first = do_claim_delivery(dispatch.pk)
    assert first is not None
    assert do_claim_delivery(dispatch.pk) is None  # leased
    clock.freeze(clock.now() + dt.timedelta(minutes=10))
    second = do_claim_delivery(dispatch.pk)  # the lease lapsed (the worker died)
    assert second is not None
    assert second.attempt == 2
    from carepath.pharmacy.actions import do_record_delivered

    assert do_record_delivered(first, "late") is False  # the stale worker cannot overwrite
    assert do_record_delivered(second, "ok") is True
