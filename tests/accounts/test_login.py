import pytest
from django.core.cache import cache
from django.test import Client

from carepath.accounts.models import User
from carepath.audit.models import AuditEvent
from tests.personas import PASSWORD


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def test_successful_and_failed_logins_are_audited(alice: User) -> None:
    client = Client()
    bad = client.post("/accounts/login/", {"login": alice.email, "password": "wrong-password-1"})
    assert bad.status_code == 200
    assert AuditEvent.objects.filter(action="auth.login", outcome="denied").exists()
    good = client.post("/accounts/login/", {"login": alice.email, "password": PASSWORD})
    assert good.status_code == 302
    assert AuditEvent.objects.filter(action="auth.login", outcome="allowed", actor_id=alice.pk)


def test_login_is_throttled_after_repeated_failures(alice: User) -> None:
    client = Client()
    for _ in range(5):
        client.post("/accounts/login/", {"login": alice.email, "password": "nope-nope-nope"})
    blocked = client.post("/accounts/login/", {"login": alice.email, "password": PASSWORD})
    assert blocked.status_code in {200, 429}
    assert "_auth_user_id" not in client.session


def test_staff_password_login_stops_at_the_mfa_step(dr_tex: User) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"login": dr_tex.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/authenticate/")
    assert "_auth_user_id" not in client.session


def test_signup_refuses_common_and_short_passwords(clinic: None) -> None:
    data = {
        "email": "new@example.com",
        "first_name": "New",
        "last_name": "Patient",
        "date_of_birth": "1990-05-05",
        "state": "TX",
        "preferred_language": "en",
        "time_zone": "America/Chicago",
        "password1": "password",
        "password2": "password",
    }
    response = Client().post("/accounts/signup/", data)
    assert response.status_code == 200
    assert b"too short" in response.content or b"too common" in response.content
    assert not User.objects.filter(email="new@example.com").exists()


def test_signup_rejects_future_birth_date_and_unknown_state(clinic: None) -> None:
    data = {
        "email": "new@example.com",
        "first_name": "New",
        "last_name": "Patient",
        "date_of_birth": "2999-01-01",
        "state": "XX",
        "preferred_language": "en",
        "time_zone": "America/Chicago",
        "password1": "violet-harbor-71",
        "password2": "violet-harbor-71",
    }
    response = Client().post("/accounts/signup/", data)
    assert response.status_code == 200
    assert b"future" in response.content
    assert b"valid choice" in response.content
