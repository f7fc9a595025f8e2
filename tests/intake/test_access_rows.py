"""The access rows of tests/intake/access_rows.py, checked by the access matrix's rules:
a listed role gets past the gate, any other role is refused (401/403, or 404)."""

import pytest

from carepath.accounts.models import User
from tests.core.test_access_matrix import (  # noqa: F401 - `people` is a fixture
    GATE_REFUSALS,
    ROLES,
    api_operations,
    call,
    client_of,
    fill,
    page_routes,
    people,
)
from tests.intake.access_rows import API_ROWS, PAGE_ROWS

pytestmark = pytest.mark.django_db

PREFIXES = ("/api/v1/intake/", "/api/v1/care/", "/api/v1/econsults")
PAGE_PREFIXES = ("patient/visits/", "staff/cases/", "staff/admin/intake/", "staff/econsults/")


def test_rows_cover_exactly_our_endpoints() -> None:
    ours = {op for op in api_operations() if op[1].startswith(PREFIXES)}
    assert ours == set(API_ROWS)
    pages = {route for route in page_routes() if route.startswith(PAGE_PREFIXES)}
    assert pages == set(PAGE_ROWS)


@pytest.mark.parametrize(("method", "path"), sorted(API_ROWS))
def test_api_gate(method: str, path: str, people: dict[str, User | None]) -> None:  # noqa: F811
    allowed = API_ROWS[(method, path)]
    for role in ROLES:
        response = call(client_of(people[role]), method, fill(path))
        assert response.status_code != 500, (role, method, path)
        if role in allowed:
            assert response.status_code not in GATE_REFUSALS, (role, method, path)
        else:
            assert response.status_code in GATE_REFUSALS | {404}, (role, method, path)


@pytest.mark.parametrize("route", sorted(PAGE_ROWS))
def test_page_gate(route: str, people: dict[str, User | None]) -> None:  # noqa: F811
    allowed = PAGE_ROWS[route]
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
