"""The care-path engine: an episode listener (registered in CarepathsConfig.ready) that moves
each episode along the version of its service line's path it started on.

- The first event of an episode whose service line has a path starts it at the start step
  (normally case.submitted); if that step handles the event too, it moves on at once.
- Each later event moves the episode to the step the current step's `on` names; an event the
  step does not handle is recorded as ignored (not an error).
- Entering a step runs its entry actions (schedule a check-in). An episode has at most one
  pending check-in (scheduled, or sent and not answered; a unique index holds the line):
  entering a check-in step again reschedules the one not sent yet from the new transition,
  and a sent one still waiting for answers stays the one (nothing new is sent).
- Leaving a step that schedules a check-in cancels its check-in when it was not sent yet.
- Entering a final step completes the path, cancels check-ins not yet sent, closes sent ones
  still unanswered (they can no longer be answered), closes the episode
  (carepath.care.actions.do_close_episode) and emits episode.closed.
- An episode closed some other way (episode.closed that the step does not handle) ends the
  path where it stands.

Safe to deliver twice: the episode and its path are locked (SELECT ... FOR UPDATE) for the
whole decision, a delivery identical to the one just recorded is dropped, and a completed
path takes no more events. Every transition is audited."""

import datetime as dt
import hashlib
import json
import logging

from django.db import transaction

from carepath.accounts.models import User
from carepath.audit.actions import do_record_audit
from carepath.care.actions import do_close_episode
from carepath.care.events import EpisodeEvent, emit_episode_event
from carepath.care.models import Episode, EpisodeStatus
from carepath.carepaths.actions import do_cancel_unsent_check_ins, do_end_check_ins
from carepath.carepaths.definitions import CarePath, CheckInAction, Step, parse_path
from carepath.carepaths.models import (
    PENDING,
    CarePathDefinition,
    CheckIn,
    EpisodePath,
    PathStatus,
    PathTransition,
    TransitionOutcome,
)
from carepath.core import clock
from carepath.intake.models import Questionnaire

logger = logging.getLogger("carepath.carepaths")


def current_definition(service_line_id: int | None) -> CarePathDefinition | None:
    if service_line_id is None:
        return None
    return (
        CarePathDefinition.objects.filter(service_line_id=service_line_id)
        .order_by("-version")
        .first()
    )


