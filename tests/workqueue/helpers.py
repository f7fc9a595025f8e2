import datetime as dt
import itertools

from carepath.accounts.models import Specialty, User
from carepath.core import clock
from carepath.workqueue.actions import do_enqueue
from carepath.workqueue.models import WorkItem, WorkItemKind

_subjects = itertools.count(1)


def make_item(
    patient: User | None,
    *,
    state: str = "TX",
    specialty: str | None = "dermatology",
    language: str = "en",
    due_in: dt.timedelta = dt.timedelta(hours=4),
    kind: str = WorkItemKind.ASYNC_CASE,
    title: str = "Review an async case",
    priority: int = 0,
) -> WorkItem:
    return do_enqueue(
        kind=kind,
        patient=patient,
        subject_type="test.case",
        subject_id=str(next(_subjects)),
        title=title,
        due_at=clock.now() + due_in,
        priority=priority,
        required_state=state,
        required_specialty=Specialty.objects.get(code=specialty) if specialty else None,
        required_language=language,
    )


def valid_npi(base: int) -> str:
    """A 10-digit NPI with a correct Luhn check digit (prefix 80840), from a 9-digit base."""
    digits = f"{base:09d}"
    total = 0
    for index, char in enumerate(reversed("80840" + digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return digits + str((10 - total % 10) % 10)
