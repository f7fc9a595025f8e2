"""Fixes from the security review of the pharmacy app: cancelling a dispatch (outbox and
webhook), the audited dispatch list, signatures bound to method and path and used once,
disguised loopback webhook URLs refused on save, and NUL characters refused."""

import json
import socket
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.core.errors import ActionRefused
from carepath.pharmacy import signing
from carepath.pharmacy.actions import (
    PharmacyData,
    do_cancel_dispatch,
    do_create_pharmacy,
    do_dispatch,
    do_issue_network_client,
)
from carepath.pharmacy.models import Dispatch, Pharmacy
from carepath.pharmacy.registry import register_status_listener
from tests.pharmacy.conftest import WEBHOOK_SECRET, WebhookServer, medication_request

pytestmark = pytest.mark.django_db

STATUS_URL = "/api/v1/pharmacy/deliveries/{}/status"


def dispatch(
    pharmacy: Pharmacy, patient: User, by: User, capture: Any, order_id: str = "31"
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


def cancel(order_id: str, by: User, capture: Any, reason: str = "Wrong drug.") -> Dispatch | None:
    with capture(execute=True):
        return do_cancel_dispatch(
            order_type="MedicationRequest", order_id=order_id, reason=reason, by=by
        )


# --- 4. Cancelling a dispatch -------------------------------------------------------------------


def test_a_webhook_pharmacy_is_sent_the_signed_cancelled_document(
    webhook_pharmacy: Callable[..., Pharmacy],
    webhook_server: WebhookServer,
    connections: list[Any],
    alice: User,
    dr_tex: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    heard: list[tuple[str, str]] = []
    register_status_listener("MedicationRequest", lambda order_id, s: heard.append((order_id, s)))
    made = dispatch(webhook_pharmacy(), alice, dr_tex, django_capture_on_commit_callbacks)
    assert made.status == "sent"
    cancel("31", dr_tex, django_capture_on_commit_callbacks)
    made.refresh_from_db()
    assert made.status == "cancelled"
    assert made.cancel_acknowledged_at is not None  # the webhook answered 2xx
    assert heard == [("31", "sent"), ("31", "cancelled")]
    first, withdrawal = webhook_server.received
    assert withdrawal.signature_ok
    assert withdrawal.headers["X-Carepath-Delivery"] == str(made.delivery_id)
    document = json.loads(withdrawal.body)
    assert document["status"] == "cancelled"
    assert document["statusReason"] == {"text": "Wrong drug."}
    assert json.loads(first.body)["status"] == "active"
    assert all(address == ("127.0.0.1", webhook_server.port) for address in connections)
    # Again: nothing more happens.
    assert cancel("31", dr_tex, django_capture_on_commit_callbacks) is not None
    assert len(webhook_server.received) == 2


def test_a_filled_dispatch_cannot_be_cancelled(
    austin: Pharmacy, alice: User, dr_tex: User, django_capture_on_commit_callbacks: Any
) -> None:
    made = dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks)
    Dispatch.objects.filter(pk=made.pk).update(status="filled", filled_at=made.sent_at)
    with pytest.raises(ActionRefused) as refused:
        cancel("31", dr_tex, django_capture_on_commit_callbacks)
    assert refused.value.code == "already_filled"
    assert "already filled" in refused.value.message
    assert Dispatch.objects.get(pk=made.pk).status == "filled"


def test_an_order_that_never_left_is_cancelled_without_a_notice(
    austin: Pharmacy, alice: User, dr_tex: User, ada: User
) -> None:
    made = do_dispatch(
        pharmacy=austin,
        order_type="MedicationRequest",
        order_id="32",
        patient_id=alice.pk,
        document=medication_request("32", alice.pk),
        by=dr_tex,
    )  # the delivery task never ran (no commit)
    cancelled = do_cancel_dispatch(
        order_type="MedicationRequest", order_id="32", reason="Oops", by=dr_tex
    )
    assert cancelled is not None
    assert cancelled.pk == made.pk
    assert cancelled.status == "cancelled"
    assert cancelled.cancel_acknowledged_at is not None
    _, token = do_issue_network_client(ada, "Network")
    feed = Client().get("/api/v1/pharmacy/outbox", HTTP_AUTHORIZATION=f"PharmacyNetwork {token}")
    assert feed.json()["items"] == []
    assert (
        do_cancel_dispatch(order_type="MedicationRequest", order_id="nope", reason="x", by=dr_tex)
        is None
    )


def test_only_care_staff_cancel(
    austin: Pharmacy, alice: User, dr_tex: User, django_capture_on_commit_callbacks: Any
) -> None:
    dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks)
    with pytest.raises(ActionRefused) as refused:
        cancel("31", alice, django_capture_on_commit_callbacks)
    assert refused.value.status == 403


# --- 7. The dispatch list is an audited read ----------------------------------------------------


def test_dispatch_list_is_audited_once_and_shows_no_patient(
    austin: Pharmacy,
    alice: User,
    dr_tex: User,
    cody: User,
    client_for: Callable[..., Client],
    django_capture_on_commit_callbacks: Any,
) -> None:
    made = dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks)
    dispatch(austin, alice, dr_tex, django_capture_on_commit_callbacks, "33")
    client = client_for(cody)
    listing = client.get("/api/v1/pharmacy/dispatches", {"status": "sent"})
    assert len(listing.json()) == 2
    assert all("patient_id" not in item for item in listing.json())
    [event] = AuditEvent.objects.filter(action="dispatch.list", actor_id=cody.pk)
    assert event.detail["count"] == 2
    assert event.detail["status"] == "sent"
    assert client.get("/pharmacy/dispatches/").status_code == 200
    assert AuditEvent.objects.filter(action="dispatch.list", actor_id=cody.pk).count() == 2
    detail = client.get(f"/api/v1/pharmacy/dispatches/{made.pk}").json()
    assert detail["patient_id"] == alice.pk  # the audited detail read names the patient


