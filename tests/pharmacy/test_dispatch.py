"""The outbox handoff: do_dispatch (idempotent), the pharmacy network collecting and
acknowledging with its token, pharmacies reporting with an HMAC signature, status rules,
listeners, and the staff dispatch view with retry."""

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.pharmacy import signing
from carepath.pharmacy.actions import do_dispatch, do_issue_network_client, do_revoke_network_client
from carepath.pharmacy.models import Dispatch, Pharmacy
from carepath.pharmacy.registry import register_status_listener
from tests.pharmacy.conftest import WEBHOOK_SECRET, WebhookServer, medication_request

STATUS_URL = "/api/v1/pharmacy/deliveries/{}/status"


def dispatch(
    pharmacy: Pharmacy, patient: User, by: User, capture: Any, order_id: str = "7"
) -> Dispatch:
    with capture(execute=True):
        made = do_dispatch(
            pharmacy=pharmacy,
            order_type="MedicationRequest",
            order_id=order_id,
            patient_id=patient.pk,
            document=medication_request(order_id, patient.pk),
            by=by,
        )
    made.refresh_from_db()
    return made


@pytest.fixture
def network_token(ada: User) -> str:
    _, token = do_issue_network_client(ada, "Pharmacy network (test)")
    return token


def network(token: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"PharmacyNetwork {token}"}


def report(client: Client, delivery_id: object, body: dict[str, Any], **headers: Any) -> Any:
    return client.post(
        STATUS_URL.format(delivery_id), json.dumps(body), content_type="application/json", **headers
    )


def signed(
    ncpdp_id: str, body: dict[str, Any], path: str, secret: str = WEBHOOK_SECRET
) -> tuple[str, dict[str, Any]]:
    raw = json.dumps(body)
    headers = signing.signed_headers(secret, raw.encode(), method="POST", path=path)
    return raw, {
        "HTTP_X_CAREPATH_PHARMACY": ncpdp_id,
        "HTTP_X_CAREPATH_TIMESTAMP": headers[signing.TIMESTAMP_HEADER],
        "HTTP_X_CAREPATH_SIGNATURE": headers[signing.SIGNATURE_HEADER],
    }


# --- do_dispatch ----------------------------------------------------------------------------------


def test_outbox_dispatch_is_published_and_idempotent(
    austin: Pharmacy, alice: User, dr_tex: User, django_capture_on_commit_callbacks: Any
) -> None:
    heard: list[tuple[str, str]] = []
    register_status_listener("MedicationRequest", lambda order_id, s: heard.append((order_id, s)))
    first = dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks)
    assert (first.status, first.adapter, first.attempts) == ("sent", "outbox", 1)
    assert first.sent_at is not None
    assert heard == [("7", "sent")]
    again = dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks)
    assert again.pk == first.pk
    assert Dispatch.objects.count() == 1
    assert heard == [("7", "sent")]  # nothing happened the second time
    assert list(first.history.values_list("to_status", flat=True)) == ["queued", "sent"]
    assert AuditEvent.objects.filter(action="dispatch.create", patient_id=alice.pk).count() == 1


def test_one_dispatch_per_order_is_enforced_by_the_database(
    austin: Pharmacy, alice: User, dr_tex: User, django_capture_on_commit_callbacks: Any
) -> None:
    first = dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks)
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispatch.objects.create(
            pharmacy=austin,
            adapter="outbox",
            order_type="MedicationRequest",
            order_id=first.order_id,
            patient=alice,
            document={},
            created_by=dr_tex,
        )


def test_dispatch_refusals(austin: Pharmacy, alice: User, dr_tex: User, ada: User) -> None:
    def attempt(**overrides: Any) -> None:
        arguments: dict[str, Any] = {
            "pharmacy": austin,
            "order_type": "MedicationRequest",
            "order_id": "9",
            "patient_id": alice.pk,
            "document": medication_request("9"),
            "by": dr_tex,
        }
        do_dispatch(**{**arguments, **overrides})

    with pytest.raises(ActionRefused, match="FHIR MedicationRequest"):
        attempt(document={"resourceType": "Patient"})
    with pytest.raises(ActionRefused) as refused:
        attempt(by=alice)
    assert refused.value.status == 403
    from carepath.pharmacy.actions import do_set_pharmacy_active

    do_set_pharmacy_active(ada, austin.pk, active=False)
    austin.refresh_from_db()
    with pytest.raises(ActionRefused, match="no longer in the directory"):
        attempt()
    assert not Dispatch.objects.exists()


