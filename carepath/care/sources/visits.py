"""Live visits: started, each modality change (video -> audio -> chat), ended with its
duration, vitals taken in the visit, and the in-visit chat (windowed: a chat visit can be
long)."""

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from carepath.accounts.models import User
from carepath.care.sources.common import clip, duration_words, is_patient
from carepath.care.timeline import TimelineEntry, TimelineWindow, window_rows
from carepath.visits.models import (
    ChatMessage,
    Observation,
    ObservationStatus,
    VisitEvent,
    VisitEventKind,
    VisitMode,
)

SHOWN_EVENTS = (VisitEventKind.STARTED, VisitEventKind.MODE_CHANGED, VisitEventKind.ENDED)
BP_CODES = ("8480-6", "8462-4")  # systolic, diastolic (LOINC)


def mode_words(mode: str) -> str:
    return VisitMode(mode).label.lower() if mode in VisitMode.values else mode


def visit_entries(viewer: User, episode_ids: list[int]) -> Iterator[TimelineEntry]:
    events = (
        VisitEvent.objects.filter(encounter__episode_id__in=episode_ids, kind__in=SHOWN_EVENTS)
        .select_related("encounter", "participant")
        .order_by("at", "pk")
    )
    for event in events:
        yield _event_entry(event)
    yield from _vitals(viewer, episode_ids)


def _event_entry(event: VisitEvent) -> TimelineEntry:
    assert event.encounter is not None
    extra: dict[str, Any] = {"visit_id": event.visit_id}
    detail = ""
    if event.kind == VisitEventKind.STARTED:
        kind = "visit.started"
        title = "Live visit started"
        if event.to_mode:
            title += f" ({mode_words(event.to_mode)})"
    elif event.kind == VisitEventKind.MODE_CHANGED:
        kind = "visit.mode_changed"
        title = f"Switched from {mode_words(event.from_mode)} to {mode_words(event.to_mode)}"
        extra.update({"from": event.from_mode, "to": event.to_mode})
    else:
        kind = "visit.ended"
        title = "Live visit ended"
        seconds = event.detail.get("duration_seconds") if isinstance(event.detail, dict) else None
        if isinstance(seconds, int):
            detail = f"It lasted {duration_words(seconds)}."
            extra["duration_seconds"] = seconds
    return TimelineEntry(
        at=event.at,
        episode_id=event.encounter.episode_id,
        kind=kind,
        title=title,
        detail=detail,
        encounter_id=event.encounter_id,
        actor=event.participant.display_name if event.participant else "",
        extra=extra,
    )


def _vitals(viewer: User, episode_ids: list[int]) -> Iterator[TimelineEntry]:
    rows = (
        Observation.objects.filter(encounter__episode_id__in=episode_ids)
        .select_related("encounter", "recorded_by")
        .order_by("recorded_at", "pk")
    )
    if is_patient(viewer):
        rows = rows.filter(status=ObservationStatus.FINAL)
    panels: dict[object, list[Observation]] = defaultdict(list)
    for observation in rows:
        panels[observation.panel].append(observation)
    for panel in panels.values():
        first = panel[0]
        in_error = all(o.status == ObservationStatus.ENTERED_IN_ERROR for o in panel)
        yield TimelineEntry(
            at=first.recorded_at,
            episode_id=first.encounter.episode_id,
            kind="visit.vitals",
            title="Vital signs recorded" + (" (entered in error)" if in_error else ""),
            detail="; ".join(vital_words(panel)),
            encounter_id=first.encounter_id,
            actor=first.recorded_by.display_name,
            extra={"visit_id": first.visit_id, "panel": str(first.panel)},
        )


def _number(value: object) -> str:
    return f"{value:f}".rstrip("0").rstrip(".") if value is not None else ""


def vital_words(panel: list[Observation]) -> list[str]:
    by_code = {o.code: o for o in panel}
    words = []
    systolic, diastolic = (by_code.get(code) for code in BP_CODES)
    if systolic is not None and diastolic is not None:
        words.append(f"Blood pressure {_number(systolic.value)}/{_number(diastolic.value)} mmHg")
    for observation in panel:
        if observation.code in BP_CODES and systolic is not None and diastolic is not None:
            continue
        unit = {"Cel": "°C", "/min": "per minute", "mm[Hg]": "mmHg"}.get(
            observation.unit, observation.unit
        )
        words.append(f"{observation.display} {_number(observation.value)} {unit}")
    return words


def chat_entries(
    viewer: User, episode_ids: list[int], window: TimelineWindow
) -> Iterator[TimelineEntry]:
    if not episode_ids or not window.wants("messages"):
        return
    rows = ChatMessage.objects.filter(encounter__episode_id__in=episode_ids).select_related(
        "encounter", "sender"
    )
    for message in window_rows(rows, "sent_at", window):
        yield TimelineEntry(
            at=message.sent_at,
            episode_id=message.encounter.episode_id,
            kind="visit.chat",
            title=f"Chat from {message.sender.display_name}",
            detail=clip(message.body),
            encounter_id=message.encounter_id,
            actor=message.sender.display_name,
            extra={"visit_id": message.visit_id},
        )
