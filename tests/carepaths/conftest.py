from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction

from carepath.accounts.models import User
from carepath.care.actions import do_begin_encounter, do_open_episode, do_start_encounter
from carepath.care.events import emit_episode_event
from carepath.care.models import EncounterMode, Episode
from carepath.carepaths.models import CarePathDefinition
from carepath.carepaths.seed import seed_care_paths
from carepath.intake.models import ServiceLine
from tests.browser.helpers import drop_audit_triggers, restore_audit_triggers

Emit = Callable[..., None]


@pytest.fixture
def paths(clinic: None) -> dict[str, CarePathDefinition]:
    return {definition.service_line.code: definition for definition in seed_care_paths()}


@pytest.fixture
def emit(django_capture_on_commit_callbacks: Any) -> Emit:
    """Emit an episode event as an action would (inside a transaction) and deliver it, with
    everything it causes (the engine's own episode.closed, checkin.* ...), on commit."""

    def send(episode: Episode, name: str, actor: User | None = None, **detail: Any) -> None:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            emit_episode_event(episode.pk, name, actor_id=actor.pk if actor else None, **detail)

    return send


def open_episode(patient: User, line_code: str, clinician: User | None = None) -> Episode:
    """An episode like a submitted case makes: its async encounter, taken up by `clinician`."""
    line = ServiceLine.objects.get(code=line_code)
    episode = do_open_episode(patient, title=line.name, service_line_id=line.pk)
    encounter = do_start_encounter(episode, EncounterMode.ASYNC, by=patient)
    if clinician is not None:
        do_begin_encounter(encounter, clinician=clinician)
    return episode


@pytest.fixture
def derm_episode(paths: dict[str, CarePathDefinition], alice: User, dr_tex: User) -> Episode:
    return open_episode(alice, "dermatology", dr_tex)


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
    """Real commits (threads see each other's writes); the audit table's append-only
    triggers are lifted only for the flush that ends the test."""
    yield
    with django_db_blocker.unblock():
        drop_audit_triggers()