def test_listener_failure_does_not_stop_others(
    austin: Pharmacy, alice: User, dr_tex: User, django_capture_on_commit_callbacks: Any
) -> None:
    heard: list[str] = []

    def broken(order_id: str, status: str) -> None:
        raise RuntimeError("listener bug")

    register_status_listener("MedicationRequest", broken)
    register_status_listener("MedicationRequest", lambda order_id, s: heard.append(s))
    dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks)
    assert heard == ["sent"]


# --- The pharmacy network -------------------------------------------------------------------------


def test_network_collects_acknowledges_and_reports_fill(
    austin: Pharmacy,
    alice: User,
    dr_tex: User,
    network_token: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    heard: list[tuple[str, str]] = []
    register_status_listener("MedicationRequest", lambda order_id, s: heard.append((order_id, s)))
    made = dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks)
    client = Client()

    feed = client.get("/api/v1/pharmacy/outbox", **network(network_token))
    assert feed.status_code == 200
    [item] = feed.json()["items"]
    assert item["delivery_id"] == str(made.delivery_id)
    assert item["pharmacy_ncpdp_id"] == "4400118"
    assert item["document"]["resourceType"] == "MedicationRequest"
    assert AuditEvent.objects.filter(action="dispatch.outbox.read", patient_id=alice.pk).exists()

    # Still in the feed until acknowledged (a crashed collector loses nothing).
    later = feed.json()["next_since"]
    assert (
        len(
            client.get(
                "/api/v1/pharmacy/outbox", {"since": later}, **network(network_token)
            ).json()["items"]
        )
        == 1
    )

    with django_capture_on_commit_callbacks(execute=True):
        received = report(
            client, made.delivery_id, {"status": "received"}, **network(network_token)
        )
    assert received.status_code == 200
    assert received.json() == {
        "delivery_id": str(made.delivery_id),
        "order_type": "MedicationRequest",
        "order_id": "7",
        "status": "received",
        "changed": True,
    }
    assert client.get("/api/v1/pharmacy/outbox", **network(network_token)).json()["items"] == []

    # Repeat: idempotent, no second history row, no second notification.
    with django_capture_on_commit_callbacks(execute=True):
        repeat = report(client, made.delivery_id, {"status": "received"}, **network(network_token))
    assert repeat.json()["changed"] is False

    with django_capture_on_commit_callbacks(execute=True):
        filled = report(client, made.delivery_id, {"status": "filled"}, **network(network_token))
    assert filled.json()["status"] == "filled"
    assert heard == [("7", "sent"), ("7", "received"), ("7", "filled")]
    made.refresh_from_db()
    assert made.filled_at is not None
    assert list(made.history.values_list("to_status", flat=True)) == [
        "queued",
        "sent",
        "received",
        "filled",
    ]

    # No going back from filled, and failed is refused too (audited).
    for status in ("received", "failed"):
        back = report(
            client, made.delivery_id, {"status": status, "reason": "x"}, **network(network_token)
        )
        assert back.status_code == 409
        assert back.json()["error"]["code"] == "already_filled"
    assert AuditEvent.objects.filter(action="dispatch.status", outcome="denied").count() == 2


def test_status_rules(
    austin: Pharmacy,
    alice: User,
    dr_tex: User,
    network_token: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    made = dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks)
    client = Client()
    headers = network(network_token)
    no_reason = report(client, made.delivery_id, {"status": "failed"}, **headers)
    assert no_reason.status_code == 422
    bogus = report(client, made.delivery_id, {"status": "sent"}, **headers)
    assert bogus.status_code == 422
    assert report(client, made.delivery_id, {"status": "filled"}, **headers).status_code == 200
    made.refresh_from_db()
    assert made.status == "filled"


