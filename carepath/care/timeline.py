"""One timeline per episode and per patient. Each domain registers a *source*: a function that
returns the entries it holds for a set of episodes (intake, photos, messages, visits and their
modality changes, notes, prescriptions, observations, check-ins). The care app merges them in
time order; it never imports the domains, so a new domain adds itself without touching this.

Sources receive episodes the caller has already authorized, and the viewer, so they can leave
out what that viewer may not see (a patient does not see draft notes). An entry marked
`staff_only` is dropped for patients here as well, whatever the source did.

Order and paging: entries come newest first. A page is the `limit` newest entries strictly
older than `before`, extended with every entry sharing the oldest timestamp of the page, so a
page boundary never splits one instant and the next page is simply "before = that instant".

A source whose history can grow long (messages, device readings) registers as *windowed*: it
is called as fn(viewer, episode_ids, window) and returns only its newest `window.limit`
entries older than `window.before` (plus the ties at its oldest timestamp, see
`window_rows`), so a page costs the same whatever the history. Windowed sources may also
return entries tied to no episode (episode_id None) when `window.include_unlinked` is set:
the patient timeline shows general message threads and monitoring readings that way."""

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Model, QuerySet

from carepath.accounts.models import Role, User

if TYPE_CHECKING:
    from carepath.care.models import Episode

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    # None: an entry of the patient tied to no episode (patient timeline only).
    episode_id: int | None
    # A stable kind the pages style and filter by, e.g. "intake.submitted", "visit.mode_changed".
    kind: str
    title: str
    detail: str = ""
    encounter_id: int | None = None
    # Where the viewer opens the record this entry is about ("" when there is no page).
    url: str = ""
    actor: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # An access-checked thumbnail (e.g. /files/<id>/thumbnail/), shown beside the entry.
    image_url: str = ""
    # Never shown to patients (the merge drops it for them, as a second line of defence).
    staff_only: bool = False


# The filters the pages offer, by kind prefix (the longest matching prefix wins). Domains with
# kinds of their own add them with register_timeline_category.
CATEGORIES: dict[str, str] = {
    "visits": "Visits",
    "messages": "Messages",
    "notes": "Notes",
    "prescriptions": "Prescriptions",
    "observations": "Observations",
    "intake": "Intake",
    "care": "Care path",
}
_category_prefixes: dict[str, str] = {
    "episode.": "care",
    "checkin.": "care",
    "carepath.": "care",
    "encounter.": "visits",
    "escalation.": "visits",
    "visit.": "visits",
    "visit.vitals": "observations",
    "visit.chat": "messages",
    "case.": "intake",
    "intake.": "intake",
    "case.question": "messages",
    "case.reply": "messages",
    "case.answer": "messages",
    "case.closed": "messages",
    "case.escalated": "messages",
    "case.visit": "messages",
    "case.message": "messages",
    "message.": "messages",
    "note.": "notes",
    "prescription.": "prescriptions",
    "refill.": "prescriptions",
    "rpm.": "observations",
    "observation.": "observations",
}


def register_timeline_category(kind_prefix: str, category: str) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"unknown timeline category {category!r}")
    _category_prefixes[kind_prefix] = category


def category_of(kind: str) -> str:
    """The filter an entry falls under ("" when none: it shows under "all" only)."""
    best = ""
    for prefix in _category_prefixes:
        if kind.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return _category_prefixes.get(best, "")


@dataclass(frozen=True)
class TimelineWindow:
    """What one page needs from a windowed source."""

    limit: int
    before: dt.datetime | None = None
    category: str = ""
    # The patient whose timeline this is, and whether entries tied to no episode belong.
    patient_id: int | None = None
    include_unlinked: bool = False
    # Set by window_rows when a query was cut at `limit`: older rows may exist.
    truncated: list[bool] = field(default_factory=list, compare=False)

    def wants(self, category: str) -> bool:
        return not self.category or self.category == category


TimelineSource = Callable[[User, list[int]], Iterable[TimelineEntry]]
WindowedSource = Callable[[User, list[int], TimelineWindow], Iterable[TimelineEntry]]
_sources: dict[str, TimelineSource] = {}
_windowed: dict[str, WindowedSource] = {}


def register_timeline_source(name: str, source: TimelineSource) -> None:
    _sources[name] = source


def register_windowed_source(name: str, source: WindowedSource) -> None:
    _windowed[name] = source


def registered_sources() -> dict[str, TimelineSource]:
    return dict(_sources)


def registered_windowed_sources() -> dict[str, WindowedSource]:
    return dict(_windowed)


def window_rows[RowT: Model](
    rows: QuerySet[RowT], time_field: str, window: TimelineWindow
) -> list[RowT]:
    """The newest `limit` rows older than the window, plus every row sharing the oldest
    timestamp among them (so the merge can cut pages only between instants)."""
    if window.before is not None:
        rows = rows.filter(**{f"{time_field}__lt": window.before})
    page = list(rows.order_by(f"-{time_field}", "-pk")[: window.limit])
    if len(page) == window.limit and page:
        window.truncated.append(True)
        oldest = getattr(page[-1], time_field)
        seen = {row.pk for row in page}
        page += [row for row in rows.filter(**{time_field: oldest}) if row.pk not in seen]
    page.reverse()  # oldest first, like the other sources
    return page


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    # Pass as `before` for the next (older) page; None when this was the last one.
    next_before: dt.datetime | None


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    return max(1, min(MAX_LIMIT, limit))


