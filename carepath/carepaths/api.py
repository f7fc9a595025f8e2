"""/api/v1/care-paths: definitions (staff read, admins save new versions: 422 lists every
problem), where episodes stand (coordinators and admins: all; clinicians: their patients;
patients: their own, in plain words), and check-ins (patients answer, clinicians review)."""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from carepath.accounts.models import Role
from carepath.carepaths import actions
from carepath.carepaths.definitions import parse_path
from carepath.carepaths.models import CarePathDefinition
from carepath.carepaths.schemas import (
    CheckInAnswersIn,
    CheckInOut,
    CheckInReviewIn,
    DefinitionIn,
    DefinitionOut,
    DefinitionSummaryOut,
    EpisodeListOut,
    EpisodePathDetailOut,
    check_in_out,
    definition_out,
    episode_path_out,
    step_count_out,
    transition_out,
)
from carepath.carepaths.selectors import (
    OVERVIEW_ROLES,
    PathFilters,
    access_check_in,
    access_episode_path,
    check_ins_of_patient,
    counts_per_step,
    current_definitions,
    definition_of,
    list_paths,
    rows_for,
    service_line_by_code,
    transitions_of,
)
from carepath.core.api import current_user, only
from carepath.core.errors import ActionRefused
from carepath.core.idempotency import idempotency_key, idempotent
from carepath.intake.models import ServiceLine

router = Router(tags=["care-paths"])

STAFF = (Role.CLINICIAN, Role.TELEFACILITATOR, Role.COORDINATOR, Role.ADMIN)


def _line(code: str) -> ServiceLine:
    line = service_line_by_code(code)
    if line is None:
        raise ActionRefused("not_found", "No service line with that code.", status=404)
    return line


# --- Definitions -------------------------------------------------------------------------------


@router.get(
    "/definitions",
    response=list[DefinitionSummaryOut],
    summary="The current care path of every service line (staff)",
    auth=only(*STAFF),
)
def list_definitions(request: HttpRequest) -> list[DefinitionSummaryOut]:
    return [
        DefinitionSummaryOut(
            service_line=line.code,
            service_line_name=line.name,
            version=definition.version if definition else None,
            steps=len(parse_path(definition.definition).steps) if definition else 0,
            created_at=definition.created_at if definition else None,
        )
        for line, definition in current_definitions()
    ]


class VersionQuery(Schema):
    version: int | None = None


@router.get(
    "/definitions/{code}",
    response=DefinitionOut,
    summary="A service line's care path: the current version, or ?version=N (staff)",
    auth=only(*STAFF),
)
def get_definition(request: HttpRequest, code: str, query: Query[VersionQuery]) -> DefinitionOut:
    definition = definition_of(_line(code), query.version)
    if definition is None:
        raise ActionRefused("not_found", "This service line has no such care path.", status=404)
    return definition_out(definition)


@router.post(
    "/definitions/{code}",
    response={201: DefinitionOut},
    summary="Save a new version of the service line's care path (admin); 422 lists problems. "
    "Idempotency-Key.",
    auth=only(Role.ADMIN),
)
def save_definition(
    request: HttpRequest, code: str, payload: DefinitionIn
) -> Status[dict[str, Any]]:
    admin = current_user(request)
    line = _line(code)

    def create() -> tuple[int, Any]:
        saved: CarePathDefinition = actions.do_save_definition(admin, line, payload.definition)
        return 201, definition_out(saved).model_dump(mode="json")

    key = idempotency_key(request)
    status, body = idempotent(
        admin, key, "carepaths.definition.save", {"code": code, **payload.model_dump()}, create
    )
    return Status(status, body)


# --- Episodes ----------------------------------------------------------------------------------


class EpisodeQuery(Schema):
    service_line: str = ""
    step: str = ""
    stuck: bool = False
    include_completed: bool = False


