"""/api/v1/visits: links, guest invites, admission, on-demand requests, ICE servers, chat
history, vitals, the in-visit note and ending the visit. Guests (no account) reach the
endpoints marked "guest" with the browser session their link opened."""

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import Http404, HttpRequest
from ninja import Router, Schema, Status
from ninja.utils import check_csrf
from pydantic import EmailStr, Field, StringConstraints

from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.care.actions import do_save_note_draft, do_sign_note
from carepath.care.models import ClinicalNote, NoteStatus
from carepath.core.api import SAFE_METHODS, SessionOrToken, only
from carepath.core.errors import ActionRefused
from carepath.visits import actions
from carepath.visits.ice import ice_configuration
from carepath.visits.models import (
    AdmissionState,
    Participant,
    ParticipantRole,
    Visit,
    VisitEvent,
    VisitEventKind,
    VisitLink,
)
from carepath.visits.protocol import VITALS
from carepath.visits.selectors import (
    SESSION_KEY,
    chat_history,
    chat_out,
    entitled_role,
    estimate_wait,
    find_participant,
    lobby_of,
    vitals_of,
)

router = Router(tags=["visits"])


class VisitGuestSession:
    """A browser without an account that opened a visit link: its session names the visit
    participant it stands for. Unsafe methods need the CSRF token, as for any session."""

    def __call__(self, request: HttpRequest) -> str | None:
        session = getattr(request, "session", None)
        if session is None or not session.get(SESSION_KEY):
            return None
        if request.method not in SAFE_METHODS and check_csrf(request):
            raise ActionRefused(
                "csrf_failed",
                "CSRF token missing or incorrect; send X-CSRFToken with session requests.",
                status=403,
            )
        return "guest"


USER_OR_GUEST = [SessionOrToken(), VisitGuestSession()]


def _user(request: HttpRequest) -> User | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, User) else None


def _staff(request: HttpRequest) -> User:
    user = _user(request)
    if user is None:
        raise ActionRefused("not_authenticated", "Sign in.", status=401)
    return user


def _participant(request: HttpRequest, visit_id: int, *, action: str) -> Participant:
    """The caller's participant row in the visit (404, audited, for anyone else)."""
    user = _user(request)
    participant = find_participant(visit_id, user, request.session)
    if participant is None and user is not None:
        visit = Visit.objects.filter(pk=visit_id).first()
        if visit is not None and entitled_role(user, visit) is not None:
            participant = actions.do_ensure_participant(visit, user)
    if participant is None:
        visit = Visit.objects.filter(pk=visit_id).only("patient_id").first()
        do_record_audit(
            action,
            actor=user,
            object_type="visit",
            object_id=visit_id,
            patient_id=visit.patient_id if visit else None,
            outcome=Outcome.DENIED,
        )
        raise Http404("No visit with that id.")
    return participant


def _admitted(request: HttpRequest, visit_id: int, *, action: str) -> Participant:
    participant = _participant(request, visit_id, action=action)
    if participant.state != AdmissionState.ADMITTED:
        raise ActionRefused("not_admitted", "Wait for the clinician to admit you.", status=403)
    return participant


def _clinician_visit(request: HttpRequest, visit_id: int, action: str) -> tuple[User, Visit]:
    user = _staff(request)
    visit = Visit.objects.filter(pk=visit_id).first()
    if visit is None or visit.clinician_id != user.pk:
        do_record_audit(
            action,
            actor=user,
            object_type="visit",
            object_id=visit_id,
            patient_id=visit.patient_id if visit else None,
            outcome=Outcome.DENIED,
        )
        raise Http404("No visit with that id.")
    return user, visit


# --- Schemas -----------------------------------------------------------------------------


class VisitOut(Schema):
    id: int
    kind: str
    status: str
    mode: str
    facilitated: bool
    starts_at: dt.datetime
    ends_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_seconds: int | None
    encounter_id: int | None
    appointment_id: int | None
    clinician_name: str
    wait_url: str
    room_url: str


