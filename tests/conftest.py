import os
from collections.abc import Callable, Iterator

import pytest
from django.db import connection
from django.test import Client

from carepath.accounts.models import Role, User
from carepath.core import clock
from tests.personas import make_clinic, make_clinician, make_patient, make_staff, signed_in_client

# The browser fixtures (live ASGI server, one Chromium per session) are shared by every
# package's browser tests.
pytest_plugins = ["tests.browser.fixtures"]


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    # PBKDF2 at production strength costs ~0.3 s a user; tests make many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CAREPATH_REQUIRE_ALL_BACKENDS (CI) a skipped test is a failed test, except a
    PostgreSQL-only test on the SQLite run (it runs in the PostgreSQL run)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    allowed = item.get_closest_marker("postgres") is not None and connection.vendor != "postgresql"
    if os.environ.get("CAREPATH_REQUIRE_ALL_BACKENDS") == "1" and report.skipped and not allowed:
        report.outcome = "failed"
        report.longrepr = f"skipped under CAREPATH_REQUIRE_ALL_BACKENDS=1: {report.longrepr}"


@pytest.fixture(autouse=True, scope="session")
def expected_backend() -> None:
    """The PostgreSQL run must really run on PostgreSQL, not fall back silently."""
    expected = os.environ.get("CAREPATH_EXPECT_BACKEND")
    if expected:
        assert connection.vendor == expected, f"suite expected {expected}, got {connection.vendor}"


@pytest.fixture(autouse=True)
def _postgres_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("PostgreSQL-only: runs in the PostgreSQL pass of the suite")


@pytest.fixture(autouse=True)
def _reset_clock() -> Iterator[None]:
    yield
    clock.unfreeze()


@pytest.fixture
def clinic(db: None) -> None:
    make_clinic()


@pytest.fixture
def alice(clinic: None) -> User:
    return make_patient("alice@example.com", "TX")


@pytest.fixture
def bob(clinic: None) -> User:
    return make_patient("bob@example.com", "NY", zone="America/New_York")


@pytest.fixture
def dr_tex(clinic: None) -> User:
    return make_clinician(
        "dr.tex@example.com", "1234567893", ["TX"], ["dermatology", "primary-care"]
    )


@pytest.fixture
def dr_ny(clinic: None) -> User:
    return make_clinician("dr.ny@example.com", "1245319599", ["NY"], ["primary-care"])


@pytest.fixture
def faye(clinic: None) -> User:
    return make_staff("faye@example.com", Role.TELEFACILITATOR)


@pytest.fixture
def cody(clinic: None) -> User:
    return make_staff("cody@example.com", Role.COORDINATOR)


@pytest.fixture
def ada(clinic: None) -> User:
    return make_staff("ada@example.com", Role.ADMIN, can_break_glass=True)


@pytest.fixture
def client_for() -> Callable[..., Client]:
    """client_for(user) -> a signed-in test client (staff already through MFA)."""
    return signed_in_client
