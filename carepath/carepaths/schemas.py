import datetime as dt
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, StringConstraints

from carepath.accounts.models import Role, User
from carepath.carepaths.models import CarePathDefinition, CheckIn, PathTransition
from carepath.carepaths.selectors import PathRow, StepCount

Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class DefinitionSummaryOut(Schema):
    service_line: str
    service_line_name: str
    version: int | None
    steps: int
    created_at: dt.datetime | None


class DefinitionOut(Schema):
    service_line: str
    service_line_name: str
    version: int
    created_at: dt.datetime
    created_by: str
    definition: dict[str, Any]


class DefinitionIn(Schema):
    definition: dict[str, Any]


def definition_out(definition: CarePathDefinition) -> DefinitionOut:
    line = definition.service_line
    return DefinitionOut(
        service_line=line.code,
        service_line_name=line.name,
        version=definition.version,
        created_at=definition.created_at,
        created_by=definition.created_by.display_name if definition.created_by else "",
        definition=definition.definition,
    )


class EpisodePathOut(Schema):
    episode_id: int
    episode_title: str
    patient_id: int
    patient_name: str
    service_line: str
    definition_version: int
    step: str
    step_label: str
    step_kind: str
    plain_words: str = Field(description="The step in plain words, as the patient reads it.")
    status: str
    entered_at: dt.datetime
    hours_in_step: int
    expected_by: dt.datetime | None
    stuck: bool
    clinician: str
    next_check_in: dt.datetime | None
    check_in_status: str = Field(
        "",
        description="The episode's current check-in: scheduled, sent (waiting for answers), "
        'answered (waiting for review); "" when none.',
    )


def episode_path_out(row: PathRow) -> EpisodePathOut:
    episode = row.episode
    line = episode.service_line
    return EpisodePathOut(
        episode_id=episode.pk,
        episode_title=episode.title,
        patient_id=episode.patient_id,
        patient_name=episode.patient.get_full_name() or episode.patient.display_name,
        service_line=line.code if line is not None else "",
        definition_version=row.path.definition.version,
        step=row.path.current_step,
        step_label=row.step_label,
        step_kind=row.step.kind if row.step is not None else "",
        plain_words=row.patient_words,
        status=row.path.status,
        entered_at=row.path.entered_at,
        hours_in_step=row.hours_in_step,
        expected_by=row.path.step_due_at,
        stuck=row.stuck,
        clinician=row.clinician,
        next_check_in=row.pending_check_in,
        check_in_status=row.check_in.status if row.check_in is not None else "",
    )


class StepCountOut(Schema):
    service_line: str
    step: str
    label: str
    count: int
    stuck: int


def step_count_out(count: StepCount) -> StepCountOut:
    return StepCountOut(**count.__dict__)


class EpisodeListOut(Schema):
    count: int
    counts_per_step: list[StepCountOut]
    episodes: list[EpisodePathOut]


class TransitionOut(Schema):
    at: dt.datetime
    event: str
    outcome: str
    from_step: str
    to_step: str
    actor: str


def transition_out(transition: PathTransition) -> TransitionOut:
    return TransitionOut(
        at=transition.at,
        event=transition.event,
        outcome=transition.outcome,
        from_step=transition.from_step,
        to_step=transition.to_step,
        actor=transition.actor.display_name if transition.actor else "",
    )


class EpisodePathDetailOut(EpisodePathOut):
    transitions: list[TransitionOut]


class QuestionnaireRefOut(Schema):
    id: int
    code: str
    version: int
    title: str
    definition: dict[str, Any]


class CheckInOut(Schema):
    id: int
    episode_id: int
    status: str
    questionnaire: QuestionnaireRefOut
    due_at: dt.datetime
    sent_at: dt.datetime | None
    answered_at: dt.datetime | None
    closed_at: dt.datetime | None = Field(
        None, description="Sent, never answered, and the episode ended: no longer answerable."
    )
    answers: dict[str, Any]
    reviewed_at: dt.datetime | None
    needs_visit: bool
    work_item_id: int | None = Field(None, description="Staff only: the review's work item.")


def check_in_out(check_in: CheckIn, viewer: User) -> CheckInOut:
    questionnaire = check_in.questionnaire
    return CheckInOut(
        id=check_in.pk,
        episode_id=check_in.episode_id,
        status=check_in.status,
        questionnaire=QuestionnaireRefOut(
            id=questionnaire.pk,
            code=questionnaire.code,
            version=questionnaire.version,
            title=questionnaire.title,
            definition=questionnaire.definition,
        ),
        due_at=check_in.due_at,
        sent_at=check_in.sent_at,
        answered_at=check_in.answered_at,
        closed_at=check_in.closed_at,
        answers=check_in.answers if isinstance(check_in.answers, dict) else {},
        reviewed_at=check_in.reviewed_at,
        needs_visit=check_in.needs_visit,
        work_item_id=None if viewer.role == Role.PATIENT else check_in.work_item_id,
    )


class CheckInAnswersIn(Schema):
    answers: dict[str, Any]


class CheckInReviewIn(Schema):
    needs_visit: bool = False
    reason: Reason = ""
