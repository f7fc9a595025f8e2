"""Input no field may hold is refused with a clear error, never a 500: NUL characters (which
PostgreSQL cannot store) in JSON bodies and query strings, ids beyond 64 bits, and timeline
`before` instants at the ends of the calendar."""

import json
from collections.abc import Callable

import pytest
from django.test import Client

from carepath.accounts.models import User

pytestmark = pytest.mark.django_db

BIG_ID = 9223372036854775813


def test_a_nul_in_a_json_body_is_a_field_error(
    alice: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    response = client.post(
        f"/api/v1/prescribing/patients/{alice.pk}/allergies",
        data=json.dumps({"substance": "pen\u0000icillin", "reaction": "hives"}),
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert "NUL" in response.json()["error"]["message"]


def test_a_nul_in_an_ndjson_line_is_refused_but_a_clean_body_passes(
    alice: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    clean = client.post(
        "/api/v1/rpm/readings/batch",
        data=b'{"a": "\\\\u0000 is only text here"}\n',
        content_type="application/x-ndjson",
    )
    assert clean.status_code != 422 or "NUL" not in clean.content.decode()
    dirty = client.post(
        "/api/v1/rpm/readings/batch",
        data=b'{"ok": 1}\n{"note": "a\\u0000"}\n',
        content_type="application/x-ndjson",
    )
    assert dirty.status_code == 422


def test_a_nul_in_a_query_string_is_refused_on_api_and_pages(
    alice: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    api = client.get("/api/v1/pharmacy/pharmacies", {"q": "cvs\x00"})
    assert api.status_code == 422
    assert api.json()["error"]["fields"][0]["field"] == "q"
    page = client.get("/episodes/timeline/", {"before": "\x00"})
    assert page.status_code == 400


def test_an_id_beyond_64_bits_is_not_found(
    alice: User, dr_tex: User, client_for: Callable[..., Client]
) -> None:
    assert client_for(alice).get(f"/api/v1/care/episodes/{BIG_ID}").status_code == 404
    staff = client_for(dr_tex, mfa=True)
    assert staff.get(f"/api/v1/prescribing/patients/{BIG_ID}/allergies").status_code == 404
    assert staff.get(f"/episodes/patients/{BIG_ID}/").status_code == 404


@pytest.mark.parametrize(
    "before", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "1066-10-14", "soon"]
)
def test_timeline_before_out_of_range_is_a_clear_error(
    before: str, alice: User, client_for: Callable[..., Client]
) -> None:
    client = client_for(alice)
    response = client.get(f"/api/v1/care/patients/{alice.pk}/timeline", {"before": before})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_before"
