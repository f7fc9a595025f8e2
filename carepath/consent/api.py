import datetime as dt
from typing import Annotated

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field, StringConstraints

from carepath.accounts.models import Role
from carepath.accounts.permissions import check_role
from carepath.consent.actions import (
    do_accept_consents,
    do_publish_consent_document,
    do_revoke_telehealth_consent,
)
from carepath.consent.models import ConsentDocument, ConsentKind
from carepath.consent.selectors import acceptance_history, pending_documents
from carepath.core.api import current_user, only
from carepath.core.request_context import client_ip
from carepath.core.us_states import UsState

router = Router(tags=["consent"])


class DocumentOut(Schema):
    id: int
    kind: ConsentKind
    state: str
    version: int
    title: str
    body: str
    effective_at: dt.datetime


class AcceptanceOut(Schema):
    document_id: int
    kind: str
    version: int
    accepted_at: dt.datetime
    revoked_at: dt.datetime | None


class ConsentStatusOut(Schema):
    has_current_consent: bool
    pending: list[DocumentOut]
    history: list[AcceptanceOut]


class AcceptIn(Schema):
    document_ids: list[int] = Field(min_length=1, max_length=10)


class RevokeIn(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""


class DocumentIn(Schema):
    kind: ConsentKind
    state: UsState | None = None
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    body: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50000)]


def status_out(request: HttpRequest) -> ConsentStatusOut:
    patient = current_user(request)
    check_role(patient, {Role.PATIENT}, "consent.read")
    pending = pending_documents(patient)
    history = [
        AcceptanceOut(
            document_id=a.document_id,
            kind=a.document.kind,
            version=a.document.version,
            accepted_at=a.accepted_at,
            revoked_at=a.revoked_at,
        )
        for a in acceptance_history(patient)
    ]
    return ConsentStatusOut(
        has_current_consent=not pending,
        pending=[DocumentOut.model_validate(d, from_attributes=True) for d in pending],
        history=history,
    )


@router.get(
    "",
    response=ConsentStatusOut,
    summary="My consent status and history (patient)",
    auth=only(Role.PATIENT),
)
def get_consent(request: HttpRequest) -> ConsentStatusOut:
    return status_out(request)


@router.post(
    "/accept",
    response=ConsentStatusOut,
    summary="Accept the current documents",
    auth=only(Role.PATIENT),
)
def accept(request: HttpRequest, payload: AcceptIn) -> ConsentStatusOut:
    patient = current_user(request)
    do_accept_consents(
        patient,
        payload.document_ids,
        ip_address=client_ip(request),
        user_agent=request.headers.get("User-Agent", ""),
    )
    return status_out(request)


@router.post(
    "/revoke",
    response=ConsentStatusOut,
    summary="Revoke telehealth consent",
    auth=only(Role.PATIENT),
)
def revoke(request: HttpRequest, payload: RevokeIn) -> ConsentStatusOut:
    patient = current_user(request)
    check_role(patient, {Role.PATIENT}, "consent.revoke")
    do_revoke_telehealth_consent(patient, payload.reason)
    return status_out(request)


@router.get(
    "/documents",
    response=list[DocumentOut],
    summary="All consent versions (admin)",
    auth=only(Role.ADMIN),
)
def list_documents(request: HttpRequest) -> list[ConsentDocument]:
    check_role(current_user(request), {Role.ADMIN}, "consent_document.list")
    return list(ConsentDocument.objects.all())


@router.post(
    "/documents",
    response={201: DocumentOut},
    summary="Publish a new consent version (admin)",
    auth=only(Role.ADMIN),
)
def publish_document(request: HttpRequest, payload: DocumentIn) -> Status[ConsentDocument]:
    admin = current_user(request)
    check_role(admin, {Role.ADMIN}, "consent_document.publish")
    document = do_publish_consent_document(
        admin, kind=payload.kind, state=payload.state or "", title=payload.title, body=payload.body
    )
    return Status(201, document)