def fingerprint(event: EpisodeEvent) -> str:
    canonical = json.dumps(
        {"name": event.name, "actor": event.actor_id, "detail": event.detail},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def on_episode_event(event: EpisodeEvent) -> None:
    """The listener. Failures are logged by the event bus; the write is all or nothing."""
    do_apply_event(event)


def do_apply_event(event: EpisodeEvent) -> PathTransition | None:
    """Apply one event to its episode's path; the transition recorded, or None when the
    event changed nothing (no path, a repeated delivery, a completed path)."""
    with transaction.atomic():
        episode = (
            Episode.objects.select_for_update(of=("self",))
            .select_related("patient")
            .filter(pk=event.episode_id)
            .first()
        )
        if episode is None:
            return None
        path = (
            EpisodePath.objects.select_for_update(of=("self",))
            .select_related("definition")
            .filter(episode=episode)
            .first()
        )
        actor = User.objects.filter(pk=event.actor_id).first() if event.actor_id else None
        print_ = fingerprint(event)
        if path is None:
            return _start(episode, event, actor, print_)
        path.episode = episode
        if path.status == PathStatus.COMPLETED or _is_repeat(path, print_):
            return None
        return _advance(path, episode, event, actor, print_)


def _is_repeat(path: EpisodePath, print_: str) -> bool:
    last = path.transitions.order_by("-at", "-pk").values_list("fingerprint", flat=True).first()
    return last == print_


def _start(
    episode: Episode, event: EpisodeEvent, actor: User | None, print_: str
) -> PathTransition | None:
    if episode.status != EpisodeStatus.OPEN or event.name == "episode.closed":
        return None
    definition = current_definition(episode.service_line_id)
    if definition is None:
        return None
    care_path = parse_path(definition.definition)
    start = care_path.step(care_path.start)
    if start is None:  # a checked definition always has its start step
        logger.error("care path without its start step", extra={"definition": definition.pk})
        return None
    now = clock.now()
    path = EpisodePath.objects.create(
        episode=episode,
        definition=definition,
        current_step=start.id,
        entered_at=now,
        started_at=now,
        step_due_at=_due(start, now),
    )
    transition = _record(path, "", start.id, event, actor, print_, TransitionOutcome.STARTED)
    _entered(path, episode, start, transition, actor)
    target = start.next_step(event.name, _outcome(event))
    if target is None or path.status == PathStatus.COMPLETED:
        return transition
    return _move(path, episode, care_path, target, event, actor, print_)


def _advance(
    path: EpisodePath, episode: Episode, event: EpisodeEvent, actor: User | None, print_: str
) -> PathTransition:
    care_path = parse_path(path.definition.definition)
    step = care_path.step(path.current_step)
    target = step.next_step(event.name, _outcome(event)) if step is not None else None
    if target is not None:
        return _move(path, episode, care_path, target, event, actor, print_)
    if event.name == "episode.closed":
        return _end(path, episode, event, actor, print_)
    return _record(
        path, path.current_step, path.current_step, event, actor, print_, TransitionOutcome.IGNORED
    )


def _outcome(event: EpisodeEvent) -> str:
    outcome = event.detail.get("outcome", "")
    return outcome if isinstance(outcome, str) else ""


def _due(step: Step, entered_at: dt.datetime) -> dt.datetime | None:
    if step.expected_within_hours is None:
        return None
    return entered_at + dt.timedelta(hours=step.expected_within_hours)


def _record(
    path: EpisodePath,
    from_step: str,
    to_step: str,
    event: EpisodeEvent,
    actor: User | None,
    print_: str,
    outcome: str,
) -> PathTransition:
    transition = PathTransition.objects.create(
        path=path,
        from_step=from_step,
        to_step=to_step,
        event=event.name,
        outcome=outcome,
        fingerprint=print_,
        at=clock.now(),
        actor=actor,
    )
    do_record_audit(
        "care_path.transition",
        actor=actor,
        object_type="episode",
        object_id=path.episode_id,
        patient_id=path.episode.patient_id,
        detail={
            "from": from_step,
            "to": to_step,
            "event": event.name,
            "outcome": outcome,
            "definition_id": path.definition_id,
        },
    )
    return transition


def _move(
    path: EpisodePath,
    episode: Episode,
    care_path: CarePath,
    target_id: str,
    event: EpisodeEvent,
    actor: User | None,
    print_: str,
) -> PathTransition:
    target = care_path.step(target_id)
    if target is None:  # a checked definition never points nowhere
        logger.error("care path step points nowhere", extra={"step": target_id})
        return _record(
            path,
            path.current_step,
            path.current_step,
            event,
            actor,
            print_,
            TransitionOutcome.IGNORED,
        )
    now = clock.now()
    leaving = care_path.step(path.current_step)
    transition = _record(
        path, path.current_step, target.id, event, actor, print_, TransitionOutcome.MOVED
    )
    if leaving is not None and leaving.check_ins and leaving.id != target.id:
        do_cancel_unsent_check_ins(episode, f"left step {leaving.id}")
    path.current_step = target.id
    path.entered_at = now
    path.step_due_at = _due(target, now)
    path.save(update_fields=["current_step", "entered_at", "step_due_at"])
    _entered(path, episode, target, transition, actor)
    return transition


def _entered(
    path: EpisodePath,
    episode: Episode,
    step: Step,
    transition: PathTransition,
    actor: User | None,
) -> None:
    for action in step.check_ins[:1]:  # checked definitions have at most one
        _schedule_check_in(episode, action, transition)
    if step.is_final:
        _complete(path, episode, actor, f"reached final step {step.id}")


def _schedule_check_in(
    episode: Episode, action: CheckInAction, transition: PathTransition
) -> CheckIn | None:
    """Schedule the step's check-in, or reschedule the pending one: one pending per episode."""
    questionnaire = (
        Questionnaire.objects.filter(code=action.questionnaire).order_by("-version").first()
    )
    if questionnaire is None:  # checked on save; a later rename must not stop the path
        logger.error("check-in questionnaire missing", extra={"code": action.questionnaire})
        return None
    due_at = transition.at + dt.timedelta(days=action.after_days)
    pending = (
        CheckIn.objects.select_for_update(of=("self",)).filter(PENDING, episode=episode).first()
    )
    if pending is None:
        check_in = CheckIn.objects.create(
            episode=episode,
            scheduled_by=transition,
            questionnaire=questionnaire,
            due_at=due_at,
            created_at=transition.at,
        )
        _audit_schedule("check_in.schedule", check_in, transition)
        return check_in
    pending.episode = episode
    if pending.sent_at is not None or pending.scheduled_by_id == transition.pk:
        return pending  # waiting for the patient's answers: they are not sent a second one
    pending.scheduled_by = transition
    pending.questionnaire = questionnaire
    pending.due_at = due_at
    pending.save(update_fields=["scheduled_by", "questionnaire", "due_at"])
    _audit_schedule("check_in.reschedule", pending, transition)
    return pending


def _audit_schedule(action: str, check_in: CheckIn, transition: PathTransition) -> None:
    do_record_audit(
        action,
        actor=None,
        object_type="check_in",
        object_id=check_in.pk,
        patient_id=check_in.episode.patient_id,
        detail={"due_at": check_in.due_at.isoformat(), "step": transition.to_step},
    )


def _complete(path: EpisodePath, episode: Episode, actor: User | None, reason: str) -> None:
    path.status = PathStatus.COMPLETED
    path.completed_at = clock.now()
    path.step_due_at = None
    path.save(update_fields=["status", "completed_at", "step_due_at"])
    do_end_check_ins(episode, reason)
    if episode.status == EpisodeStatus.OPEN:
        # by=None: the engine itself (do_close_episode only records `by` in the audit).
        do_close_episode(episode, by=actor)
        emit_episode_event(
            episode.pk, "episode.closed", actor_id=actor.pk if actor else None, by="care_path"
        )


def _end(
    path: EpisodePath, episode: Episode, event: EpisodeEvent, actor: User | None, print_: str
) -> PathTransition:
    transition = _record(
        path, path.current_step, path.current_step, event, actor, print_, TransitionOutcome.ENDED
    )
    _complete(path, episode, actor, "episode closed")
    return transition
