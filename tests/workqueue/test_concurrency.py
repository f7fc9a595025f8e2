"""The database, not hope, keeps one holder per item."""

import datetime as dt
import random
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection

from carepath.access.models import CareRelationship
from carepath.accounts.models import User
from carepath.core.errors import ActionRefused
from carepath.workqueue.actions import do_claim, do_claim_next
from carepath.workqueue.models import WorkItem
from tests.personas import make_clinic, make_clinician, make_patient
from tests.workqueue.helpers import make_item, valid_npi

CLAIMERS = 20
ITEMS = 200


def setup_queue() -> tuple[list[User], list[int]]:
    make_clinic()
    patient = make_patient("race.patient@example.com", "TX")
    clinicians = [
        make_clinician(f"race{n}@example.com", valid_npi(500_000_000 + n), ["TX"], ["dermatology"])
        for n in range(CLAIMERS)
    ]
    items = [make_item(patient, due_in=dt.timedelta(minutes=n % 50 + 1)).pk for n in range(ITEMS)]
    return clinicians, items


def run_threads(clinicians: list[User], work: Callable[[User, list[int]], None]) -> list[int]:
    wins: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(len(clinicians))
    errors: list[BaseException] = []

    def claimer(user: User) -> None:
        mine: list[int] = []
        try:
            start.wait()
            work(user, mine)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()
        with lock:
            wins.extend(mine)

    threads = [threading.Thread(target=claimer, args=(user,)) for user in clinicians]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return wins


@pytest.mark.postgres
def test_twenty_claimers_by_id_each_item_claimed_exactly_once(flushable_db: None) -> None:
    clinicians, items = setup_queue()

    def work(user: User, mine: list[int]) -> None:
        # Like a clinician's screen: look at the list, click one of the top few; others are
        # clicking the same ones at the same moment.
        pick = random.Random(user.pk)
        while True:
            open_ids = list(
                WorkItem.objects.filter(status="open")
                .order_by("due_at")
                .values_list("pk", flat=True)[:5]
            )
            if not open_ids:
                return
            item_id = pick.choice(open_ids)
            try:
                do_claim(user, item_id)
            except ActionRefused as refused:
                lost.append(refused.code)
            else:
                mine.append(item_id)

    lost: list[str] = []
    wins = run_threads(clinicians, work)
    assert lost, "the claimers never collided: the test did not test a race"
    assert set(lost) == {"already_claimed"}
    counts = Counter(wins)
    assert set(counts) == set(items)
    assert max(counts.values()) == 1
    assert WorkItem.objects.filter(status="claimed").count() == ITEMS
    relationships = Counter(
        CareRelationship.objects.filter(kind="work_item").values_list("source_id", flat=True)
    )
    assert len(relationships) == ITEMS
    assert max(relationships.values()) == 1


@pytest.mark.postgres
def test_twenty_claim_next_loops_take_every_item_once(flushable_db: None) -> None:
    clinicians, items = setup_queue()

    def work(user: User, mine: list[int]) -> None:
        while (item := do_claim_next(user)) is not None:
            mine.append(item.pk)

    wins = run_threads(clinicians, work)
    assert sorted(wins) == sorted(items)
    holders = dict(WorkItem.objects.values_list("pk", "claimed_by_id"))
    assert all(holders[item_id] is not None for item_id in items)
