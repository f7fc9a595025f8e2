"""One timeline per episode and per patient. Each domain registers a *source*: a function that
returns the entries it holds for a set of episodes (intake, photos, messages, visits and their
modality changes, notes, prescriptions, observations, check-ins). The care app merges them in
time order; it never imports the domains, so a new domain adds itself without touching this.

Sources receive episodes the caller has already authorized, and the viewer, so they can leave
out what that viewer may not see (a patient does not see draft notes)."""

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from carepath.accounts.models import User


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    episode_id: int
    # A stable kind the pages style and filter by, e.g. "intake.submitted", "visit.mode_changed".
    kind: str
    title: str
    detail: str = ""
    encounter_id: int | None = None
    # Where the viewer opens the record this entry is about ("" when there is no page).
    url: str = ""
    actor: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


TimelineSource = Callable[[User, list[int]], Iterable[TimelineEntry]]
_sources: dict[str, TimelineSource] = {}


def register_timeline_source(name: str, source: TimelineSource) -> None:
    _sources[name] = source


def registered_sources() -> dict[str, TimelineSource]:
    return dict(_sources)