def merge_timeline(
    viewer: User,
    episode_ids: Sequence[int],
    *,
    patient_id: int | None = None,
    include_unlinked: bool = False,
    before: dt.datetime | None = None,
    limit: int | None = None,
    category: str = "",
) -> TimelinePage:
    """Call every source for these (already authorized) episodes and merge, newest first."""
    limit = clamp_limit(limit)
    ids = list(episode_ids)
    window = TimelineWindow(
        limit=limit,
        before=before,
        category=category,
        patient_id=patient_id,
        include_unlinked=include_unlinked,
    )
    collected: list[TimelineEntry] = []
    if ids:
        for source in _sources.values():
            collected.extend(source(viewer, ids))
    if ids or include_unlinked:
        for windowed in _windowed.values():
            collected.extend(windowed(viewer, ids, window))
    return _page(viewer, collected, ids, window)


def _visible(viewer: User, entry: TimelineEntry, ids: set[int], window: TimelineWindow) -> bool:
    if entry.staff_only and viewer.role == Role.PATIENT:
        return False
    if entry.episode_id is None and not window.include_unlinked:
        return False
    if entry.episode_id is not None and entry.episode_id not in ids:
        return False  # a source answering for more than it was asked
    if window.before is not None and entry.at >= window.before:
        return False
    return not window.category or category_of(entry.kind) == window.category


def _page(
    viewer: User, collected: list[TimelineEntry], ids: list[int], window: TimelineWindow
) -> TimelinePage:
    wanted = set(ids)
    entries = [entry for entry in collected if _visible(viewer, entry, wanted, window)]
    # Stable sort, oldest first, then reversed: entries of one instant keep the reverse of the
    # order their sources told them in (an episode opens before its case, shown below it).
    entries.sort(key=lambda entry: entry.at)
    entries.reverse()
    if len(entries) <= window.limit:
        more = bool(window.truncated) and bool(entries)
        return TimelinePage(entries=entries, next_before=entries[-1].at if more else None)
    cut = entries[window.limit - 1].at
    page = [entry for entry in entries if entry.at >= cut]
    more = len(page) < len(entries) or bool(window.truncated)
    return TimelinePage(entries=page, next_before=cut if more else None)


def entries_in_order(entries: Iterable[TimelineEntry]) -> list[TimelineEntry]:
    """Newest first, as the merge returns them (for sources' own tests and callers)."""
    ordered = sorted(entries, key=lambda entry: entry.at)
    ordered.reverse()
    return ordered


def timeline_for_episode(
    viewer: User,
    episode: "Episode",
    *,
    before: dt.datetime | None = None,
    limit: int | None = None,
    category: str = "",
) -> TimelinePage:
    """One episode's timeline. The caller has authorized the episode (access_episode)."""
    return merge_timeline(
        viewer,
        [episode.pk],
        patient_id=episode.patient_id,
        before=before,
        limit=limit,
        category=category,
    )


def timeline_for_patient(
    viewer: User,
    patient_id: int,
    *,
    before: dt.datetime | None = None,
    limit: int | None = None,
    category: str = "",
) -> TimelinePage:
    """Everything of one patient: all episodes, and what is tied to none. The caller has
    authorized the patient (access_patient)."""
    from carepath.care.models import Episode

    episode_ids = list(Episode.objects.filter(patient_id=patient_id).values_list("pk", flat=True))
    return merge_timeline(
        viewer,
        episode_ids,
        patient_id=patient_id,
        include_unlinked=True,
        before=before,
        limit=limit,
        category=category,
    )


EARLIEST_BEFORE = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
LATEST_BEFORE = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


def parse_before(raw: str | None) -> dt.datetime | None:
    """The `before` of a page request: an ISO 8601 instant (a naive one is taken as UTC),
    within years 1900-2200: at the ends of the calendar an offset would carry the instant
    past what Python and the databases can hold."""
    from carepath.core.errors import ActionRefused

    if raw is None or not raw.strip():
        return None
    refusal = ActionRefused(
        "invalid_before",
        "Give `before` as an ISO 8601 date and time between 1900 and 2200.",
        field="before",
        status=422,
    )
    try:
        moment = dt.datetime.fromisoformat(raw.strip().replace(" ", "+"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        moment = moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise refusal from None
    if not EARLIEST_BEFORE <= moment <= LATEST_BEFORE:
        raise refusal
    return moment


def check_category(raw: str | None) -> str:
    from carepath.core.errors import ActionRefused

    category = (raw or "").strip()
    if category and category not in CATEGORIES:
        raise ActionRefused(
            "invalid_kind",
            f"Filter by one of: {', '.join(CATEGORIES)}.",
            field="kind",
            status=422,
        )
    return category
