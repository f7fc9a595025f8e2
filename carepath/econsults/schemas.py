import datetime as dt
from typing import Annotated

from ninja import Schema
from pydantic import Field, StringConstraints

from carepath.econsults.models import EConsult, EConsultAttachment, EConsultStatus


class EConsultIn(Schema):
    patient_id: int
    specialty: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
    question: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=10, max_length=5000)
    ]
    file_ids: list[int] = Field(default_factory=list, max_length=10)
    episode_id: int | None = None


class EConsultAnswerIn(Schema):
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class EConsultFileOut(Schema):
    file_id: int
    kind: str
    content_type: str
    url: str
    thumbnail_url: str | None


class EConsultOut(Schema):
    id: int
    status: EConsultStatus
    patient_id: int
    asker: str
    specialty: str
    state_at_request: str
    question: str
    files: list[EConsultFileOut]
    answer: str
    answered_by: str | None
    answered_at: dt.datetime | None
    created_at: dt.datetime
    encounter_id: int
    work_item_id: int | None


def econsult_out(econsult: EConsult, attachments: list[EConsultAttachment]) -> EConsultOut:
    return EConsultOut(
        id=econsult.pk,
        status=EConsultStatus(econsult.status),
        patient_id=econsult.patient_id,
        asker=econsult.asker.display_name,
        specialty=econsult.specialty.code,
        state_at_request=econsult.state_at_request,
        question=econsult.question,
        files=[
            EConsultFileOut(
                file_id=a.file_id,
                kind=a.file.kind,
                content_type=a.file.content_type,
                url=f"/files/{a.file_id}/",
                thumbnail_url=f"/files/{a.file_id}/thumbnail/" if a.file.thumbnail_key else None,
            )
            for a in attachments
        ],
        answer=econsult.answer,
        answered_by=econsult.answered_by.display_name if econsult.answered_by else None,
        answered_at=econsult.answered_at,
        created_at=econsult.created_at,
        encounter_id=econsult.encounter_id,
        work_item_id=econsult.work_item_id,
    )
