"""Reads for care paths. Where an episode stands is health information (its service line
says what the concern is): every fetch goes through access_*() or an audited listing.

Who sees what
- Coordinators and admins: every episode on a path (the operational view, like the queue
  overview), audited per patient.
- Clinicians and telefacilitators: episodes of patients they have a care relationship with.
- Patients: their own episodes, in plain words; their own check-ins once sent."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, QuerySet

from carepath.access.selectors import deny, may_access_patient, patients_visible_to
from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.care.models import Encounter, Episode
from carepath.carepaths.definitions import CarePath, Step, parse_path
from carepath.carepaths.models import (
    PENDING,
    CarePathDefinition,
    CheckIn,
    EpisodePath,
    PathStatus,
    PathTransition,
)
from carepath.core import clock
from carepath.intake.models import ServiceLine
from carepath.workqueue.models import WorkItem, WorkItemStatus

OVERVIEW_ROLES = frozenset({Role.COORDINATOR, Role.ADMIN})
# A check-in step in the patient's words, by the state of its check-in (the date is on the
# line beside it, in the viewer's time zone: templates/carepaths/_check_in_line.html).
CHECK_IN_WORDS = {
    "scheduled": "Your care team will check in with you to see how you are doing.",
    "sent": "Your care team would like to know how you are doing.",
    "answered": "Thank you for answering your check-in. A clinician will read your answers.",
}
LIST_LIMIT = 500


# --- Definitions -------------------------------------------------------------------------------


def service_line_by_code(code: str) -> ServiceLine | None:
    return ServiceLine.objects.select_related("specialty").filter(code=code).first()


def current_definitions() -> list[tuple[ServiceLine, CarePathDefinition | None]]:
    """Every service line with the newest version of its path (None: no path yet)."""
    latest: dict[int, CarePathDefinition] = {}
    for definition in CarePathDefinition.objects.order_by("service_line_id", "-version"):
        latest.setdefault(definition.service_line_id, definition)
    return [(line, latest.get(line.pk)) for line in ServiceLine.objects.all()]


def definition_versions(line: ServiceLine) -> QuerySet[CarePathDefinition]:
    return CarePathDefinition.objects.filter(service_line=line).select_related("created_by")


def definition_of(line: ServiceLine, version: int | None = None) -> CarePathDefinition | None:
    versions = definition_versions(line)
    if version is not None:
        return versions.filter(version=version).first()
    return versions.order_by("-version").first()


# --- Where episodes stand ----------------------------------------------------------------------


@dataclass
class PathRow:
    path: EpisodePath
    care_path: CarePath
    step: Step | None
    time_in_step: dt.timedelta
    stuck: bool
    clinician: str = ""
    pending_check_in: dt.datetime | None = None
    # The check-in the episode is about now: the pending one (planned, or sent and waiting
    # for answers), else the newest answered one still waiting for its review.
    check_in: CheckIn | None = None

    @property
    def episode(self) -> Episode:
        return self.path.episode

    @property
    def step_label(self) -> str:
        return self.step.label if self.step is not None else self.path.current_step

    @property
    def plain_words(self) -> str:
        return self.step.plain_words if self.step is not None else ""

    @property
    def patient_words(self) -> str:
        """Where the patient stands, in plain words that stay true: once the check-in was
        sent (or answered) the check-in step no longer says "we will send"."""
        if self.path.status == PathStatus.COMPLETED:
            return "This episode of care is complete."
        if self.step is not None and self.step.kind == "check_in" and self.check_in is not None:
            words = CHECK_IN_WORDS.get(self.check_in.status)
            if words:
                return words
        return self.plain_words or "Your care team is looking after your care."

    @property
    def hours_in_step(self) -> int:
        return int(self.time_in_step.total_seconds() // 3600)


def is_stuck(path: EpisodePath, now: dt.datetime) -> bool:
    return (
        path.status == PathStatus.ACTIVE and path.step_due_at is not None and now > path.step_due_at
    )


def _base_paths() -> QuerySet[EpisodePath]:
    return EpisodePath.objects.select_related(
        "episode__patient", "episode__service_line", "definition"
    )


def visible_paths(user: User) -> QuerySet[EpisodePath]:
    """Paths this user may list: see the module docstring."""
    paths = _base_paths()
    if user.role in OVERVIEW_ROLES:
        return paths
    if user.role == Role.PATIENT:
        return paths.filter(episode__patient=user)
    return paths.filter(episode__patient_id__in=patients_visible_to(user).values("user_id"))


@dataclass
class PathFilters:
    service_line: str = ""
    step: str = ""
    stuck: bool = False
    include_completed: bool = False


def _filtered(paths: QuerySet[EpisodePath], filters: PathFilters) -> QuerySet[EpisodePath]:
    if not filters.include_completed:
        paths = paths.filter(status=PathStatus.ACTIVE)
    if filters.service_line:
        paths = paths.filter(episode__service_line__code=filters.service_line)
    if filters.step:
        paths = paths.filter(current_step=filters.step)
    if filters.stuck:
        paths = paths.filter(status=PathStatus.ACTIVE, step_due_at__lt=clock.now())
    return paths


def _last_clinicians(episode_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    encounters = (
        Encounter.objects.filter(episode_id__in=episode_ids, clinician__isnull=False)
        .select_related("clinician")
        .order_by("episode_id", "-started_at", "-created_at", "-pk")
    )
    for encounter in encounters:
        if encounter.episode_id not in found and encounter.clinician is not None:
            found[encounter.episode_id] = encounter.clinician.display_name
    return found


def _current_check_ins(episode_ids: list[int]) -> dict[int, CheckIn]:
    """Per episode: its pending check-in, else its newest one answered and not yet reviewed."""
    found: dict[int, CheckIn] = {}
    current = (
        CheckIn.objects.filter(episode_id__in=episode_ids)
        .filter(PENDING | Q(answered_at__isnull=False, reviewed_at__isnull=True))
        .order_by("episode_id", "-pk")
    )
    for check_in in current:
        pending = check_in.is_pending
        held = found.get(check_in.episode_id)
        if held is None or (pending and not held.is_pending):
            found[check_in.episode_id] = check_in
    return found


def _unsent_due(check_in: CheckIn | None) -> dt.datetime | None:
    if check_in is None or check_in.sent_at is not None or not check_in.is_pending:
        return None
    return check_in.due_at


def rows_for(paths: list[EpisodePath]) -> list[PathRow]:
    now = clock.now()
    episode_ids = [path.episode_id for path in paths]
    clinicians = _last_clinicians(episode_ids)
    check_ins = _current_check_ins(episode_ids)
    parsed: dict[int, CarePath] = {}
    rows = []
    for path in paths:
        care_path = parsed.setdefault(path.definition_id, parse_path(path.definition.definition))
        rows.append(
            PathRow(
                path=path,
                care_path=care_path,
                step=care_path.step(path.current_step),
                time_in_step=max(now - path.entered_at, dt.timedelta(0)),
                stuck=is_stuck(path, now),
                clinician=clinicians.get(path.episode_id, ""),
                pending_check_in=_unsent_due(check_ins.get(path.episode_id)),
                check_in=check_ins.get(path.episode_id),
            )
        )
    return rows


def audit_listing(user: User, rows: list[PathRow]) -> None:
    """One audit event per patient shown, in one transaction."""
    by_patient: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        by_patient[row.episode.patient_id].append(row.episode.pk)
    if not by_patient:
        return
    with transaction.atomic():
        for patient_id, episode_ids in by_patient.items():
            do_record_audit(
                "care_path.list",
                actor=user,
                object_type="episode",
                object_id=episode_ids[0] if len(episode_ids) == 1 else "",
                patient_id=patient_id,
                detail={"episode_ids": episode_ids},
            )


def list_paths(user: User, filters: PathFilters) -> list[PathRow]:
    """The paths this user may see, filtered, longest in their step first; audited."""
    paths = list(_filtered(visible_paths(user), filters).order_by("entered_at", "pk")[:LIST_LIMIT])
    rows = rows_for(paths)
    audit_listing(user, rows)
    return rows


@dataclass
class StepCount:
    service_line: str
    step: str
    label: str
    count: int
    stuck: int


def counts_per_step(user: User, service_line: str = "") -> list[StepCount]:
    """Active paths per (service line, step), with how many are stuck. Numbers only."""
    now = clock.now()
    paths = visible_paths(user).filter(status=PathStatus.ACTIVE)
    if service_line:
        paths = paths.filter(episode__service_line__code=service_line)
    counts: dict[tuple[str, str], StepCount] = {}
    parsed: dict[int, CarePath] = {}
    for path in paths[: LIST_LIMIT * 10]:
        line = path.episode.service_line
        code = line.code if line is not None else ""
        care_path = parsed.setdefault(path.definition_id, parse_path(path.definition.definition))
        step = care_path.step(path.current_step)
        entry = counts.setdefault(
            (code, path.current_step),
            StepCount(code, path.current_step, step.label if step else path.current_step, 0, 0),
        )
        entry.count += 1
        entry.stuck += int(is_stuck(path, now))
    return sorted(counts.values(), key=lambda c: (c.service_line, -c.count, c.step))


def may_see_path(user: User, episode: Episode) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.role in OVERVIEW_ROLES:
        return True
    return may_access_patient(user, episode.patient_id)


def access_episode_path(
    user: User, episode_id: int, *, action: str = "care_path.read"
) -> EpisodePath:
    path = _base_paths().filter(episode_id=episode_id).first()
    if path is None or not may_see_path(user, path.episode):
        raise deny(user, "care_path", episode_id, path.episode.patient_id if path else None)
    do_record_audit(
        action,
        actor=user,
        object_type="episode",
        object_id=episode_id,
        patient_id=path.episode.patient_id,
    )
    return path


def transitions_of(path: EpisodePath, *, include_ignored: bool = True) -> list[PathTransition]:
    transitions = PathTransition.objects.filter(path=path).select_related("actor")
    if not include_ignored:
        transitions = transitions.exclude(outcome="ignored")
    return list(transitions.order_by("at", "pk"))


@dataclass
class PositionStep:
    label: str  # staff: the step's label; patients: its patient name
    current: bool


@dataclass
class PathPosition:
    """What the episode page shows about the path (see templates/carepaths/_episode_path.html)."""

    episode_id: int
    step_id: str
    label: str
    plain_words: str
    entered_at: dt.datetime
    completed: bool
    stuck: bool
    next_check_in: dt.datetime | None
    for_patient: bool
    check_in: CheckIn | None = None
    may_review: bool = False  # clinicians open check-in reviews; the link is theirs only
    steps: list[PositionStep] = field(default_factory=list)


def position_steps(row: PathRow, *, for_patient: bool) -> list[PositionStep]:
    """The path's steps for a list: patients read patient names, and the final step only
    once reached (staff see every step by its label)."""
    completed = row.path.status == PathStatus.COMPLETED
    return [
        PositionStep(
            label=step.patient_name if for_patient else step.label,
            current=step.id == row.path.current_step,
        )
        for step in row.care_path.ordered
        if not (for_patient and step.is_final and not completed)
    ]


def path_position(viewer: User, episode: Episode) -> PathPosition | None:
    """Where an (already authorized) episode stands, for the viewer; None without a path."""
    path = EpisodePath.objects.select_related("definition").filter(episode=episode).first()
    if path is None:
        return None
    row = rows_for([_with_episode(path, episode)])[0]
    for_patient = viewer.role == Role.PATIENT
    return PathPosition(
        episode_id=episode.pk,
        step_id=path.current_step,
        label=row.step_label,
        plain_words=row.patient_words,
        entered_at=path.entered_at,
        completed=path.status == PathStatus.COMPLETED,
        stuck=row.stuck,
        next_check_in=row.pending_check_in,
        for_patient=for_patient,
        check_in=row.check_in,
        may_review=viewer.role == Role.CLINICIAN,
        steps=position_steps(row, for_patient=for_patient),
    )


def _with_episode(path: EpisodePath, episode: Episode) -> EpisodePath:
    path.episode = episode
    return path


# --- Check-ins ---------------------------------------------------------------------------------


def _check_ins() -> QuerySet[CheckIn]:
    return CheckIn.objects.select_related(
        "episode__patient", "episode__service_line", "questionnaire", "work_item", "reviewed_by"
    )


def may_see_check_in(user: User, check_in: CheckIn) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.role == Role.PATIENT:
        return check_in.episode.patient_id == user.pk and check_in.sent_at is not None
    return may_access_patient(user, check_in.episode.patient_id)


def access_check_in(user: User, check_in_id: int, *, action: str = "check_in.read") -> CheckIn:
    check_in = _check_ins().filter(pk=check_in_id).first()
    if check_in is None or not may_see_check_in(user, check_in):
        raise deny(user, "check_in", check_in_id, check_in.episode.patient_id if check_in else None)
    do_record_audit(
        action,
        actor=user,
        object_type="check_in",
        object_id=check_in.pk,
        patient_id=check_in.episode.patient_id,
    )
    return check_in


def check_ins_of_patient(patient: User) -> list[CheckIn]:
    """The patient's check-ins that reached them, newest first."""
    return list(
        _check_ins()
        .filter(episode__patient=patient, sent_at__isnull=False)
        .order_by("-sent_at", "-pk")[:100]
    )


def check_ins_of_episodes(episode_ids: list[int]) -> QuerySet[CheckIn]:
    return _check_ins().filter(episode_id__in=episode_ids).order_by("created_at", "pk")


def due_check_in_ids(now: dt.datetime, limit: int = 1000) -> list[int]:
    return list(
        CheckIn.objects.filter(
            Q(sent_at__isnull=True) & Q(cancelled_at__isnull=True) & Q(due_at__lte=now)
        )
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def holds_check_in(clinician: User, check_in: CheckIn) -> bool:
    item = (
        WorkItem.objects.filter(pk=check_in.work_item_id).first()
        if check_in.work_item_id is not None
        else None
    )
    return (
        item is not None
        and item.status == WorkItemStatus.CLAIMED
        and item.claimed_by_id == clinician.pk
    )
