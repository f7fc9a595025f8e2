from collections.abc import Callable

from django.test import Client

from carepath.accounts.actions import do_change_role, do_create_api_token
from carepath.accounts.models import ApiToken, User
from carepath.audit.models import AuditEvent

ClientFor = Callable[..., Client]


def bearer(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_issue_use_list_and_revoke_a_token(client_for: ClientFor, alice: User) -> None:
    session = client_for(alice)
    issued = session.post("/api/v1/tokens", {"name": "my phone"}, content_type="application/json")
    assert issued.status_code == 201
    raw = issued.json()["token"]
    assert raw.startswith("cp_")

    token = ApiToken.objects.get(pk=issued.json()["id"])
    assert raw.split("_", 2)[2] not in token.secret_hash  # only a hash is stored

    api = bearer(raw)
    assert api.get("/api/v1/me").json()["email"] == alice.email
    listed = session.get("/api/v1/tokens").json()
    assert listed[0]["last_used_at"] is not None

    assert session.post(f"/api/v1/tokens/{token.pk}/revoke").status_code == 200
    refused = api.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_token"
    assert AuditEvent.objects.filter(action="api_token.revoke").exists()


def test_a_bad_token_never_falls_back_to_the_session(client_for: ClientFor, alice: User) -> None:
    client = client_for(alice)
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer cp_deadbeef_nope")
    assert response.status_code == 401


def test_token_stops_when_the_role_changes(clinic: None, ada: User, cody: User) -> None:
    raw = do_create_api_token(cody, "script").raw
    assert bearer(raw).get("/api/v1/me").status_code == 200
    do_change_role(ada, cody, "clinician")
    assert bearer(raw).get("/api/v1/me").status_code == 401


def test_tokens_cannot_mint_tokens(alice: User) -> None:
    raw = do_create_api_token(alice, "script").raw
    response = bearer(raw).post("/api/v1/tokens", {"name": "x"}, content_type="application/json")
    assert response.status_code == 403


def test_cannot_revoke_someone_elses_token(client_for: ClientFor, alice: User, bob: User) -> None:
    token = do_create_api_token(bob, "bob's").token
    assert client_for(alice).post(f"/api/v1/tokens/{token.pk}/revoke").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_staff_token_reaches_data_without_a_session_mfa_step(
    client_for: ClientFor, alice: User, dr_tex: User
) -> None:
    from carepath.access.actions import do_add_care_relationship

    do_add_care_relationship(dr_tex, alice.pk)
    raw = do_create_api_token(dr_tex, "ehr sync").raw
    assert bearer(raw).get(f"/api/v1/patients/{alice.pk}").status_code == 200


def test_tokens_page_shows_the_token_once(client_for: ClientFor, alice: User) -> None:
    client = client_for(alice)
    created = client.post("/account/tokens/", {"name": "laptop"})
    assert created.status_code == 200
    token = ApiToken.objects.get(user=alice)
    assert b"cp_" + token.prefix.encode() in created.content
    assert b"data-issued-token" not in client.get("/account/tokens/").content
    client.post("/account/tokens/", {"revoke": "not-a-number"})
    client.post("/account/tokens/", {"revoke": str(token.pk)})
    token.refresh_from_db()
    assert token.revoked_at is not None
