"""The "follow_up" section of the after-visit summary (carepath.care.summary): the check-ins
the episode's care path has planned, in plain words and the patient's own time zone."""

from carepath.care.models import Encounter
from carepath.carepaths.dates import local_date
from carepath.carepaths.definitions import CarePath, parse_path
from carepath.carepaths.models import PENDING, CheckIn, EpisodePath, PathStatus


def _check_in_ahead(care_path: CarePath, current: str) -> int | None:
    """Days after which the next check-in step ahead of `current` sends one (None: none)."""
    seen: set[str] = set()
    frontier = [current]
    while frontier:
        step_id = frontier.pop(0)
        if step_id in seen:
            continue
        seen.add(step_id)
        step = care_path.step(step_id)
        if step is None:
            continue
        if step.check_ins and step_id != current:
            return step.check_ins[0].after_days
        frontier.extend(step.on.values())
    return None


def follow_up_lines(encounter: Encounter) -> list[str]:
    episode = encounter.episode
    zone = episode.patient.time_zone
    # At most one is pending (a unique index says so); the summary names that one.
    pending = CheckIn.objects.filter(PENDING, episode=episode).order_by("-pk").first()
    if pending is not None and pending.sent_at is not None:
        return [
            "Please answer the short check-in questionnaire we sent you on "
            f"{local_date(pending.sent_at, zone)}."
        ]
    if pending is not None:
        return [
            "We will send you a short check-in questionnaire on "
            f"{local_date(pending.due_at, zone)}."
        ]
    path = (
        EpisodePath.objects.select_related("definition")
        .filter(episode=episode, status=PathStatus.ACTIVE)
        .first()
    )
    if path is None:
        return []
    days = _check_in_ahead(parse_path(path.definition.definition), path.current_step)
    if days is None:
        return []
    return [
        f"About {days} days after your treatment starts, we will send you a short check-in "
        "questionnaire to see how you are doing."
    ]
