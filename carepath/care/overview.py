"""Episodes at a glance, for lists ("My care", the patient's home, the staff timeline page):
several episodes of one service line all read alike, so each card carries what tells them
apart: the patient's own first words from the intake, how many visits it holds, and its
latest activity. Callers have authorized the patient (and audit the listing)."""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from carepath.accounts.models import User
from carepath.care.models import Episode
from carepath.care.sources.common import clip
from carepath.care.timeline import MAX_LIMIT, TimelineEntry, merge_timeline, timeline_for_episode
from carepath.intake.models import Case, CaseStatus
from carepath.intake.questionnaires import build_tree

FIRST_WORDS_MAX = 90
# Episodes whose newest entry is older than one merged page get a timeline call each, up to
# this many; a patient with more than that sees no latest activity on the oldest ones.
MAX_SINGLE_LOOKUPS = 10
FREE_TEXT_TYPES = ("text", "string")


@dataclass(frozen=True)
class LastActivity:
    title: str
    at: dt.datetime


@dataclass(frozen=True)
class EpisodeCard:
    episode: Episode
    first_words: str
    visit_count: int
    last: LastActivity | None

    @property
    def url(self) -> str:
        return f"/episodes/{self.episode.pk}/"


def episode_cards(viewer: User, episodes: Iterable[Episode]) -> list[EpisodeCard]:
    """One card per episode, in the order given. Episodes come from episodes_with_activity()
    (they carry `encounter_count`)."""
    episodes = list(episodes)
    if not episodes:
        return []
    ids = [episode.pk for episode in episodes]
    words = first_words_of(ids)
    latest = latest_activity(viewer, episodes)
    return [
        EpisodeCard(
            episode=episode,
            first_words=words.get(episode.pk, ""),
            visit_count=int(getattr(episode, "encounter_count", 0)),
            last=latest.get(episode.pk),
        )
        for episode in episodes
    ]


def first_words_of(episode_ids: list[int]) -> dict[int, str]:
    """By episode: the first free-text answer of its first submitted intake, clipped."""
    cases = (
        Case.objects.filter(episode_id__in=episode_ids)
        .exclude(status=CaseStatus.DRAFT)
        .select_related("questionnaire")
        .order_by("submitted_at", "pk")
    )
    found: dict[int, str] = {}
    for case in cases:
        if case.episode_id is None or case.episode_id in found:
            continue
        words = _first_free_text(case.questionnaire.definition, case.answers)
        if words:
            found[case.episode_id] = clip(words, FIRST_WORDS_MAX)
    return found


def _first_free_text(definition: Any, answers: Any) -> str:
    """Long text answers say the most in the patient's words; a short one will do."""
    if not isinstance(answers, dict):
        return ""
    members = build_tree(definition).scope_members(None)
    for wanted in FREE_TEXT_TYPES:
        for item in members:
            value = answers.get(item.link_id)
            if item.type == wanted and isinstance(value, str) and value.strip():
                return value
    return ""


def latest_activity(viewer: User, episodes: list[Episode]) -> dict[int, LastActivity]:
    """By episode: its newest timeline entry the viewer may see. One merged read covers the
    usual case; episodes quiet for longer than that page are looked up one by one."""
    ids = [episode.pk for episode in episodes]
    page = merge_timeline(viewer, ids, patient_id=episodes[0].patient_id, limit=MAX_LIMIT)
    found: dict[int, LastActivity] = {}
    for entry in page.entries:  # newest first
        if entry.episode_id is not None and entry.episode_id not in found:
            found[entry.episode_id] = _activity(entry)
    quiet = [episode for episode in episodes if episode.pk not in found]
    for episode in quiet[:MAX_SINGLE_LOOKUPS]:
        entries = timeline_for_episode(viewer, episode, limit=1).entries
        if entries:
            found[episode.pk] = _activity(entries[0])
    return found


def _activity(entry: TimelineEntry) -> LastActivity:
    return LastActivity(title=clip(entry.title, 120), at=entry.at)