def test_pharmacy_refusal_then_staff_retry(
    austin: Pharmacy,
    alice: User,
    dr_tex: User,
    cody: User,
    network_token: str,
    client_for: Callable[..., Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    made = dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks)
    refused = report(
        Client(),
        made.delivery_id,
        {"status": "failed", "reason": "Out of stock"},
        **network(network_token),
    )
    assert refused.json()["status"] == "failed"
    made.refresh_from_db()
    assert made.last_error == "Refused by the pharmacy: Out of stock"

    staff = client_for(cody)
    with django_capture_on_commit_callbacks(execute=True):
        retried = staff.post(f"/api/v1/pharmacy/dispatches/{made.pk}/retry")
    assert retried.status_code == 200
    assert retried.json()["status"] == "queued"  # delivery runs after the commit
    after = staff.get(f"/api/v1/pharmacy/dispatches/{made.pk}").json()
    assert after["status"] == "sent"  # outbox: published again at once
    assert [h["to_status"] for h in after["history"]] == [
        "queued",
        "sent",
        "failed",
        "queued",
        "sent",
    ]
    again = staff.post(f"/api/v1/pharmacy/dispatches/{made.pk}/retry")
    assert again.status_code == 409  # only failed dispatches


def test_network_token_is_required_valid_and_scoped(
    austin: Pharmacy,
    alice: User,
    dr_tex: User,
    ada: User,
    network_token: str,
    client_for: Callable[..., Client],
    webhook_pharmacy: Callable[..., Pharmacy],
    django_capture_on_commit_callbacks: Any,
) -> None:
    made = dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks)
    anonymous = Client()
    assert anonymous.get("/api/v1/pharmacy/outbox").status_code == 401
    bad = anonymous.get(
        "/api/v1/pharmacy/outbox", HTTP_AUTHORIZATION="PharmacyNetwork cpn_deadbeef_nope"
    )
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "invalid_network_token"
    # People cannot act as the network, whatever their role.
    for person in (alice, ada):
        assert client_for(person).get("/api/v1/pharmacy/outbox").status_code == 401
        assert report(client_for(person), made.delivery_id, {"status": "filled"}).status_code == 401

    # The network reports only on outbox dispatches, not on a webhook pharmacy's.
    hooked = dispatch(webhook_pharmacy(), alice, dr_tex, django_capture_on_commit_callbacks, "8")
    assert (
        report(
            anonymous, hooked.delivery_id, {"status": "filled"}, **network(network_token)
        ).status_code
        == 404
    )
    assert (
        report(anonymous, uuid.uuid4(), {"status": "filled"}, **network(network_token)).status_code
        == 404
    )

    client_row = do_revoke_network_client(ada, _client_id(network_token))
    assert client_row.revoked_at is not None
    assert anonymous.get("/api/v1/pharmacy/outbox", **network(network_token)).status_code == 401


def _client_id(token: str) -> int:
    from carepath.pharmacy.models import PharmacyNetworkClient

    return PharmacyNetworkClient.objects.get(prefix=token.split("_")[1]).pk


# --- A pharmacy reporting with its HMAC signature -------------------------------------------------


