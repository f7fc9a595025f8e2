"""Episode events: what happened in an episode, told to whoever listens (the care-path engine
advances the episode's step on them). Actions call `emit_episode_event` inside their
transaction; listeners run after the commit, so a rolled-back write tells nobody.

The vocabulary (a listener ignores events it does not know):
  case.submitted  case.answered  case.needs_info  case.escalated  case.closed
  visit.scheduled  visit.started  visit.ended
  note.signed
  prescription.signed  prescription.denied  refill.approved  refill.denied
  checkin.sent  checkin.answered  checkin.reviewed
  episode.closed
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

logger = logging.getLogger("carepath.care")

KNOWN_EVENTS = frozenset(
    {
        "case.submitted",
        "case.answered",
        "case.needs_info",
        "case.escalated",
        "case.closed",
        "visit.scheduled",
        "visit.started",
        "visit.ended",
        "note.signed",
        "prescription.signed",
        "prescription.denied",
        "refill.approved",
        "refill.denied",
        "checkin.sent",
        "checkin.answered",
        "checkin.reviewed",
        "episode.closed",
    }
)


@dataclass(frozen=True)
class EpisodeEvent:
    episode_id: int
    name: str
    actor_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


EpisodeListener = Callable[[EpisodeEvent], None]
_listeners: list[EpisodeListener] = []


def register_episode_listener(listener: EpisodeListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def emit_episode_event(
    episode_id: int, name: str, *, actor_id: int | None = None, **detail: Any
) -> None:
    """Tell the listeners after the surrounding transaction commits (at once outside one)."""
    if name not in KNOWN_EVENTS:
        raise ValueError(f"unknown episode event {name!r}; add it to KNOWN_EVENTS")
    event = EpisodeEvent(episode_id=episode_id, name=name, actor_id=actor_id, detail=detail)
    transaction.on_commit(lambda: _deliver(event), robust=True)


def _deliver(event: EpisodeEvent) -> None:
    for listener in list(_listeners):
        try:
            listener(event)
        except Exception:
            # One listener's failure must not undo the committed write or starve the others;
            # it is logged with the event so the episode can be advanced again by hand.
            logger.exception("episode listener failed", extra={"event": event.name})
