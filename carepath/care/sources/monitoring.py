"""Remote monitoring: enrollments starting and ending, device readings and threshold alerts.
Readings belong to the episode of the enrollment that watches their measure (an enrollment
opens its own episode); on the patient timeline every reading shows. Windowed: devices send
readings every day."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Q

from carepath.accounts.models import User
from carepath.care.sources.common import clip, is_patient
from carepath.care.timeline import TimelineEntry, TimelineWindow, window_rows
from carepath.core import clock
from carepath.rpm.measures import Measure, spec_of
from carepath.rpm.models import Alert, AlertStatus, Enrollment, Reading, ReadingStatus

BP = (Measure.BP_SYSTOLIC, Measure.BP_DIASTOLIC)


@dataclass(frozen=True)
class _Watch:
    episode_id: int | None
    measures: frozenset[str]
    start: dt.datetime
    end: dt.datetime

    def covers(self, measure: str, at: dt.datetime) -> bool:
        return measure in self.measures and self.start <= at <= self.end


def _enrollments(episode_ids: list[int], window: TimelineWindow) -> list[Enrollment]:
    scope = Q(episode_id__in=episode_ids)
    if window.include_unlinked and window.patient_id is not None:
        scope |= Q(patient_id=window.patient_id)
    return list(Enrollment.objects.filter(scope).select_related("program"))


def _watches(enrollments: list[Enrollment], episode_ids: list[int]) -> list[_Watch]:
    now = clock.now()
    return [
        _Watch(
            episode_id=e.episode_id if e.episode_id in episode_ids else None,
            measures=frozenset(str(m) for m in e.program.measures),
            start=e.started_at,
            end=e.ended_at or now,
        )
        for e in enrollments
        if e.started_at is not None
    ]


def _episode_for(watches: list[_Watch], measure: str, at: dt.datetime) -> int | None:
    for watch in watches:
        if watch.episode_id is not None and watch.covers(measure, at):
            return watch.episode_id
    return None


def rpm_entries(
    viewer: User, episode_ids: list[int], window: TimelineWindow
) -> Iterator[TimelineEntry]:
    if not window.wants("observations"):
        return
    enrollments = _enrollments(episode_ids, window)
    watches = _watches(enrollments, episode_ids)
    patient_ids = {e.patient_id for e in enrollments}
    if window.include_unlinked and window.patient_id is not None:
        patient_ids.add(window.patient_id)
    if not patient_ids:
        return
    yield from _enrollment_entries(enrollments, episode_ids)
    yield from _reading_entries(viewer, patient_ids, watches, window)
    yield from _alert_entries(viewer, patient_ids, watches, window)


def _enrollment_entries(
    enrollments: list[Enrollment], episode_ids: list[int]
) -> Iterator[TimelineEntry]:
    for enrollment in enrollments:
        episode_id = enrollment.episode_id if enrollment.episode_id in episode_ids else None
        name = enrollment.program.name
        if enrollment.started_at is not None:
            yield TimelineEntry(
                at=enrollment.started_at,
                episode_id=episode_id,
                kind="rpm.enrolled",
                title=f"Home monitoring started: {name}",
                encounter_id=enrollment.encounter_id,
            )
        if enrollment.ended_at is not None:
            yield TimelineEntry(
                at=enrollment.ended_at,
                episode_id=episode_id,
                kind="rpm.ended",
                title=f"Home monitoring ended: {name}",
                detail=clip(enrollment.end_reason, 200),
                encounter_id=enrollment.encounter_id,
            )


def _reading_scope(watches: list[_Watch], window: TimelineWindow) -> Q | None:
    """Readings some watch of these episodes covers (None: every reading of the patient)."""
    if window.include_unlinked:
        return None
    scope = Q(pk__in=[])
    for watch in watches:
        if watch.episode_id is not None:
            scope |= Q(
                measure__in=watch.measures,
                effective_at__gte=watch.start,
                effective_at__lte=watch.end,
            )
    return scope


def _reading_entries(
    viewer: User, patient_ids: set[int], watches: list[_Watch], window: TimelineWindow
) -> Iterator[TimelineEntry]:
    rows = Reading.objects.filter(patient_id__in=patient_ids)
    scope = _reading_scope(watches, window)
    if scope is not None:
        rows = rows.filter(scope)
    if is_patient(viewer):
        rows = rows.filter(status=ReadingStatus.VALID)
    readings = window_rows(rows, "effective_at", window)
    paired: dict[tuple[int, dt.datetime], dict[str, Reading]] = {}
    for reading in readings:
        if reading.measure in BP:
            paired.setdefault((reading.device_id, reading.effective_at), {})[reading.measure] = (
                reading
            )
    for reading in readings:
        pair = paired.get((reading.device_id, reading.effective_at), {})
        if reading.measure == Measure.BP_DIASTOLIC and Measure.BP_SYSTOLIC in pair:
            continue  # told with its systolic partner
        yield _reading_entry(reading, pair, watches)


def _reading_entry(
    reading: Reading, pair: dict[str, Reading], watches: list[_Watch]
) -> TimelineEntry:
    spec = spec_of(reading.measure)
    diastolic = pair.get(Measure.BP_DIASTOLIC) if reading.measure == Measure.BP_SYSTOLIC else None
    if diastolic is not None:
        title = f"Blood pressure {spec.fmt(reading.value)}/{spec.fmt(diastolic.value)}"
        title += f" {spec.unit_label}"
    else:
        title = f"{spec.label} {spec.fmt(reading.value)} {spec.unit_label}"
    detail = ""
    if reading.status == ReadingStatus.ENTERED_IN_ERROR:
        title += " (entered in error)"
        detail = f"Entered in error: {clip(reading.error_reason, 200)}"
    return TimelineEntry(
        at=reading.effective_at,
        episode_id=_episode_for(watches, reading.measure, reading.effective_at),
        kind="rpm.reading",
        title=title,
        detail=detail,
        extra={"reading_id": reading.pk, "measure": reading.measure},
    )


def _alert_entries(
    viewer: User, patient_ids: set[int], watches: list[_Watch], window: TimelineWindow
) -> Iterator[TimelineEntry]:
    alerts = Alert.objects.filter(patient_id__in=patient_ids).select_related("resolved_by")
    for alert in alerts.order_by("opened_at", "pk"):
        episode_id = _episode_for(watches, alert.measure, alert.opened_at)
        if episode_id is None and not window.include_unlinked:
            continue
        yield TimelineEntry(
            at=alert.opened_at,
            episode_id=episode_id,
            kind="rpm.alert",
            title=f"Monitoring alert ({alert.get_severity_display().lower()})",
            detail=clip(alert.reason, 300),
            extra={"alert_id": alert.pk, "measure": alert.measure},
        )
        if alert.status == AlertStatus.RESOLVED and alert.resolved_at is not None:
            note = "" if is_patient(viewer) else clip(alert.resolution_note, 300)
            by = alert.resolved_by.display_name if alert.resolved_by else "staff"
            yield TimelineEntry(
                at=alert.resolved_at,
                episode_id=episode_id,
                kind="rpm.alert_resolved",
                title="Monitoring alert reviewed by your care team"
                if is_patient(viewer)
                else f"Alert resolved by {by}",
                detail=note,
                extra={"alert_id": alert.pk},
            )