# --- 8. Inbound signatures: bound to method and path, used once ---------------------------------


def signed_headers(body: str, path: str) -> dict[str, Any]:
    headers = signing.signed_headers(WEBHOOK_SECRET, body.encode(), method="POST", path=path)
    return {
        "HTTP_X_CAREPATH_PHARMACY": "4899991",
        "HTTP_X_CAREPATH_TIMESTAMP": headers[signing.TIMESTAMP_HEADER],
        "HTTP_X_CAREPATH_SIGNATURE": headers[signing.SIGNATURE_HEADER],
    }


def test_a_signature_works_once_and_only_on_its_own_delivery(
    webhook_pharmacy: Callable[..., Pharmacy],
    webhook_server: WebhookServer,
    alice: User,
    dr_tex: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    pharmacy = webhook_pharmacy()
    one = dispatch(pharmacy, alice, dr_tex, django_capture_on_commit_callbacks, "41")
    two = dispatch(pharmacy, alice, dr_tex, django_capture_on_commit_callbacks, "42")
    client = Client()
    body = json.dumps({"status": "received"})
    url_one, url_two = STATUS_URL.format(one.delivery_id), STATUS_URL.format(two.delivery_id)
    headers = signed_headers(body, url_one)
    # A captured report for delivery one, replayed against delivery two: refused.
    moved = client.post(url_two, body, content_type="application/json", **headers)
    assert moved.status_code == 401
    ok = client.post(url_one, body, content_type="application/json", **headers)
    assert ok.status_code == 200
    again = client.post(url_one, body, content_type="application/json", **headers)
    assert again.status_code == 401
    assert Dispatch.objects.get(pk=two.pk).status == "sent"


# --- 11. Disguised loopback webhook URLs are refused on save ------------------------------------


def webhook_data(url: str, ncpdp_id: str = "4899981") -> PharmacyData:
    return PharmacyData(
        ncpdp_id=ncpdp_id,
        name="Gateway",
        address_line="1 Road",
        city="Austin",
        state="TX",
        postal_code="78701",
        phone="512-555-0100",
        adapter="webhook",
        webhook_url=url,
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://2130706433/hook",
        "https://0x7f.1/hook",
        "https://127.1/hook",
        "https://0177.0.0.1/hook",
        "https://localhost./hook",
        "https://api.localhost/hook",
        "https://10.1/hook",
    ],
)
def test_disguised_internal_hosts_are_field_errors(
    pharmacies: dict[str, Pharmacy], ada: User, url: str
) -> None:
    with pytest.raises(ActionRefused) as refused:
        do_create_pharmacy(ada, webhook_data(url), webhook_secret=WEBHOOK_SECRET)
    assert (refused.value.code, refused.value.field) == ("webhook_url_refused", "webhook_url")


def test_a_name_resolving_inside_is_refused_and_an_unknown_name_accepted(
    pharmacies: dict[str, Pharmacy], ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "rx.internal.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(ActionRefused) as refused:
        do_create_pharmacy(
            ada, webhook_data("https://rx.internal.example/h"), webhook_secret=WEBHOOK_SECRET
        )
    assert refused.value.field == "webhook_url"
    assert "10.0.0.7" in refused.value.message
    saved = do_create_pharmacy(
        ada, webhook_data("https://rx.later.example/h"), webhook_secret=WEBHOOK_SECRET
    )
    assert saved.webhook_url == "https://rx.later.example/h"


def test_the_admin_form_shows_the_refusal_beside_the_field(
    pharmacies: dict[str, Pharmacy], ada: User, client_for: Callable[..., Client]
) -> None:
    page = client_for(ada).post(
        "/pharmacy/admin/new/",
        {
            "ncpdp_id": "4899971",
            "name": "Gateway",
            "address_line": "1 Road",
            "city": "Austin",
            "state": "TX",
            "postal_code": "78701",
            "phone": "512-555-0100",
            "adapter": "webhook",
            "webhook_url": "https://2130706433/",
            "webhook_secret": WEBHOOK_SECRET,
            "active": "on",
        },
    )
    assert page.status_code == 400
    assert "a loopback address" in page.content.decode()
    assert not Pharmacy.objects.filter(ncpdp_id="4899971").exists()


# --- 3. NUL characters --------------------------------------------------------------------------


def test_nul_characters_are_refused_not_500s(
    pharmacies: dict[str, Pharmacy],
    ada: User,
    alice: User,
    client_for: Callable[..., Client],
) -> None:
    client = client_for(alice)
    for params in ({"q": "austin\x00"}, {"state": "T\x00"}, {"city": "\x00"}):
        response = client.get("/api/v1/pharmacy/pharmacies", params)
        assert 400 <= response.status_code < 500, params
    with pytest.raises(ActionRefused) as refused:
        do_create_pharmacy(
            ada,
            PharmacyData(
                ncpdp_id="4899961",
                name="Bad\x00Name",
                address_line="1 Road",
                city="Austin",
                state="TX",
                postal_code="78701",
                phone="512-555-0100",
            ),
        )
    assert (refused.value.code, refused.value.field) == ("invalid_character", "name")
    with pytest.raises(ActionRefused) as refused:
        do_issue_network_client(ada, "net\x00")
    assert refused.value.field == "name"
