"""The pharmacy directory: the seed, search (page + API), and admin maintenance with a
write-only, encrypted webhook secret. Only admins maintain it."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client, override_settings

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.core.errors import ActionRefused
from carepath.pharmacy.actions import PharmacyData, do_create_pharmacy
from carepath.pharmacy.models import Pharmacy
from carepath.pharmacy.seed import STARTER_PHARMACIES, seed_pharmacies
from carepath.pharmacy.selectors import pharmacies_for
from carepath.pharmacy.validators import validate_ncpdp_id
from carepath.pharmacy.webhook_secrets import webhook_secret_of

SECRET = "a-very-long-webhook-secret-1234567890"


def pharmacy_body(**overrides: Any) -> dict[str, Any]:
    return {
        "ncpdp_id": "4811111",
        "name": "Mesquite Pharmacy",
        "address_line": "5 Mesquite Road",
        "city": "El Paso",
        "state": "TX",
        "postal_code": "79901",
        "phone": "915-555-0111",
        **overrides,
    }


def post_json(
    client: Client, url: str, body: dict[str, Any], method: str = "post", **extra: Any
) -> Any:
    send = getattr(client, method)
    return send(url, json.dumps(body), content_type="application/json", **extra)


# --- The seed -------------------------------------------------------------------------------------


def test_seed_is_idempotent_and_covers_the_states(clinic: None) -> None:
    first = seed_pharmacies()
    second = seed_pharmacies()
    assert [p.pk for p in first] == [p.pk for p in second]
    assert Pharmacy.objects.count() == len(STARTER_PHARMACIES) >= 12
    states = set(Pharmacy.objects.filter(mail_order=False).values_list("state", flat=True))
    assert {"TX", "NY", "CA", "FL"} <= states
    assert Pharmacy.objects.filter(mail_order=True).count() == 1
    for pharmacy in Pharmacy.objects.all():
        validate_ncpdp_id(pharmacy.ncpdp_id)
        pharmacy.full_clean()
        assert "555-01" in pharmacy.phone  # fictional numbers only


def test_seed_keeps_admin_edits(clinic: None) -> None:
    seed_pharmacies()
    Pharmacy.objects.filter(ncpdp_id="4400118").update(phone="512-555-0000")
    seed_pharmacies()
    assert Pharmacy.objects.get(ncpdp_id="4400118").phone == "512-555-0000"


@pytest.mark.parametrize("bad", ["123456", "12345678", "12a4567", "0000000", "", " 1234567"])
def test_ncpdp_id_must_be_seven_digits(bad: str) -> None:
    with pytest.raises(ValidationError):
        validate_ncpdp_id(bad)


def test_ncpdp_id_shape_is_enforced_by_the_database(clinic: None) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Pharmacy.objects.create(
            ncpdp_id="12ab567",
            name="X",
            address_line="x",
            city="x",
            state="TX",
            postal_code="78701",
            phone="x",
        )


# --- Search ---------------------------------------------------------------------------------------


def test_pharmacies_for_state_includes_mail_order(pharmacies: dict[str, Pharmacy]) -> None:
    texas = list(pharmacies_for("TX"))
    assert {p.state for p in texas if not p.mail_order} == {"TX"}
    assert any(p.mail_order for p in texas)
    assert texas[-1].mail_order  # local pharmacies first
    assert [p.name for p in pharmacies_for("TX", "austin")] == [
        "Bluebonnet Pharmacy",
        "Pecan Street Apothecary",
    ]
    assert [p.name for p in pharmacies_for("NY", "11201")] == ["Empire Park Drugs"]


def test_search_api(
    pharmacies: dict[str, Pharmacy], alice: User, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    by_city = client.get("/api/v1/pharmacy/pharmacies", {"state": "CA", "city": "san francisco"})
    assert [p["name"] for p in by_city.json()] == ["Bayview Apothecary", "Northstar Mail Pharmacy"]
    by_zip = client.get("/api/v1/pharmacy/pharmacies", {"zip": "331"})
    assert [p["name"] for p in by_zip.json()] == ["Coral Reef Pharmacy"]
    by_name = client_for(dr_tex).get("/api/v1/pharmacy/pharmacies", {"name": "drug"})
    assert {p["name"] for p in by_name.json()} == {
        "Live Oak Drug",
        "Empire Park Drugs",
        "Sierra Vista Drug",
        "Gulf Breeze Drugs",
    }
    one = client.get(f"/api/v1/pharmacy/pharmacies/{pharmacies['1000112'].pk}").json()
    assert one["ncpdp_id"] == "1000112"
    assert "adapter" not in one
    assert "webhook_url" not in one
    assert Client().get("/api/v1/pharmacy/pharmacies").status_code == 401


def test_search_page(
    pharmacies: dict[str, Pharmacy], alice: User, faye: User, client_for: Callable[..., Client]
) -> None:
    page = client_for(alice).get("/pharmacy/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "Bluebonnet Pharmacy" in text  # defaults to the patient's state (TX)
    assert "Hudson Corner Pharmacy" not in text
    staff_page = client_for(faye).get("/pharmacy/", {"state": "NY"}).content.decode()
    assert "Hudson Corner Pharmacy" in staff_page
    assert "Choose this pharmacy" not in staff_page
    assert Client().get("/pharmacy/").status_code == 302


def test_inactive_pharmacies_leave_search(
    pharmacies: dict[str, Pharmacy], alice: User, ada: User, client_for: Callable[..., Client]
) -> None:
    gone = pharmacies["4400142"]
    response = client_for(ada).post(f"/api/v1/pharmacy/admin/pharmacies/{gone.pk}/deactivate")
    assert response.json()["active"] is False
    names = [
        p["name"]
        for p in client_for(alice).get("/api/v1/pharmacy/pharmacies", {"state": "TX"}).json()
    ]
    assert "Trinity River Pharmacy" not in names
    assert client_for(alice).get(f"/api/v1/pharmacy/pharmacies/{gone.pk}").status_code == 404
    assert client_for(ada).get(f"/api/v1/pharmacy/admin/pharmacies/{gone.pk}").status_code == 200
    assert (
        client_for(ada)
        .post(f"/api/v1/pharmacy/admin/pharmacies/{gone.pk}/activate")
        .json()["active"]
    )


# --- Administration (API) -------------------------------------------------------------------------


def test_admin_creates_a_webhook_pharmacy_with_a_write_only_secret(
    clinic: None, ada: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(ada)
    body = pharmacy_body(
        adapter="webhook",
        webhook_url="https://rx.mesquite.example/hooks/carepath",
        webhook_secret=SECRET,
    )
    created = post_json(
        client, "/api/v1/pharmacy/admin/pharmacies", body, HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert created.status_code == 201
    out = created.json()
    assert out["webhook_secret_set"] is True
    assert SECRET not in created.content.decode()
    pharmacy = Pharmacy.objects.get(pk=out["id"])
    assert SECRET not in pharmacy.webhook_secret_encrypted  # encrypted at rest
    assert webhook_secret_of(pharmacy) == SECRET

    replay = post_json(
        client, "/api/v1/pharmacy/admin/pharmacies", body, HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert replay.status_code == 201
    assert replay.json()["id"] == out["id"]
    assert Pharmacy.objects.filter(ncpdp_id="4811111").count() == 1

    # Editing without a secret keeps it; the admin views never show it.
    edited = post_json(
        client,
        f"/api/v1/pharmacy/admin/pharmacies/{pharmacy.pk}",
        {**body, "webhook_secret": None, "phone": "915-555-0112"},
        method="put",
    )
    assert edited.status_code == 200
    assert edited.json()["phone"] == "915-555-0112"
    pharmacy.refresh_from_db()
    assert webhook_secret_of(pharmacy) == SECRET
    for url in (
        "/api/v1/pharmacy/admin/pharmacies",
        f"/pharmacy/admin/{pharmacy.pk}/",
        "/pharmacy/admin/",
    ):
        assert SECRET not in client.get(url).content.decode()
    audit = AuditEvent.objects.filter(action__startswith="pharmacy.").values_list(
        "detail", flat=True
    )
    assert all(SECRET not in json.dumps(detail) for detail in audit)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ncpdp_id": "12345"}, "ncpdp_id"),
        ({"postal_code": "7870"}, "postal_code"),
        ({"state": "ZZ"}, "state"),
        ({"adapter": "webhook"}, "webhook_url"),
        ({"adapter": "webhook", "webhook_url": "https://rx.example/h"}, "webhook_secret"),
        (
            {
                "adapter": "webhook",
                "webhook_url": "https://rx.example/h",
                "webhook_secret": "short",
            },
            "webhook_secret",
        ),
        (
            {"adapter": "webhook", "webhook_url": "https://10.0.0.1/h", "webhook_secret": SECRET},
            "webhook_url",
        ),
        (
            {
                "adapter": "webhook",
                "webhook_url": "https://169.254.169.254/",
                "webhook_secret": SECRET,
            },
            "webhook_url",
        ),
        (
            {"adapter": "webhook", "webhook_url": "https://[::1]/", "webhook_secret": SECRET},
            "webhook_url",
        ),
        (
            {"adapter": "webhook", "webhook_url": "http://rx.example/h", "webhook_secret": SECRET},
            "webhook_url",
        ),
        (
            {
                "adapter": "webhook",
                "webhook_url": "https://u:p@rx.example/h",
                "webhook_secret": SECRET,
            },
            "webhook_url",
        ),
    ],
)
def test_admin_create_refusals(
    overrides: dict[str, Any],
    field: str,
    clinic: None,
    ada: User,
    client_for: Callable[..., Client],
) -> None:
    response = post_json(
        client_for(ada), "/api/v1/pharmacy/admin/pharmacies", pharmacy_body(**overrides)
    )
    assert response.status_code == 422, response.content
    assert response.json()["error"]["fields"][0]["field"] == field
    assert not Pharmacy.objects.filter(ncpdp_id=pharmacy_body(**overrides)["ncpdp_id"]).exists()


def test_duplicate_ncpdp_id_refused(
    pharmacies: dict[str, Pharmacy], ada: User, client_for: Callable[..., Client]
) -> None:
    response = post_json(
        client_for(ada), "/api/v1/pharmacy/admin/pharmacies", pharmacy_body(ncpdp_id="4400118")
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_ncpdp_id"


def test_http_webhook_needs_the_explicit_setting(clinic: None, ada: User) -> None:
    data = PharmacyData(
        **{**pharmacy_body(), "adapter": "webhook", "webhook_url": "http://rx.example/h"}
    )
    with pytest.raises(ActionRefused, match="https"):
        do_create_pharmacy(ada, data, webhook_secret=SECRET)
    with override_settings(PHARMACY_WEBHOOK_ALLOW_HTTP=True):
        assert (
            do_create_pharmacy(ada, data, webhook_secret=SECRET).webhook_url
            == "http://rx.example/h"
        )


def test_only_admins_maintain_the_directory(
    pharmacies: dict[str, Pharmacy],
    alice: User,
    dr_tex: User,
    faye: User,
    cody: User,
    client_for: Callable[..., Client],
) -> None:
    target = pharmacies["4400118"]
    for user in (alice, dr_tex, faye, cody):
        client = client_for(user)
        assert (
            post_json(client, "/api/v1/pharmacy/admin/pharmacies", pharmacy_body()).status_code
            == 403
        )
        assert (
            post_json(
                client,
                f"/api/v1/pharmacy/admin/pharmacies/{target.pk}",
                pharmacy_body(),
                method="put",
            ).status_code
            == 403
        )
        assert (
            client.post(f"/api/v1/pharmacy/admin/pharmacies/{target.pk}/deactivate").status_code
            == 403
        )
        assert client.get("/pharmacy/admin/").status_code == 403
        assert (
            client.post(f"/pharmacy/admin/{target.pk}/active/", {"active": "0"}).status_code == 403
        )
        assert client.get("/pharmacy/admin/network/").status_code == 403
    assert Pharmacy.objects.filter(active=True).count() == len(pharmacies)
    assert not Pharmacy.objects.filter(ncpdp_id="4811111").exists()
    with pytest.raises(ActionRefused):
        do_create_pharmacy(cody, PharmacyData(**pharmacy_body()))


# --- Administration (pages) -----------------------------------------------------------------------


def test_admin_pages_add_edit_and_deactivate(
    pharmacies: dict[str, Pharmacy], ada: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(ada)
    assert "Bluebonnet Pharmacy" in client.get("/pharmacy/admin/").content.decode()
    form = {**pharmacy_body(), "adapter": "outbox", "accepts_controlled": "on", "active": "on"}
    bad = client.post("/pharmacy/admin/new/", {**form, "ncpdp_id": "12"})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "exactly 7 digits" in text
    assert 'value="Mesquite Pharmacy"' in text
    refused = client.post(
        "/pharmacy/admin/new/",
        {
            **form,
            "adapter": "webhook",
            "webhook_url": "https://10.0.0.1/",
            "webhook_secret": SECRET,
        },
    )
    assert "private address" in refused.content.decode()
    assert SECRET not in refused.content.decode()  # not even echoed back in a failed form
    assert client.post("/pharmacy/admin/new/", form).status_code == 302
    created = Pharmacy.objects.get(ncpdp_id="4811111")

    edit = client.get(f"/pharmacy/admin/{created.pk}/")
    assert 'value="5 Mesquite Road"' in edit.content.decode()
    with_secret = client.post(
        f"/pharmacy/admin/{created.pk}/",
        {
            **form,
            "adapter": "webhook",
            "webhook_url": "https://rx.mesquite.example/h",
            "webhook_secret": SECRET,
        },
    )
    assert with_secret.status_code == 302
    created.refresh_from_db()
    assert created.adapter == "webhook"
    assert webhook_secret_of(created) == SECRET
    page = client.get(f"/pharmacy/admin/{created.pk}/").content.decode()
    assert "A secret is set" in page
    assert SECRET not in page

    assert client.post(f"/pharmacy/admin/{created.pk}/active/", {"active": "0"}).status_code == 302
    created.refresh_from_db()
    assert created.active is False
    assert client.get("/pharmacy/admin/987654/").status_code == 404


def test_network_credentials_page_shows_the_token_once(
    clinic: None, ada: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(ada)
    issued = client.post("/pharmacy/admin/network/", {"name": "Collector"})
    text = issued.content.decode()
    assert issued["Cache-Control"] == "no-store"
    token = text.split("data-network-token")[0].rsplit('value="', 1)[1].split('"', 1)[0]
    assert token.startswith("cpn_")
    again = client.get("/pharmacy/admin/network/").content.decode()
    assert token not in again
    assert "Collector" in again
    assert (
        Client()
        .get("/api/v1/pharmacy/outbox", HTTP_AUTHORIZATION=f"PharmacyNetwork {token}")
        .status_code
        == 200
    )
    from carepath.pharmacy.models import PharmacyNetworkClient

    row = PharmacyNetworkClient.objects.get()
    assert token.split("_", 2)[2] not in row.secret_hash
    assert client.post(f"/pharmacy/admin/network/{row.pk}/revoke/").status_code == 302
    assert (
        Client()
        .get("/api/v1/pharmacy/outbox", HTTP_AUTHORIZATION=f"PharmacyNetwork {token}")
        .status_code
        == 401
    )