def visit_out(visit: Visit) -> VisitOut:
    return VisitOut(
        id=visit.pk,
        kind=visit.kind,
        status=visit.status,
        mode=visit.mode,
        facilitated=visit.facilitated,
        starts_at=visit.starts_at,
        ends_at=visit.ends_at,
        started_at=visit.started_at,
        ended_at=visit.ended_at,
        duration_seconds=visit.duration_seconds,
        encounter_id=visit.encounter_id,
        appointment_id=visit.appointment_id,
        clinician_name=visit.clinician.display_name if visit.clinician else "",
        wait_url=f"/visits/{visit.pk}/wait/",
        room_url=f"/visits/{visit.pk}/",
    )


class OnDemandIn(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    service: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""


class WaitOut(Schema):
    visit_id: int
    kind: str
    status: str
    admitted: bool
    ahead: int
    estimated_wait_minutes: int


class OnDemandOut(Schema):
    visit: VisitOut
    wait: WaitOut


class LinkIn(Schema):
    role: Literal["patient", "clinician", "telefacilitator", "interpreter", "caregiver"]
    user_id: int


class InviteIn(Schema):
    role: Literal["interpreter", "caregiver"]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    email: EmailStr | None = None


class LinkOut(Schema):
    id: int
    role: str
    url: str | None
    label: str
    single_use: bool
    valid_from: dt.datetime
    valid_until: dt.datetime
    consumed_at: dt.datetime | None
    revoked_at: dt.datetime | None


def link_out(link: VisitLink, token: str | None = None) -> LinkOut:
    return LinkOut(
        id=link.pk,
        role=link.role,
        url=actions.link_path(link.visit_id, token) if token else None,
        label=link.label,
        single_use=link.single_use,
        valid_from=link.valid_from,
        valid_until=link.valid_until,
        consumed_at=link.consumed_at,
        revoked_at=link.revoked_at,
    )


class ParticipantOut(Schema):
    id: int
    role: str
    name: str
    state: str
    present: bool
    checked_in: bool


class CheckInIn(Schema):
    camera: bool = False
    microphone: bool = False


class IceOut(Schema):
    iceServers: list[dict[str, Any]]  # noqa: N815 - RTCConfiguration's own spelling
    iceTransportPolicy: str  # noqa: N815
    ttl: int


class ChatOut(Schema):
    id: int
    from_: int = Field(alias="from")
    name: str
    role: str
    text: str
    sent_at: dt.datetime


class ChatIn(Schema):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class VitalsIn(Schema):
    values: dict[str, float]


class ObservationOut(Schema):
    id: int
    panel: str
    code: str
    display: str
    value: float
    unit: str
    recorded_at: dt.datetime
    recorded_by: str


class ModeEventOut(Schema):
    at: dt.datetime
    from_mode: str
    to_mode: str


class NoteIn(Schema):
    subjective: Annotated[str, StringConstraints(max_length=20_000)] = ""
    objective: Annotated[str, StringConstraints(max_length=20_000)] = ""
    assessment: Annotated[str, StringConstraints(max_length=20_000)] = ""
    plan: Annotated[str, StringConstraints(max_length=20_000)] = ""


class NoteOut(Schema):
    id: int | None
    status: str
    subjective: str
    objective: str
    assessment: str
    plan: str
    signed_at: dt.datetime | None


# --- Endpoints ---------------------------------------------------------------------------


@router.post(
    "/on-demand",
    auth=only(Role.PATIENT),
    response={201: OnDemandOut},
    summary="See the next available clinician (patients): a request in the shared queue",
)
def request_on_demand(request: HttpRequest, payload: OnDemandIn) -> Status[OnDemandOut]:
    patient = _staff(request)
    visit = actions.do_request_on_demand(
        patient, reason=payload.reason, specialty_code=payload.service
    )
    return Status(201, OnDemandOut(visit=visit_out(visit), wait=_wait(visit, admitted=False)))


def _wait(visit: Visit, *, admitted: bool) -> WaitOut:
    estimate = estimate_wait(visit)
    return WaitOut(
        visit_id=visit.pk,
        kind=visit.kind,
        status=visit.status,
        admitted=admitted,
        ahead=estimate.ahead,
        estimated_wait_minutes=estimate.minutes,
    )


@router.get("/{visit_id}", response=VisitOut, auth=USER_OR_GUEST, summary="One visit (guest)")
def get_visit(request: HttpRequest, visit_id: int) -> VisitOut:
    participant = _participant(request, visit_id, action="visit.read")
    return visit_out(participant.visit)


@router.get(
    "/{visit_id}/wait",
    response=WaitOut,
    auth=USER_OR_GUEST,
    summary="Waiting status and the expected wait (guest)",
)
def get_wait(request: HttpRequest, visit_id: int) -> WaitOut:
    participant = _participant(request, visit_id, action="visit.read")
    return _wait(participant.visit, admitted=participant.state == AdmissionState.ADMITTED)


@router.post(
    "/{visit_id}/take",
    auth=only(Role.CLINICIAN),
    response=VisitOut,
    summary="Claim an on-demand request and bring the patient in (clinicians)",
)
def take_on_demand(request: HttpRequest, visit_id: int) -> VisitOut:
    return visit_out(actions.do_take_on_demand(_staff(request), visit_id))


@router.post(
    "/appointments/{appointment_id}/open",
    auth=only(Role.PATIENT, Role.CLINICIAN),
    response=VisitOut,
    summary="The visit room of a booked appointment (its patient or clinician)",
)
def open_for_appointment(request: HttpRequest, appointment_id: int) -> VisitOut:
    from carepath.scheduling.selectors import access_appointment

    user = _staff(request)
    appointment = access_appointment(user, appointment_id)
    if user.pk not in (appointment.patient_id, appointment.clinician_id):
        raise ActionRefused("forbidden", "Only the patient or the clinician opens it.", status=403)
    return visit_out(actions.do_open_visit_for_appointment(appointment, by=user))


@router.post(
    "/{visit_id}/links",
    auth=only(Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN),
    response={201: LinkOut},
    summary="A signed link for one participant with an account (clinician, coordinator)",
)
def create_link(request: HttpRequest, visit_id: int, payload: LinkIn) -> Status[LinkOut]:
    user = _staff(request)
    visit = Visit.objects.filter(pk=visit_id).first()
    if visit is None or user.role not in (Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN):
        raise Http404("No visit with that id.")
    target = User.objects.filter(pk=payload.user_id, is_active=True).first()
    if target is None:
        raise ActionRefused("unknown_user", "No active user with that id.", field="user_id")
    link, token = actions.do_issue_link(visit, by=user, role=payload.role, user=target)
    return Status(201, link_out(link, token))


@router.post(
    "/{visit_id}/invites",
    response={201: LinkOut},
    auth=USER_OR_GUEST,
    summary="Invite a caregiver or interpreter (the visit's patient or clinician): single use",
)
def invite_guest(request: HttpRequest, visit_id: int, payload: InviteIn) -> Status[LinkOut]:
    participant = _participant(request, visit_id, action="visit_invite.create")
    if participant.user is None or participant.role not in (
        ParticipantRole.PATIENT,
        ParticipantRole.CLINICIAN,
    ):
        raise ActionRefused("forbidden", "The patient or the clinician invites guests.", status=403)
    link, token = actions.do_invite_guest(
        participant.visit,
        by=participant.user,
        role=payload.role,
        name=payload.name,
        email=str(payload.email or ""),
        base_url=request.build_absolute_uri("/").rstrip("/"),
    )
    return Status(201, link_out(link, token))


@router.get(
    "/{visit_id}/links",
    auth=only(Role.CLINICIAN),
    response=list[LinkOut],
    summary="A visit's links (clinician)",
)
def list_links(request: HttpRequest, visit_id: int) -> list[LinkOut]:
    _, visit = _clinician_visit(request, visit_id, "visit_link.list")
    return [link_out(link) for link in VisitLink.objects.filter(visit=visit)]


@router.post(
    "/links/{link_id}/revoke",
    auth=only(Role.PATIENT, Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN),
    response=LinkOut,
    summary="Cancel a link",
)
def revoke_link(request: HttpRequest, link_id: int) -> LinkOut:
    return link_out(actions.do_revoke_link(_staff(request), link_id))


@router.get(
    "/{visit_id}/participants",
    auth=only(Role.CLINICIAN),
    response=list[ParticipantOut],
    summary="Who is waiting and who is in (the visit's clinician)",
)
def list_participants(request: HttpRequest, visit_id: int) -> list[dict[str, Any]]:
    _clinician_visit(request, visit_id, "visit.lobby")
    return lobby_of(visit_id)


@router.post(
    "/{visit_id}/participants/{participant_id}/admit",
    auth=only(Role.CLINICIAN),
    response=ParticipantOut,
    summary="Let a waiting participant in (the visit's clinician only)",
)
def admit(request: HttpRequest, visit_id: int, participant_id: int) -> dict[str, Any]:
    participant = actions.do_admit(_staff(request), visit_id, participant_id)
    return _participant_dict(participant)


@router.post(
    "/{visit_id}/participants/{participant_id}/remove",
    auth=only(Role.CLINICIAN),
    response=ParticipantOut,
    summary="Remove a participant (the visit's clinician only)",
)
def remove(request: HttpRequest, visit_id: int, participant_id: int) -> dict[str, Any]:
    participant = actions.do_remove_participant(_staff(request), visit_id, participant_id)
    return _participant_dict(participant)


def _participant_dict(participant: Participant) -> dict[str, Any]:
    return {
        "id": participant.pk,
        "role": participant.role,
        "name": participant.display_name,
        "state": participant.state,
        "present": bool(participant.room_channel),
        "checked_in": participant.checked_in_at is not None,
    }


@router.post(
    "/{visit_id}/check-in",
    response=WaitOut,
    auth=USER_OR_GUEST,
    summary="Check in to the waiting room with the device check result (guest)",
)
def check_in(request: HttpRequest, visit_id: int, payload: CheckInIn) -> WaitOut:
    participant = _participant(request, visit_id, action="visit.check_in")
    participant = actions.do_check_in(
        participant.pk, camera=payload.camera, microphone=payload.microphone
    )
    return _wait(participant.visit, admitted=participant.state == AdmissionState.ADMITTED)


@router.get(
    "/{visit_id}/ice-servers",
    response=IceOut,
    auth=USER_OR_GUEST,
    summary="STUN/TURN servers with ephemeral TURN credentials (participants, guest)",
)
def ice_servers(request: HttpRequest, visit_id: int) -> dict[str, Any]:
    participant = _participant(request, visit_id, action="visit.ice_servers")
    key = f"u{participant.user_id}" if participant.user_id else f"g{participant.pk}"
    return ice_configuration(key)


@router.get(
    "/{visit_id}/chat",
    response=list[ChatOut],
    auth=USER_OR_GUEST,
    summary="The visit's chat so far (admitted participants, guest)",
)
def get_chat(request: HttpRequest, visit_id: int, after: int = 0) -> list[dict[str, Any]]:
    participant = _admitted(request, visit_id, action="visit.chat_read")
    do_record_audit(
        "visit.chat_read",
        actor=participant.user,
        object_type="visit",
        object_id=visit_id,
        patient_id=participant.visit.patient_id,
        detail={"participant_id": participant.pk},
    )
    return [chat_out(message) for message in chat_history(participant.visit, after_id=after)]


@router.post(
    "/{visit_id}/chat",
    response={201: ChatOut},
    auth=USER_OR_GUEST,
    summary="Send a chat message in the visit (admitted participants, guest)",
)
def post_chat(request: HttpRequest, visit_id: int, payload: ChatIn) -> Status[dict[str, Any]]:
    participant = _admitted(request, visit_id, action="visit.chat")
    message = actions.do_post_chat(participant.pk, payload.text)
    return Status(201, chat_out(message))


@router.get(
    "/{visit_id}/vitals",
    response=list[ObservationOut],
    auth=USER_OR_GUEST,
    summary="Vitals taken in the visit (admitted participants)",
)
def get_vitals(request: HttpRequest, visit_id: int) -> list[ObservationOut]:
    participant = _admitted(request, visit_id, action="observation.read")
    do_record_audit(
        "observation.read",
        actor=participant.user,
        object_type="visit",
        object_id=visit_id,
        patient_id=participant.visit.patient_id,
    )
    return [
        ObservationOut(
            id=obs.pk,
            panel=str(obs.panel),
            code=obs.code,
            display=obs.display,
            value=float(obs.value),
            unit=obs.unit,
            recorded_at=obs.recorded_at,
            recorded_by=obs.recorded_by.display_name,
        )
        for obs in vitals_of(participant.visit).select_related("recorded_by")
    ]


@router.post(
    "/{visit_id}/vitals",
    auth=only(Role.CLINICIAN, Role.TELEFACILITATOR),
    response={201: list[ObservationOut]},
    summary="Enter vitals (the telefacilitator or clinician in the visit)",
)
def post_vitals(
    request: HttpRequest, visit_id: int, payload: VitalsIn
) -> Status[list[ObservationOut]]:
    participant = _admitted(request, visit_id, action="observation.create")
    unknown = set(payload.values) - set(VITALS)
    if unknown:
        raise ActionRefused(
            "unknown_vital", f"Unknown vital sign: {sorted(unknown)[0]}", field="values"
        )
    observations = actions.do_record_vitals(participant.pk, payload.values)
    return Status(
        201,
        [
            ObservationOut(
                id=obs.pk,
                panel=str(obs.panel),
                code=obs.code,
                display=obs.display,
                value=float(obs.value),
                unit=obs.unit,
                recorded_at=obs.recorded_at,
                recorded_by=participant.display_name,
            )
            for obs in observations
        ],
    )


@router.get(
    "/{visit_id}/modes",
    response=list[ModeEventOut],
    auth=USER_OR_GUEST,
    summary="Each change of modality during the visit, with its time",
)
def get_modes(request: HttpRequest, visit_id: int) -> list[VisitEvent]:
    participant = _admitted(request, visit_id, action="visit.read")
    return list(
        VisitEvent.objects.filter(visit=participant.visit, kind=VisitEventKind.MODE_CHANGED)
    )


@router.post(
    "/{visit_id}/end",
    auth=only(Role.CLINICIAN),
    response=VisitOut,
    summary="End the visit (its clinician)",
)
def end_visit(request: HttpRequest, visit_id: int) -> VisitOut:
    return visit_out(actions.do_end_visit(_staff(request), visit_id))


def _note_encounter(request: HttpRequest, visit_id: int) -> tuple[User, Visit]:
    user, visit = _clinician_visit(request, visit_id, "note.read")
    if visit.encounter is None:
        raise ActionRefused("not_started", "The visit has not started yet.", status=409)
    return user, visit


def _my_note(user: User, visit: Visit) -> ClinicalNote | None:
    return (
        ClinicalNote.objects.filter(encounter=visit.encounter, author=user)
        .order_by("-status", "-updated_at")  # a draft first, else the latest signed note
        .first()
    )


def note_out(note: ClinicalNote | None) -> NoteOut:
    if note is None:
        return NoteOut(
            id=None,
            status=NoteStatus.DRAFT,
            subjective="",
            objective="",
            assessment="",
            plan="",
            signed_at=None,
        )
    return NoteOut(
        id=note.pk,
        status=note.status,
        subjective=note.subjective,
        objective=note.objective,
        assessment=note.assessment,
        plan=note.plan,
        signed_at=note.signed_at,
    )


@router.get(
    "/{visit_id}/note",
    auth=only(Role.CLINICIAN),
    response=NoteOut,
    summary="My SOAP note for this visit",
)
def get_note(request: HttpRequest, visit_id: int) -> NoteOut:
    user, visit = _note_encounter(request, visit_id)
    note = _my_note(user, visit)
    do_record_audit(
        "note.read",
        actor=user,
        object_type="note",
        object_id=note.pk if note else "",
        patient_id=visit.patient_id,
    )
    return note_out(note)


@router.put(
    "/{visit_id}/note",
    auth=only(Role.CLINICIAN),
    response=NoteOut,
    summary="Save my SOAP note draft",
)
def save_note(request: HttpRequest, visit_id: int, payload: NoteIn) -> NoteOut:
    user, visit = _note_encounter(request, visit_id)
    assert visit.encounter is not None
    note = do_save_note_draft(
        user,
        visit.encounter,
        subjective=payload.subjective,
        objective=payload.objective,
        assessment=payload.assessment,
        plan=payload.plan,
    )
    return note_out(note)


@router.post(
    "/{visit_id}/note/sign",
    auth=only(Role.CLINICIAN),
    response=NoteOut,
    summary="Sign my SOAP note",
)
def sign_note(request: HttpRequest, visit_id: int) -> NoteOut:
    user, visit = _note_encounter(request, visit_id)
    note = (
        ClinicalNote.objects.filter(encounter=visit.encounter, author=user, status=NoteStatus.DRAFT)
        .order_by("-updated_at")
        .first()
    )
    if note is None:
        raise ActionRefused("no_draft", "Save a draft first.", status=409)
    return note_out(do_sign_note(user, note))
