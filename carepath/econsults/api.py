"""/api/v1/econsults: a clinician asks a specialty about a patient; a specialist who claimed
it in the work queue answers. Files are uploaded first through /api/v1/files."""

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from carepath.accounts.models import STAFF_ROLES, Role
from carepath.accounts.permissions import check_role
from carepath.core.api import current_user, only
from carepath.core.idempotency import idempotency_key, idempotent
from carepath.econsults.actions import do_answer_econsult, do_ask_econsult
from carepath.econsults.models import EConsult
from carepath.econsults.schemas import EConsultAnswerIn, EConsultIn, EConsultOut, econsult_out
from carepath.econsults.selectors import access_econsult, attachments_of, econsults_for

router = Router(tags=["econsults"])

CLINICIAN = frozenset({Role.CLINICIAN})


def full_out(econsult: EConsult) -> EConsultOut:
    return econsult_out(econsult, attachments_of(econsult))


@router.post(
    "",
    response={201: EConsultOut},
    summary="Ask a specialty about a patient you care for (clinician). Idempotency-Key.",
    auth=only(Role.CLINICIAN),
)
def ask(request: HttpRequest, payload: EConsultIn) -> Status[dict[str, Any]]:
    asker = current_user(request)
    check_role(asker, CLINICIAN, "econsult.create")

    def create() -> tuple[int, Any]:
        econsult = do_ask_econsult(
            asker,
            payload.patient_id,
            specialty_code=payload.specialty,
            question=payload.question,
            file_ids=payload.file_ids,
            episode_id=payload.episode_id,
        )
        return 201, full_out(econsult).model_dump(mode="json")

    status, body = idempotent(
        asker, idempotency_key(request), "econsult.create", payload.model_dump(mode="json"), create
    )
    return Status(status, body)


@router.get(
    "",
    response=list[EConsultOut],
    summary="eConsults I asked or answered",
    auth=only(Role.CLINICIAN),
)
def list_mine(request: HttpRequest) -> list[EConsultOut]:
    user = current_user(request)
    check_role(user, CLINICIAN, "econsult.list")
    econsults = list(econsults_for(user)[:200])
    return [full_out(access_econsult(user, e.pk, action="econsult.list")) for e in econsults]


@router.get(
    "/{econsult_id}",
    response=EConsultOut,
    auth=only(*STAFF_ROLES),
)
def get_one(request: HttpRequest, econsult_id: int) -> EConsultOut:
    return full_out(access_econsult(current_user(request), econsult_id))


@router.post(
    "/{econsult_id}/answer",
    response=EConsultOut,
    summary="Answer (the specialist holding the work item); the asker is notified",
    auth=only(Role.CLINICIAN),
)
def answer(request: HttpRequest, econsult_id: int, payload: EConsultAnswerIn) -> EConsultOut:
    specialist = current_user(request)
    check_role(specialist, CLINICIAN, "econsult.answer")
    econsult = access_econsult(specialist, econsult_id, action="econsult.answer")
    return full_out(do_answer_econsult(specialist, econsult, payload.answer))
