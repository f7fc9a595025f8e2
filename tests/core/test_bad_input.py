"""Bad input gets a clear 4xx in the one error shape; nothing produces a 500."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.core.api import api
from tests.personas import signed_in_client

ClientFor = Callable[..., Client]
JSON = "application/json"


def assert_error_shape(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "fields", "request_id"}
    if code:
        assert error["code"] == code
    return error


def test_malformed_json(client_for: ClientFor, alice: User) -> None:
    response = client_for(alice).post("/api/v1/consent/accept", "{not json", content_type=JSON)
    assert_error_shape(response, 400, "bad_request")


def test_wrong_types_name_the_field(client_for: ClientFor, alice: User) -> None:
    response = client_for(alice).post(
        "/api/v1/consent/accept", {"document_ids": ["one", "two"]}, content_type=JSON
    )
    error = assert_error_shape(response, 422, "validation_error")
    assert error["fields"][0]["field"].startswith("document_ids")


def test_over_long_fields(client_for: ClientFor, alice: User) -> None:
    response = client_for(alice).post("/api/v1/tokens", {"name": "x" * 5000}, content_type=JSON)
    error = assert_error_shape(response, 422)
    assert error["fields"][0]["field"] == "name"


def test_unknown_enum_values(client_for: ClientFor, alice: User) -> None:
    response = client_for(alice).patch(
        "/api/v1/me/profile", {"preferred_language": "klingon"}, content_type=JSON
    )
    error = assert_error_shape(response, 422)
    assert error["fields"][0]["field"] == "preferred_language"


def test_missing_csrf_on_a_session_request(alice: User) -> None:
    client = signed_in_client(alice, enforce_csrf=True)
    response = client.post("/api/v1/tokens", {"name": "x"}, content_type=JSON)
    assert_error_shape(response, 403, "csrf_failed")
    page = client.post("/patient/consent/", {"documents": ["1"]})
    assert page.status_code == 403
    assert b"Please try again" in page.content


def test_unknown_url_and_wrong_method_under_the_api() -> None:
    assert_error_shape(Client().get("/api/v1/nothing-here"), 404)
    assert_error_shape(Client().delete("/api/v1/me"), 405, "method_not_allowed")


def test_non_numeric_ids_are_404_not_500(client_for: ClientFor, alice: User) -> None:
    client = client_for(alice)
    assert client.get("/api/v1/patients/abc").status_code == 404
    assert client.get("/staff/patients/abc/").status_code == 404


GARBAGE_BODIES: list[Any] = [
    "",
    "null",
    "[]",
    "42",
    '"text"',
    '{"a": {"b": [1, 2, {"c": null}]}}',
    '{"name": null, "reason": 12, "minutes": "x", "document_ids": {}, "email": []}',
    '{"role": "god", "state": "ZZ", "expires_on": "31/12/2030", "npi": 1234}',
    "\udcff".encode("utf-8", "surrogatepass").decode("latin-1"),
    "{" * 500,
]


def fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.mark.parametrize("body", GARBAGE_BODIES, ids=range(len(GARBAGE_BODIES)))
def test_no_garbage_body_makes_a_500_anywhere(
    body: str, alice: User, ada: User, dr_tex: User
) -> None:
    schema = api.get_openapi_schema()
    clients = [signed_in_client(alice), signed_in_client(ada), signed_in_client(dr_tex)]
    for path, operations in schema["paths"].items():
        for method in operations:
            if method not in {"post", "put", "patch"}:
                continue
            for client in clients:
                send = getattr(client, method)
                response = send(fill(path), body, content_type=JSON)
                assert response.status_code < 500, (method, path, body, response.content[:200])
                assert response.status_code < 400 or "error" in response.json(), (method, path)
