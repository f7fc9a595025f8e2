"""The care-path timeline source: steps the episode moved through (ignored events left out)
and its check-ins (planned, sent, answered, reviewed, cancelled, closed). Patients read the
steps in plain words; staff get the step labels and the event that moved them. Dates in
titles are in the viewer's time zone (carepath.carepaths.dates), like the pages.

One check-in reads as one check-in: re-entering the check-in step moves its date (the one
"planned" entry shows the current date; the step re-entry itself is not repeated to the
patient), and a check-in cancelled before it was sent is not shown to the patient at all
(they never received it) and is one "cancelled" entry for staff."""

import datetime as dt
from collections.abc import Iterator

from carepath.accounts.models import Role, User
from carepath.care.timeline import TimelineEntry
from carepath.carepaths.actions import check_in_review_url, check_in_url
from carepath.carepaths.dates import date_for
from carepath.carepaths.definitions import CarePath, parse_path
from carepath.carepaths.models import CheckIn, PathTransition, TransitionOutcome
from carepath.carepaths.selectors import check_ins_of_episodes


def path_entries(viewer: User, episode_ids: list[int]) -> Iterator[TimelineEntry]:
    yield from _transition_entries(viewer, episode_ids)
    for check_in in check_ins_of_episodes(episode_ids):
        yield from _check_in_entries(viewer, check_in)


def _transition_entries(viewer: User, episode_ids: list[int]) -> Iterator[TimelineEntry]:
    patient = viewer.role == Role.PATIENT
    transitions = (
        PathTransition.objects.filter(path__episode_id__in=episode_ids)
        .exclude(outcome=TransitionOutcome.IGNORED)
        .select_related("path__definition", "actor")
        .order_by("at", "pk")
    )
    parsed: dict[int, CarePath] = {}
    for transition in transitions:
        path = transition.path
        care_path = parsed.setdefault(path.definition_id, parse_path(path.definition.definition))
        step = care_path.step(transition.to_step)
        label = step.label if step is not None else transition.to_step
        again = (
            transition.outcome == TransitionOutcome.MOVED
            and transition.from_step == transition.to_step
        )
        if patient and again:
            continue  # e.g. a later prescription moved the check-in date: its entry says so
        if transition.outcome == TransitionOutcome.ENDED:
            title = "Care path ended" if patient else f"Care path ended at {label}"
        else:
            words = step.plain_words if step is not None else ""
            title = (words or "Your care moved to its next step") if patient else label
            title = title if patient else f"Care path: {title}{' (again)' if again else ''}"
        yield TimelineEntry(
            at=transition.at,
            episode_id=path.episode_id,
            kind="carepath.step",
            title=title,
            detail="" if patient else f"on {transition.event}",
            url="" if patient else f"/care-paths/episodes/{path.episode_id}/",
            actor=transition.actor.display_name if transition.actor and not patient else "",
            extra={"step": transition.to_step, "event": transition.event},
        )


def _entry(
    check_in: CheckIn,
    at: dt.datetime,
    kind: str,
    title: str,
    *,
    detail: str = "",
    url: str = "",
    actor: str = "",
) -> TimelineEntry:
    return TimelineEntry(
        at=at,
        episode_id=check_in.episode_id,
        kind=kind,
        title=title,
        detail=detail,
        url=url,
        actor=actor,
        extra={"check_in_id": check_in.pk},
    )


def _check_in_entries(viewer: User, check_in: CheckIn) -> Iterator[TimelineEntry]:
    patient = viewer.role == Role.PATIENT
    name = check_in.questionnaire.title
    url = check_in_url(check_in) if patient else check_in_review_url(check_in.pk)
    due = date_for(viewer, check_in.due_at)
    if check_in.cancelled_at is not None:
        if not patient:
            yield _entry(
                check_in,
                check_in.cancelled_at,
                "checkin.cancelled",
                f"Check-in cancelled (was planned for {due})",
                detail=name,
            )
        return
    yield _entry(
        check_in,
        check_in.created_at,
        "checkin.scheduled",
        f"Check-in planned for {due}",
        detail=name,
    )
    if check_in.sent_at is not None:
        yield _entry(
            check_in,
            check_in.sent_at,
            "checkin.sent",
            "We sent you a check-in" if patient else "Check-in sent",
            detail=name,
            url=url if patient and check_in.is_pending else "",
        )
    if check_in.closed_at is not None:
        yield _entry(
            check_in,
            check_in.closed_at,
            "checkin.closed",
            "Your check-in closed with this episode of care"
            if patient
            else "Check-in closed unanswered",
            detail="It can no longer be answered." if patient else "The episode was closed.",
        )
    if check_in.answered_at is not None:
        yield _entry(
            check_in,
            check_in.answered_at,
            "checkin.answered",
            "You answered the check-in" if patient else "Check-in answered",
            url=url,
            actor=check_in.episode.patient.display_name,
        )
    if check_in.reviewed_at is not None:
        words = "needs a visit" if check_in.needs_visit else "reviewed"
        yield _entry(
            check_in,
            check_in.reviewed_at,
            "checkin.reviewed",
            "Your clinician read your check-in" if patient else f"Check-in {words}",
            url=url,
            actor=check_in.reviewed_by.display_name if check_in.reviewed_by else "",
        )
