"""Two workers delivering events of one episode at the same moment (PostgreSQL: real row
locks; SQLite serializes writers anyway)."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from carepath.accounts.models import User
from carepath.care.events import EpisodeEvent
from carepath.carepaths.engine import do_apply_event
from carepath.carepaths.models import CheckIn, EpisodePath, PathTransition
from carepath.carepaths.seed import seed_care_paths
from tests.carepaths.conftest import open_episode
from tests.personas import make_clinic, make_clinician, make_patient


def run_together(*calls: Callable[[], object]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(calls))

    def worker(call: Callable[[], object]) -> None:
        try:
            barrier.wait()
            call()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


@pytest.mark.postgres
def test_concurrent_deliveries_start_once_and_schedule_one_check_in(flushable_db: None) -> None:
    make_clinic()
    seed_care_paths()
    alice: User = make_patient("alice@example.com", "TX")
    doctor = make_clinician("dr.tex@example.com", "1234567893", ["TX"], ["dermatology"])
    episode = open_episode(alice, "dermatology", doctor)
    submitted = EpisodeEvent(episode.pk, "case.submitted", alice.pk, {"case_id": 1})
    assert not run_together(*[lambda: do_apply_event(submitted)] * 4)
    assert EpisodePath.objects.filter(episode=episode).count() == 1
    assert PathTransition.objects.filter(path__episode=episode).count() == 1
    prescribed = EpisodeEvent(episode.pk, "prescription.signed", doctor.pk, {"id": 2})
    assert not run_together(*[lambda: do_apply_event(prescribed)] * 4)
    assert EpisodePath.objects.get(episode=episode).current_step == "check_in"
    assert CheckIn.objects.filter(episode=episode).count() == 1
