import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from carepath.accounts.models import Role, User
from carepath.core.api import api
from tests.access_matrix import API, PAGES
from tests.personas import make_clinician, make_patient, make_staff, signed_in_client

ROLES = ["anonymous", "patient", "clinician", "telefacilitator", "coordinator", "admin"]
GATE_REFUSALS = {401, 403}
MISSING_ID = "987654"


def api_operations() -> set[tuple[str, str]]:
    schema = api.get_openapi_schema()
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
    }


def page_routes(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[str]:
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route.startswith(("api/v1/", "accounts/")) and "carepath" not in str(
                entry.urlconf_name
            ):
                continue  # the API is listed by operation; allauth's pages are its own
            yield from page_routes(entry, route)
        elif isinstance(entry, URLPattern):
            yield route


def fill(path: str) -> str:
    path = re.sub(r"\{state\}", "TX", path)
    path = re.sub(r"\{(int:)?\w+\}", MISSING_ID, path)
    path = re.sub(r"<str:\w+>", "not-a-real-token", path)
    return re.sub(r"<(int:)?\w+>", MISSING_ID, path)


def test_every_api_operation_has_an_access_row() -> None:
    missing = api_operations() - set(API)
    assert not missing, f"add these to tests/access_matrix.py API: {sorted(missing)}"
    stale = set(API) - api_operations()
    assert not stale, f"remove from tests/access_matrix.py API: {sorted(stale)}"


def test_every_page_has_an_access_row() -> None:
    routes = {route for route in page_routes() if not route.startswith("api/v1/")}
    missing = routes - set(PAGES)
    assert not missing, f"add these to tests/access_matrix.py PAGES: {sorted(missing)}"


@pytest.fixture
def people(clinic: None) -> dict[str, User | None]:
    return {
        "anonymous": None,
        "patient": make_patient("matrix.patient@example.com", "TX"),
        "clinician": make_clinician("matrix.doc@example.com", "1234567893", ["TX"], []),
        "telefacilitator": make_staff("matrix.tf@example.com", Role.TELEFACILITATOR),
        "coordinator": make_staff("matrix.co@example.com", Role.COORDINATOR),
        "admin": make_staff("matrix.admin@example.com", Role.ADMIN),
    }


def client_of(user: User | None) -> Client:
    return Client() if user is None else signed_in_client(user)


def call(client: Client, method: str, url: str) -> Any:
    send: Callable[..., Any] = getattr(client, method.lower())
    if method in {"POST", "PUT", "PATCH"}:
        return send(url, "{}", content_type="application/json")
    return send(url)


@pytest.mark.parametrize(("method", "path"), sorted(API))
def test_api_gate(method: str, path: str, people: dict[str, User | None]) -> None:
    allowed = API[(method, path)]
    for role in ROLES:
        response = call(client_of(people[role]), method, fill(path))
        assert response.status_code != 500, (role, method, path)
        if role in allowed:
            assert response.status_code not in GATE_REFUSALS, (role, method, path)
        else:
            assert response.status_code in GATE_REFUSALS | {404}, (role, method, path)
            assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("route", sorted(PAGES))
def test_page_gate(route: str, people: dict[str, User | None]) -> None:
    allowed = PAGES[route]
    for role in ROLES:
        response = client_of(people[role]).get("/" + fill(route))
        status = response.status_code
        assert status != 500, (role, route)
        to_login = status == 302 and response["Location"].startswith("/accounts/login/")
        if role in allowed:
            assert status not in GATE_REFUSALS, (role, route, status)
            assert not to_login, (role, route, status)
        elif role == "anonymous":
            assert to_login or status in {401, 403, 404}, (role, route, status)
        else:
            assert status in GATE_REFUSALS | {404}, (role, route, status)
