"""The clock seam: all business logic asks this module for the time, so tests can move it
(SLA breaches, reminders, expiries) without sleeping."""

import datetime as dt

from django.utils import timezone

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    return _frozen if _frozen is not None else timezone.now()


def freeze(moment: dt.datetime) -> None:
    if timezone.is_naive(moment):
        raise ValueError("the clock only holds aware datetimes")
    global _frozen
    _frozen = moment


def advance(delta: dt.timedelta) -> dt.datetime:
    freeze(now() + delta)
    return now()


def unfreeze() -> None:
    global _frozen
    _frozen = None
