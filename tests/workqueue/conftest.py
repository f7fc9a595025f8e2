from collections.abc import Iterator
from typing import Any

import pytest

from carepath.accounts.models import User
from carepath.workqueue import registry
from tests.browser.helpers import drop_audit_triggers, restore_audit_triggers
from tests.personas import make_clinician


@pytest.fixture
def dr_tex2(clinic: None) -> User:
    """A second Texas dermatologist, to race dr_tex."""
    return make_clinician("dr.tex2@example.com", "1417193012", ["TX"], ["dermatology"])


@pytest.fixture(autouse=True)
def _subject_urls_restored() -> Iterator[None]:
    """Tests register subject URLs; each test starts from the registry as it was."""
    saved = dict(registry._subject_urls)
    yield
    registry._subject_urls.clear()
    registry._subject_urls.update(saved)


@pytest.fixture(autouse=True)
def _audit_triggers_back_after_flush(
    request: pytest.FixtureRequest, django_db_blocker: Any
) -> Iterator[None]:
    """Set up before the database fixtures, torn down after their flush: puts back the
    append-only audit triggers that flushable_db dropped for the flush."""
    yield
    if "flushable_db" in request.fixturenames:
        with django_db_blocker.unblock():
            restore_audit_triggers()


@pytest.fixture
def flushable_db(transactional_db: None, django_db_blocker: Any) -> Iterator[None]:
    """A real-commit database (threads and sockets see the data); the audit table's
    append-only triggers are lifted only for the flush that ends the test."""
    yield
    with django_db_blocker.unblock():
        drop_audit_triggers()
