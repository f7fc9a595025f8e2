import datetime as dt
from collections.abc import Callable

import pytest
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from carepath.core import clock

ClientFor = Callable[..., Client]


def test_staff_idle_for_16_minutes_must_sign_in_again(client_for: ClientFor, dr_tex: User) -> None:
    client = client_for(dr_tex)
    assert client.get("/staff/").status_code == 200
    clock.advance(dt.timedelta(minutes=14))
    assert client.get("/staff/").status_code == 200  # activity renews the idle clock
    clock.advance(dt.timedelta(minutes=16))
    response = client.get("/staff/patients/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=%2Fstaff%2Fpatients%2F")
    assert "expired=1" in response["Location"]
    assert AuditEvent.objects.filter(action="auth.idle_timeout", actor_id=dr_tex.pk).exists()
    assert client.get("/staff/").status_code == 302  # really signed out


def test_api_answers_401_after_idle_timeout(client_for: ClientFor, alice: User) -> None:
    client = client_for(alice)
    assert client.get("/api/v1/me").status_code == 200
    clock.advance(dt.timedelta(minutes=31))
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "session_expired"


def test_patient_idle_limit_is_longer_than_staff(client_for: ClientFor, alice: User) -> None:
    client = client_for(alice)
    client.get("/api/v1/me")
    clock.advance(dt.timedelta(minutes=20))
    assert client.get("/api/v1/me").status_code == 200


def test_idle_limit_is_configurable(
    client_for: ClientFor, dr_tex: User, settings: pytest.FixtureRequest
) -> None:
    settings.STAFF_IDLE_TIMEOUT_MINUTES = 5  # type: ignore[attr-defined]
    client = client_for(dr_tex)
    client.get("/staff/")
    clock.advance(dt.timedelta(minutes=6))
    assert client.get("/staff/").status_code == 302


def test_api_tokens_are_not_subject_to_session_idle_timeout(
    client_for: ClientFor, dr_tex: User
) -> None:
    from carepath.accounts.actions import do_create_api_token

    raw = do_create_api_token(dr_tex, "kiosk").raw
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/me").status_code == 200
    clock.advance(dt.timedelta(hours=3))
    assert client.get("/api/v1/me").status_code == 200