@router.get(
    "/episodes",
    response=EpisodeListOut,
    summary="Episodes on a care path with their step, time in step and stuck flag. "
    "Coordinators and admins: all; clinicians: their patients; patients: their own.",
)
def list_episodes(request: HttpRequest, query: Query[EpisodeQuery]) -> EpisodeListOut:
    user = current_user(request)
    filters = PathFilters(
        service_line=query.service_line[:60],
        step=query.step[:64],
        stuck=query.stuck,
        include_completed=query.include_completed,
    )
    rows = list_paths(user, filters)
    counts = counts_per_step(user, filters.service_line) if user.role in OVERVIEW_ROLES else []
    return EpisodeListOut(
        count=len(rows),
        counts_per_step=[step_count_out(count) for count in counts],
        episodes=[episode_path_out(row) for row in rows],
    )


@router.get(
    "/episodes/{episode_id}",
    response=EpisodePathDetailOut,
    summary="Where one episode stands, with its transitions (patients: not the ignored events)",
)
def get_episode(request: HttpRequest, episode_id: int) -> EpisodePathDetailOut:
    user = current_user(request)
    path = access_episode_path(user, episode_id)
    row = rows_for([path])[0]
    transitions = transitions_of(path, include_ignored=user.role != Role.PATIENT)
    return EpisodePathDetailOut(
        **episode_path_out(row).model_dump(),
        transitions=[transition_out(t) for t in transitions],
    )


# --- Check-ins ---------------------------------------------------------------------------------


@router.get(
    "/check-ins",
    response=list[CheckInOut],
    summary="My check-ins (patient)",
    auth=only(Role.PATIENT),
)
def list_check_ins(request: HttpRequest) -> list[CheckInOut]:
    patient = current_user(request)
    return [check_in_out(check_in, patient) for check_in in check_ins_of_patient(patient)]


@router.get(
    "/check-ins/{check_in_id}",
    response=CheckInOut,
    summary="One check-in with its questionnaire (its patient once sent, or staff with access)",
)
def get_check_in(request: HttpRequest, check_in_id: int) -> CheckInOut:
    user = current_user(request)
    return check_in_out(access_check_in(user, check_in_id), user)


@router.put(
    "/check-ins/{check_in_id}/draft",
    response=CheckInOut,
    summary="Save unfinished answers (patient)",
    auth=only(Role.PATIENT),
)
def save_draft(request: HttpRequest, check_in_id: int, payload: CheckInAnswersIn) -> CheckInOut:
    patient = current_user(request)
    check_in = access_check_in(patient, check_in_id, action="check_in.save_draft")
    return check_in_out(actions.do_save_check_in_draft(patient, check_in, payload.answers), patient)


@router.post(
    "/check-ins/{check_in_id}/answers",
    response=CheckInOut,
    summary="Answer the check-in (patient): checked like intake answers (422 lists problems); "
    "puts it on the clinicians' queue. Idempotency-Key.",
    auth=only(Role.PATIENT),
)
def answer(
    request: HttpRequest, check_in_id: int, payload: CheckInAnswersIn
) -> Status[dict[str, Any]]:
    patient = current_user(request)
    check_in = access_check_in(patient, check_in_id, action="check_in.answer")

    def create() -> tuple[int, Any]:
        answered = actions.do_answer_check_in(patient, check_in, payload.answers)
        return 200, check_in_out(answered, patient).model_dump(mode="json")

    key = idempotency_key(request)
    status, body = idempotent(
        patient,
        key,
        "carepaths.check_in.answer",
        {"check_in_id": check_in_id, **payload.model_dump()},
        create,
    )
    return Status(status, body)


@router.post(
    "/check-ins/{check_in_id}/review",
    response=CheckInOut,
    summary="Mark the check-in reviewed (the clinician holding its work item); needs_visit "
    "with a reason also requests a video visit",
    auth=only(Role.CLINICIAN),
)
def review(request: HttpRequest, check_in_id: int, payload: CheckInReviewIn) -> CheckInOut:
    clinician = current_user(request)
    check_in = access_check_in(clinician, check_in_id, action="check_in.review")
    reviewed = actions.do_review_check_in(
        clinician, check_in, needs_visit=payload.needs_visit, reason=payload.reason
    )
    return check_in_out(reviewed, clinician)