def test_signed_pharmacy_reports_its_own_dispatch(
    webhook_pharmacy: Callable[..., Pharmacy],
    webhook_server: WebhookServer,
    pharmacies: dict[str, Pharmacy],
    alice: User,
    dr_tex: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pharmacy = webhook_pharmacy()
    made = dispatch(pharmacy, alice, dr_tex, django_capture_on_commit_callbacks)
    assert made.status == "sent"
    client = Client()
    url = STATUS_URL.format(made.delivery_id)

    raw, headers = signed(pharmacy.ncpdp_id, {"status": "received"}, url)
    ok = client.post(url, raw, content_type="application/json", **headers)
    assert ok.status_code == 200
    assert ok.json()["status"] == "received"

    # Tampered body, wrong secret, stale timestamp, another pharmacy: all 401 and audited.
    raw, headers = signed(pharmacy.ncpdp_id, {"status": "received"}, url)
    tampered = client.post(
        url, raw.replace("received", "filled"), content_type="application/json", **headers
    )
    assert tampered.status_code == 401
    raw, headers = signed(
        pharmacy.ncpdp_id, {"status": "filled"}, url, secret="not-the-secret-at-all-xxxxxx"
    )
    assert client.post(url, raw, content_type="application/json", **headers).status_code == 401
    raw, headers = signed(pharmacy.ncpdp_id, {"status": "filled"}, url)
    clock.freeze(clock.now() + dt.timedelta(minutes=6))
    assert client.post(url, raw, content_type="application/json", **headers).status_code == 401
    clock.unfreeze()
    raw, headers = signed("4400118", {"status": "filled"}, url)  # Bluebonnet has no secret
    assert client.post(url, raw, content_type="application/json", **headers).status_code == 401
    assert AuditEvent.objects.filter(action="pharmacy.auth", outcome="denied").count() == 4

    made.refresh_from_db()
    assert made.status == "received"


def test_signed_pharmacy_cannot_touch_another_pharmacys_dispatch(
    webhook_pharmacy: Callable[..., Pharmacy],
    webhook_server: WebhookServer,
    austin: Pharmacy,
    alice: User,
    dr_tex: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pharmacy = webhook_pharmacy()
    other = dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks, "99")
    url = STATUS_URL.format(other.delivery_id)
    raw, headers = signed(pharmacy.ncpdp_id, {"status": "filled"}, url)
    response = Client().post(url, raw, content_type="application/json", **headers)
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == "sent"


# --- Staff view -----------------------------------------------------------------------------------


def test_dispatch_view_for_admins_and_coordinators_only(
    austin: Pharmacy,
    alice: User,
    bob: User,
    dr_tex: User,
    faye: User,
    cody: User,
    ada: User,
    client_for: Callable[..., Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    made = dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks)
    for user in (ada, cody):
        client = client_for(user)
        listing = client.get("/api/v1/pharmacy/dispatches", {"status": "sent"})
        assert [d["id"] for d in listing.json()] == [made.pk]
        assert "document" not in listing.json()[0]
        detail = client.get(f"/api/v1/pharmacy/dispatches/{made.pk}").json()
        assert [h["to_status"] for h in detail["history"]] == ["queued", "sent"]
        page = client.get(f"/pharmacy/dispatches/{made.pk}/")
        assert page.status_code == 200
        assert "Bluebonnet Pharmacy" in page.content.decode()
        assert "Retry delivery" not in page.content.decode()  # only for failed ones
        assert client.get("/pharmacy/dispatches/?status=sent").status_code == 200
    assert (
        client_for(cody).get("/api/v1/pharmacy/dispatches", {"status": "nope"}).status_code == 422
    )
    for user in (alice, bob, dr_tex, faye):
        client = client_for(user)
        assert client.get("/api/v1/pharmacy/dispatches").status_code == 403
        assert client.get(f"/api/v1/pharmacy/dispatches/{made.pk}").status_code == 403
        assert client.post(f"/api/v1/pharmacy/dispatches/{made.pk}/retry").status_code == 403
        assert client.get(f"/pharmacy/dispatches/{made.pk}/").status_code == 403
    assert AuditEvent.objects.filter(action="dispatch.read", actor_id=cody.pk).exists()


def test_retry_page_for_a_failed_dispatch(
    webhook_pharmacy: Callable[..., Pharmacy],
    webhook_server: WebhookServer,
    alice: User,
    dr_tex: User,
    cody: User,
    client_for: Callable[..., Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    made = dispatch(
        webhook_pharmacy("/redirect/metadata"), alice, dr_tex, django_capture_on_commit_callbacks
    )
    client = client_for(cody)
    page = client.get(f"/pharmacy/dispatches/{made.pk}/").content.decode()
    assert "Retry delivery" in page
    assert "169.254.169.254" in page  # the refused redirect is named
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/pharmacy/dispatches/{made.pk}/retry/")
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.status == "failed"  # the gateway still redirects: failed again, not followed
    assert made.history.filter(source="staff").count() == 1
