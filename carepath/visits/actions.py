"""Writes of live visits: each in one transaction with its audit event; screens learn of it
only after the commit (carepath.visits.events)."""

import contextlib
import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from carepath.accounts.models import PatientProfile, Role, Specialty, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.care.actions import (
    do_begin_encounter,
    do_end_encounter,
    do_link_escalation,
    do_open_episode,
    do_settle_escalation,
    do_start_encounter,
)
from carepath.care.events import emit_episode_event
from carepath.care.models import Encounter, EncounterMode, EscalationRequest, EscalationStatus
from carepath.consent.selectors import check_care_consent
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.notifications.actions import enqueue_email
from carepath.visits import events
from carepath.visits.models import (
    GUEST_ROLES,
    AdmissionState,
    ChatMessage,
    Observation,
    Participant,
    ParticipantRole,
    Visit,
    VisitEvent,
    VisitEventKind,
    VisitKind,
    VisitLink,
    VisitMode,
    VisitStatus,
)
from carepath.visits.protocol import VITALS, Malformed, check_vitals
from carepath.visits.selectors import (
    link_window,
    open_on_demand_visit,
    participant_out,
    room_peers,
)
from carepath.visits.tokens import TokenRefused, make_token, read_token
from carepath.workqueue.actions import do_cancel, do_claim, do_complete, do_enqueue
from carepath.workqueue.models import ACTIVE_STATUSES, WorkItem, WorkItemKind, WorkItemStatus
from carepath.workqueue.selectors import is_eligible

MAX_GUEST_NAME = 100
MAX_ACTIVE_INVITES = 3


def _audit(
    action: str,
    visit: Visit,
    *,
    actor: User | None = None,
    outcome: str = Outcome.ALLOWED,
    object_type: str = "visit",
    object_id: object = None,
    detail: dict[str, Any] | None = None,
) -> None:
    do_record_audit(
        action,
        actor=actor,
        object_type=object_type,
        object_id=visit.pk if object_id is None else object_id,
        patient_id=visit.patient_id,
        outcome=outcome,
        detail=detail,
    )


def _event(
    visit: Visit, kind: str, participant: Participant | None = None, **fields: Any
) -> VisitEvent:
    return VisitEvent.objects.create(
        visit=visit,
        encounter_id=visit.encounter_id,
        kind=kind,
        participant=participant,
        at=clock.now(),
        **fields,
    )


def _refuse_for(visit: Visit, actor: User | None, action: str, refusal: ActionRefused) -> None:
    _audit(action, visit, actor=actor, outcome=Outcome.DENIED, detail={"code": refusal.code})
    raise refusal


def _not_found() -> ActionRefused:
    return ActionRefused("not_found", "No visit with that id.", status=404)


def _check_live(visit: Visit) -> None:
    if visit.status not in (VisitStatus.OPEN, VisitStatus.IN_PROGRESS):
        raise ActionRefused("visit_over", "This visit has ended.", status=409)


def _check_clinician(user: User, visit: Visit, action: str) -> None:
    if visit.clinician_id is None or visit.clinician_id != user.pk:
        _refuse_for(visit, user, action, _not_found())


# --- Opening visits ----------------------------------------------------------------------


def _clinician_participant(visit: Visit, clinician: User, now: dt.datetime) -> Participant:
    participant, _ = Participant.objects.get_or_create(
        visit=visit,
        user=clinician,
        defaults={
            "role": ParticipantRole.CLINICIAN,
            "display_name": clinician.display_name,
            "state": AdmissionState.ADMITTED,
            "admitted_at": now,
            "admitted_by": clinician,
            "checked_in_at": now,
        },
    )
    return participant


def do_open_visit_for_appointment(appointment: Any, *, by: User) -> Visit:
    """The room of a booked appointment (created once; idempotent)."""
    from carepath.scheduling.models import AppointmentStatus

    existing = Visit.objects.filter(appointment=appointment).first()
    if existing is not None:
        return existing
    if appointment.status != AppointmentStatus.BOOKED:
        raise ActionRefused("appointment_not_booked", "This appointment is not booked.", status=409)
    try:
        with transaction.atomic():
            now = clock.now()
            visit = Visit.objects.create(
                kind=VisitKind.SCHEDULED,
                patient=appointment.patient,
                clinician=appointment.clinician,
                appointment=appointment,
                mode=appointment.visit_type.mode,
                starts_at=appointment.starts_at,
                ends_at=appointment.ends_at,
                created_at=now,
            )
            _clinician_participant(visit, appointment.clinician, now)
            _audit("visit.open", visit, actor=by, detail={"appointment_id": appointment.pk})
    except IntegrityError:
        return Visit.objects.get(appointment=appointment)
    return visit


def do_ensure_participant(visit: Visit, user: User) -> Participant:
    """The participant row of the visit's own patient or clinician (created on first use)."""
    now = clock.now()
    if visit.clinician_id is not None and user.pk == visit.clinician_id:
        with transaction.atomic():
            return _clinician_participant(visit, user, now)
    if user.pk != visit.patient_id:
        raise _not_found()
    existing = Participant.objects.filter(visit=visit, user=user).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Participant.objects.create(
                visit=visit,
                user=user,
                role=ParticipantRole.PATIENT,
                display_name=user.display_name,
                created_at=now,
            )
    except IntegrityError:
        return Participant.objects.get(visit=visit, user=user)


# --- Links and invites -------------------------------------------------------------------


def link_path(visit_id: int, token: str) -> str:
    return f"/visits/{visit_id}/join/{token}/"


def _may_invite(by: User, visit: Visit) -> bool:
    return by.pk in (visit.patient_id, visit.clinician_id) or by.role in (
        Role.COORDINATOR,
        Role.ADMIN,
    )


def do_issue_link(
    visit: Visit,
    *,
    by: User,
    role: str,
    user: User | None = None,
    label: str = "",
    email: str = "",
) -> tuple[VisitLink, str]:
    """A signed link for one participant of `visit`. Guest links (no account) are single-use.
    Returns the link and its token (shown once; only its hash is kept)."""
    if role not in ParticipantRole.values:
        raise ActionRefused("invalid_role", "Unknown participant role.", field="role")
    if not _may_invite(by, visit):
        _refuse_for(visit, by, "visit_link.create", _not_found())
    _check_live(visit)
    if user is None and role not in GUEST_ROLES:
        raise ActionRefused(
            "account_required",
            "Only caregivers and interpreters join without an account.",
            field="role",
        )
    if user is not None:
        _check_link_user(visit, user, role, by)
    valid_from, valid_until = link_window(visit.starts_at, visit.ends_at)
    if valid_until <= clock.now():
        raise ActionRefused("visit_over", "This visit's time has passed.", status=409)
    with transaction.atomic():
        locked = Visit.objects.select_for_update().get(pk=visit.pk)
        token, token_hash = make_token(locked.pk)
        link = VisitLink.objects.create(
            visit=locked,
            user=user,
            role=role,
            label=label[:100],
            email=email,
            token_hash=token_hash,
            single_use=user is None,
            created_by=by,
            created_at=clock.now(),
            valid_from=valid_from,
            valid_until=valid_until,
        )
        if role == ParticipantRole.TELEFACILITATOR and not locked.facilitated:
            locked.facilitated = True
            locked.save(update_fields=["facilitated"])
        _audit(
            "visit_link.create",
            locked,
            actor=by,
            object_type="visit_link",
            object_id=link.pk,
            detail={"role": role, "user_id": user.pk if user else None},
        )
    return link, token


def _check_link_user(visit: Visit, user: User, role: str, by: User) -> None:
    if role == ParticipantRole.PATIENT and user.pk != visit.patient_id:
        raise ActionRefused("wrong_patient", "That is not this visit's patient.", field="user_id")
    if role == ParticipantRole.CLINICIAN and user.pk != visit.clinician_id:
        raise ActionRefused(
            "wrong_clinician", "That is not this visit's clinician.", field="user_id"
        )
    if role == ParticipantRole.TELEFACILITATOR and user.role != Role.TELEFACILITATOR:
        raise ActionRefused("not_telefacilitator", "That user is not a telefacilitator.")
    if role == ParticipantRole.CAREGIVER and user.role != Role.PATIENT:
        raise ActionRefused("invalid_role", "Staff join as staff, not as caregivers.")
    if by.pk == visit.patient_id and role not in GUEST_ROLES:
        raise ActionRefused("forbidden", "Patients invite caregivers and interpreters.", status=403)


def do_invite_guest(
    visit: Visit, *, by: User, role: str, name: str, email: str = "", base_url: str = ""
) -> tuple[VisitLink, str]:
    """A caregiver or interpreter invited by the visit's patient or clinician: a single-use
    link; the guest gives a name and waits for the clinician to admit them."""
    if role not in GUEST_ROLES:
        raise ActionRefused("invalid_role", "Invite a caregiver or an interpreter.", field="role")
    name = " ".join(name.split())[:MAX_GUEST_NAME]
    if not name:
        raise ActionRefused("name_required", "Say who you are inviting.", field="name")
    if by.pk not in (visit.patient_id, visit.clinician_id):
        _refuse_for(visit, by, "visit_invite.create", _not_found())
    open_invites = VisitLink.objects.filter(
        visit=visit, user__isnull=True, consumed_at__isnull=True, revoked_at__isnull=True
    ).count()
    if open_invites >= MAX_ACTIVE_INVITES:
        raise ActionRefused(
            "too_many_invites",
            f"A visit can have at most {MAX_ACTIVE_INVITES} open guest invitations.",
            status=409,
        )
    link, token = do_issue_link(visit, by=by, role=role, label=name, email=email)
    if email:
        enqueue_email(
            [email],
            "Carepath: you are invited to join a video visit",
            f"{by.display_name} invited you to join a Carepath video visit as {role}.\n\n"
            f"Open this link at the time of the visit (it works once):\n"
            f"{base_url}{link_path(visit.pk, token)}\n",
        )
    return link, token


def do_revoke_link(by: User, link_id: int) -> VisitLink:
    link = VisitLink.objects.select_related("visit").filter(pk=link_id).first()
    if link is None or not _may_invite(by, link.visit):
        raise ActionRefused("not_found", "No link with that id.", status=404)
    with transaction.atomic():
        locked = VisitLink.objects.select_for_update().get(pk=link.pk)
        if locked.revoked_at is None:
            locked.revoked_at = clock.now()
            locked.revoked_by = by
            locked.save(update_fields=["revoked_at", "revoked_by"])
            _audit(
                "visit_link.revoke",
                link.visit,
                actor=by,
                object_type="visit_link",
                object_id=locked.pk,
            )
            participant = Participant.objects.filter(link=locked).first()
            if participant is not None and participant.state != AdmissionState.REMOVED:
                _remove(participant, by)
    return locked


class LinkRefused(ActionRefused):
    """A link that may not be used, with the reason shown on the refusal page."""


LINK_MESSAGES = {
    "tampered": "This visit link is not valid. Check that you copied the whole link, or ask "
    "the care team for a new one.",
    "other_visit": "This link is for a different visit.",
    "unknown": "This visit link is not valid. Ask the care team for a new one.",
    "revoked": "This link was cancelled by the care team.",
    "not_yet": "This link is not open yet: it works from 15 minutes before the visit.",
    "expired": "This link has expired. Ask the care team for a new one.",
    "used": "This invitation has already been used. Ask for a new one.",
    "visit_over": "This visit has ended.",
    "wrong_person": "This link was sent to someone else. Sign out, or use your own link.",
    "sign_in": "Sign in to join this visit.",
}
LINK_STATUS = {"tampered": 404, "unknown": 404, "other_visit": 404, "sign_in": 401}


def _link_refused(code: str) -> LinkRefused:
    return LinkRefused(code, LINK_MESSAGES[code], status=LINK_STATUS.get(code, 403))


def check_link(token: str, visit_id: int) -> VisitLink:
    """The usable link behind `token` for `visit_id`, or LinkRefused. The signature is
    checked before the database is asked anything."""
    try:
        parsed = read_token(token, visit_id)
    except TokenRefused as refused:
        raise _link_refused(refused.code) from None
    link = (
        VisitLink.objects.select_related("visit", "user")
        .filter(token_hash=parsed.hash, visit_id=visit_id)
        .first()
    )
    if link is None:
        raise _link_refused("unknown")
    now = clock.now()
    if link.revoked_at is not None:
        raise _link_refused("revoked")
    if link.visit.status not in (VisitStatus.OPEN, VisitStatus.IN_PROGRESS):
        raise _link_refused("visit_over")
    if now < link.valid_from:
        raise _link_refused("not_yet")
    if now >= link.valid_until:
        raise _link_refused("expired")
    if link.single_use and link.consumed_at is not None:
        raise _link_refused("used")
    return link


@dataclass(frozen=True)
class LinkOpened:
    link: VisitLink
    participant: Participant | None  # None: a guest who has not given a name yet


def _deny_link(visit_id: int, user: User | None, code: str, link_id: int | None) -> None:
    visit = Visit.objects.filter(pk=visit_id).only("pk", "patient_id").first()
    do_record_audit(
        "visit_link.open",
        actor=user,
        object_type="visit",
        object_id=visit_id,
        patient_id=visit.patient_id if visit else None,
        outcome=Outcome.DENIED,
        detail={"code": code, "link_id": link_id},
    )


def do_open_link(
    visit_id: int,
    token: str,
    *,
    user: User | None,
    bound_participant: int | None,
    guest_name: str | None = None,
    staff_mfa_ok: bool = False,
) -> LinkOpened:
    """Use a link: refused (and audited) when it is wrong, expired, for another visit, used
    or someone else's; otherwise the participant it stands for."""
    signed_in = user is not None and user.is_authenticated
    link: VisitLink | None = None
    try:
        link = check_link(token, visit_id)
        if link.user_id is not None:
            if signed_in and user is not None and user.pk != link.user_id:
                raise _link_refused("wrong_person")
            assert link.user is not None
            if link.user.is_staff_role and not (signed_in and staff_mfa_ok):
                raise _link_refused("sign_in")
        else:
            existing = Participant.objects.filter(link=link).first()
            if existing is not None and existing.pk != bound_participant:
                raise _link_refused("used")
    except LinkRefused as refused:
        _deny_link(visit_id, user if signed_in else None, refused.code, link.pk if link else None)
        raise
    visit = link.visit
    with transaction.atomic():
        participant = _participant_for_link(link, guest_name)
        _audit(
            "visit_link.open",
            visit,
            actor=user if signed_in else None,
            object_type="visit_link",
            object_id=link.pk,
            detail={"participant_id": participant.pk if participant else None},
        )
    return LinkOpened(link=link, participant=participant)


def _participant_for_link(link: VisitLink, guest_name: str | None) -> Participant | None:
    visit = link.visit
    now = clock.now()
    if link.user is not None:
        if link.role == ParticipantRole.CLINICIAN:
            return _clinician_participant(visit, link.user, now)
        participant, _ = Participant.objects.get_or_create(
            visit=visit,
            user=link.user,
            defaults={
                "role": link.role,
                "display_name": link.user.display_name,
                "created_at": now,
            },
        )
        return participant
    existing = Participant.objects.filter(link=link).first()
    if existing is not None:
        return existing
    name = " ".join((guest_name or "").split())[:MAX_GUEST_NAME]
    if not name:
        if guest_name is not None:
            raise ActionRefused("name_required", "Enter your name.", field="name")
        return None
    return Participant.objects.create(
        visit=visit, link=link, role=link.role, display_name=name, created_at=now
    )


# --- Waiting room ------------------------------------------------------------------------


def _patient_profile(visit: Visit) -> PatientProfile | None:
    return PatientProfile.objects.filter(user_id=visit.patient_id).first()


def do_check_in(participant_id: int, *, camera: bool, microphone: bool) -> Participant:
    """The participant is in the waiting room, with the result of their device check. A
    scheduled visit's patient goes onto the clinician queue as a waiting_room work item."""
    with transaction.atomic():
        participant = (
            Participant.objects.select_for_update(of=("self",))
            .select_related("visit")
            .get(pk=participant_id)
        )
        visit = participant.visit
        _check_live(visit)
        if participant.state == AdmissionState.REMOVED:
            raise ActionRefused("removed", "You were removed from this visit.", status=403)
        now = clock.now()
        first = participant.checked_in_at is None
        participant.checked_in_at = participant.checked_in_at or now
        participant.device_check = {
            "camera": camera,
            "microphone": microphone,
            "at": now.isoformat(),
        }
        participant.save(update_fields=["checked_in_at", "device_check"])
        if first:
            _event(visit, VisitEventKind.CHECKED_IN, participant, detail=participant.device_check)
        if participant.role == ParticipantRole.PATIENT:
            check_care_consent(visit.patient)
            if visit.kind == VisitKind.SCHEDULED and participant.state == AdmissionState.WAITING:
                _enqueue_waiting_room(visit, participant)
        _audit(
            "visit.check_in",
            visit,
            actor=participant.user,
            detail={"participant_id": participant.pk, "camera": camera, "microphone": microphone},
        )
        events.publish_lobby_changed(visit.pk)
    return participant


def _enqueue_waiting_room(visit: Visit, participant: Participant) -> None:
    profile = _patient_profile(visit)
    item = do_enqueue(
        kind=WorkItemKind.WAITING_ROOM,
        patient=visit.patient,
        subject_type="visit",
        subject_id=str(visit.pk),
        title=f"{participant.display_name} is in the waiting room",
        due_at=visit.starts_at,
        priority=10,
        required_state=profile.state if profile else "",
        required_language="",
    )
    if visit.work_item_id != item.pk:
        Visit.objects.filter(pk=visit.pk).update(work_item=item)
        visit.work_item = item


def _finish_work_item(clinician: User, item: WorkItem | None) -> None:
    """The patient is with the clinician: the queue item is done (claimed first if needed)."""
    if item is None:
        return
    item.refresh_from_db()
    if item.status not in ACTIVE_STATUSES:
        return
    try:
        if not (item.status == WorkItemStatus.CLAIMED and item.claimed_by_id == clinician.pk):
            do_claim(clinician, item.pk)
        do_complete(clinician, item.pk)
    except ActionRefused:
        do_cancel(item.pk, "the patient was admitted to the visit")


# --- Admission ---------------------------------------------------------------------------


def _start_visit(visit: Visit, clinician: User) -> None:
    """First admission: the encounter starts. A visit that already carries its encounter (an
    escalation from an async case: planned in the case's episode) or whose appointment does
    (booked for an escalation) begins that one; otherwise a new encounter in the appointment's
    episode when it has one (the appointment is then linked to the encounter), else in a new
    episode."""
    appointment = visit.appointment
    encounter: Encounter | None = visit.encounter or getattr(appointment, "encounter", None)
    if encounter is not None:
        encounter = do_begin_encounter(encounter, clinician=clinician)
    else:
        episode = getattr(appointment, "episode", None)
        if episode is None:
            if appointment is not None:
                title = str(appointment.visit_type.name)
            else:
                title = f"On-demand visit: {visit.reason}" if visit.reason else "On-demand visit"
            episode = do_open_episode(visit.patient, title=title, by=clinician)
        mode = EncounterMode.FACILITATED if visit.facilitated else visit.mode
        encounter = do_start_encounter(
            episode, mode, by=clinician, clinician=clinician, started=True
        )
        if appointment is not None:
            from carepath.scheduling.actions import do_link_encounter

            do_link_encounter(appointment, encounter_id=encounter.pk, episode_id=episode.pk)
    visit.encounter = encounter
    visit.status = VisitStatus.IN_PROGRESS
    visit.started_at = clock.now()
    visit.save(update_fields=["encounter", "status", "started_at"])
    _event(visit, VisitEventKind.STARTED, to_mode=visit.mode)
    emit_episode_event(
        encounter.episode_id,
        "visit.started",
        actor_id=clinician.pk,
        visit_id=visit.pk,
        encounter_id=encounter.pk,
        mode=visit.mode,
        kind=visit.kind,
        escalated_from=encounter.escalated_from_id,
    )


def _admit(visit: Visit, participant: Participant, clinician: User) -> Participant:
    if participant.state == AdmissionState.ADMITTED:
        return participant
    if participant.state == AdmissionState.REMOVED:
        raise ActionRefused("removed", "This person was removed from the visit.", status=409)
    admitted = Participant.objects.filter(visit=visit, state=AdmissionState.ADMITTED).count()
    if admitted >= settings.VISIT_MAX_PARTICIPANTS:
        raise ActionRefused(
            "room_full",
            f"A visit holds at most {settings.VISIT_MAX_PARTICIPANTS} people.",
            status=409,
        )
    now = clock.now()
    participant.state = AdmissionState.ADMITTED
    participant.admitted_at = now
    participant.admitted_by = clinician
    participant.save(update_fields=["state", "admitted_at", "admitted_by"])
    if participant.link_id is not None:
        VisitLink.objects.filter(pk=participant.link_id, single_use=True, consumed_at=None).update(
            consumed_at=now
        )
    if participant.role == ParticipantRole.TELEFACILITATOR and not visit.facilitated:
        visit.facilitated = True
        visit.save(update_fields=["facilitated"])
    if visit.status == VisitStatus.OPEN:
        _start_visit(visit, clinician)
    if participant.role == ParticipantRole.PATIENT:
        _finish_work_item(clinician, visit.work_item)
    _event(visit, VisitEventKind.ADMITTED, participant, detail={"by": clinician.pk})
    _audit(
        "visit.admit",
        visit,
        actor=clinician,
        detail={"participant_id": participant.pk, "role": participant.role},
    )
    events.publish_to_participant(participant.pk, "participant.admitted")
    events.publish_lobby_changed(visit.pk)
    return participant


def do_admit(clinician: User, visit_id: int, participant_id: int) -> Participant:
    """Only the visit's clinician lets anyone in, whatever link they hold."""
    visit = Visit.objects.filter(pk=visit_id).first()
    if visit is None:
        raise _not_found()
    _check_clinician(clinician, visit, "visit.admit")
    with transaction.atomic():
        visit = (
            Visit.objects.select_for_update(of=("self",))
            .select_related("appointment")
            .get(pk=visit_id)
        )
        _check_live(visit)
        participant = (
            Participant.objects.select_for_update().filter(visit=visit, pk=participant_id).first()
        )
        if participant is None:
            raise ActionRefused("not_found", "No such participant in this visit.", status=404)
        return _admit(visit, participant, clinician)


def _remove(participant: Participant, by: User) -> None:
    now = clock.now()
    was_present = bool(participant.room_channel)
    participant.state = AdmissionState.REMOVED
    participant.removed_at = now
    participant.room_channel = ""
    participant.save(update_fields=["state", "removed_at", "room_channel"])
    visit = participant.visit
    _event(visit, VisitEventKind.REMOVED, participant, detail={"by": by.pk})
    _audit("visit.remove", visit, actor=by, detail={"participant_id": participant.pk})
    events.publish_to_participant(participant.pk, "participant.removed")
    if was_present:
        events.publish_to_room(visit.pk, {"type": "peer-left", "peer": participant.pk})
    events.publish_lobby_changed(visit.pk)


def do_remove_participant(clinician: User, visit_id: int, participant_id: int) -> Participant:
    visit = Visit.objects.filter(pk=visit_id).first()
    if visit is None:
        raise _not_found()
    _check_clinician(clinician, visit, "visit.remove")
    with transaction.atomic():
        participant = (
            Participant.objects.select_for_update(of=("self",))
            .select_related("visit")
            .filter(visit_id=visit_id, pk=participant_id)
            .first()
        )
        if participant is None:
            raise ActionRefused("not_found", "No such participant in this visit.", status=404)
        if participant.user_id == clinician.pk:
            raise ActionRefused("self", "End the visit instead of removing yourself.")
        if participant.state != AdmissionState.REMOVED:
            _remove(participant, clinician)
    return participant


# --- On-demand ---------------------------------------------------------------------------


def do_request_on_demand(patient: User, *, reason: str = "", specialty_code: str = "") -> Visit:
    """ "See the next available clinician": an on_demand work item due in minutes in the shared
    queue. A patient already waiting gets their existing request back."""
    if patient.role != Role.PATIENT:
        raise ActionRefused("not_patient", "Only patients request on-demand care.", status=403)
    check_care_consent(patient)
    specialty = None
    if specialty_code:
        specialty = Specialty.objects.filter(code=specialty_code).first()
        if specialty is None:
            raise ActionRefused(
                "unknown_service", "Choose a service from the list.", field="service"
            )
    existing = Visit.objects.filter(
        patient=patient,
        kind=VisitKind.ON_DEMAND,
        status__in=[VisitStatus.OPEN, VisitStatus.IN_PROGRESS],
    ).first()
    if existing is not None:
        return existing
    profile = PatientProfile.objects.filter(user=patient).first()
    if profile is None:
        raise ActionRefused("no_profile", "Complete your profile first.", status=409)
    with transaction.atomic():
        now = clock.now()
        visit = Visit.objects.create(
            kind=VisitKind.ON_DEMAND,
            patient=patient,
            reason=" ".join(reason.split())[:500],
            required_specialty=specialty,
            starts_at=now,
            ends_at=now + dt.timedelta(minutes=settings.ON_DEMAND_VISIT_MINUTES),
            created_at=now,
        )
        queue = QueueRouting(
            required_state=profile.state,
            required_specialty=specialty,
            required_language=profile.preferred_language,
            priority=20,
            due_minutes=settings.ON_DEMAND_DUE_MINUTES,
        )
        item = _wait_in_queue(visit, patient, queue, now, title="On-demand visit request")
        _audit(
            "visit.on_demand_request",
            visit,
            actor=patient,
            detail={"work_item_id": item.pk, "specialty": specialty_code},
        )
    return visit


def do_take_on_demand(clinician: User, visit_id: int) -> Visit:
    """An eligible clinician claims the request (the queue decides eligibility and races);
    the patient is admitted and both are brought into the visit."""
    visit = Visit.objects.filter(pk=visit_id, kind=VisitKind.ON_DEMAND).first()
    if visit is None or clinician.role != Role.CLINICIAN:
        do_record_audit(
            "visit.take",
            actor=clinician,
            object_type="visit",
            object_id=visit_id,
            patient_id=visit.patient_id if visit else None,
            outcome=Outcome.DENIED,
        )
        raise _not_found()
    if visit.clinician_id == clinician.pk:
        return visit
    item = visit.work_item
    if item is None or not is_eligible(clinician, item, ignore_routing=True):
        _refuse_for(visit, clinician, "visit.take", _not_found())
    assert item is not None
    if visit.clinician_id is not None or visit.status != VisitStatus.OPEN:
        raise ActionRefused("already_taken", "Another clinician has taken this visit.", status=409)
    if not (item.status == WorkItemStatus.CLAIMED and item.claimed_by_id == clinician.pk):
        do_claim(clinician, item.pk)  # 404 when not eligible, 409 when someone else won
    with transaction.atomic():
        locked = Visit.objects.select_for_update().get(pk=visit.pk)
        if locked.clinician_id not in (None, clinician.pk):
            raise ActionRefused(
                "already_taken", "Another clinician has taken this visit.", status=409
            )
        now = clock.now()
        locked.clinician = clinician
        locked.save(update_fields=["clinician"])
        _clinician_participant(locked, clinician, now)
        _audit("visit.take", locked, actor=clinician, detail={"work_item_id": item.pk})
        patient = (
            Participant.objects.select_for_update()
            .filter(visit=locked, role=ParticipantRole.PATIENT)
            .first()
        )
        if patient is not None:
            _admit(locked, patient, clinician)
    return locked


# --- Escalation from an async case -------------------------------------------------------


@dataclass(frozen=True)
class QueueRouting:
    """Where a visit waits for a clinician: an on-demand request, or an escalated visit no
    clinician is named for (a red-flag rule asked)."""

    required_state: str
    required_specialty: Specialty | None
    required_language: str
    priority: int
    due_minutes: int


def do_open_escalated_visit(
    escalation: EscalationRequest,
    *,
    mode: str,
    by: User,
    clinician: User | None = None,
    queue: QueueRouting | None = None,
    reason: str = "",
) -> Visit:
    """An on-demand visit that continues an async encounter live, in the same episode: its
    encounter is created now (planned until the first admission) with escalated_from = the
    async one, and the escalation request points at it. With `clinician` (the escalating
    clinician) the visit is theirs at once and they admit the patient from the room; without
    one (`queue`) the request waits in the shared queue for any eligible clinician, with the
    patient already checked in. Call inside the caller's transaction."""
    if mode not in VisitMode.values:
        raise ActionRefused(
            "invalid_mode", "A live visit now is a video, audio or chat visit.", field="mode"
        )
    if (clinician is None) == (queue is None):
        raise ValueError("name the clinician, or the queue the request waits in")
    async_encounter = Encounter.objects.select_related("episode__patient").get(
        pk=escalation.encounter_id
    )
    patient = async_encounter.episode.patient
    if open_on_demand_visit(patient.pk) is not None:
        raise ActionRefused(
            "visit_open",
            "This patient is already waiting for a live visit; finish that one first.",
            status=409,
        )
    with transaction.atomic():
        now = clock.now()
        encounter = do_start_encounter(
            async_encounter.episode,
            mode,
            by=by,
            clinician=clinician,
            escalated_from=async_encounter,
        )
        visit = Visit.objects.create(
            kind=VisitKind.ON_DEMAND,
            patient=patient,
            clinician=clinician,
            encounter=encounter,
            mode=mode,
            reason=" ".join(reason.split())[:500],
            required_specialty=queue.required_specialty if queue else None,
            starts_at=now,
            ends_at=now + dt.timedelta(minutes=settings.ON_DEMAND_VISIT_MINUTES),
            created_at=now,
        )
        if clinician is not None:
            _clinician_participant(visit, clinician, now)
        else:
            assert queue is not None
            _wait_in_queue(visit, patient, queue, now, title="Live visit now (red flag)")
        do_link_escalation(escalation, encounter, by=by)
        _audit(
            "visit.escalated_open",
            visit,
            actor=by,
            detail={
                "escalation_request_id": escalation.pk,
                "encounter_id": encounter.pk,
                "work_item_id": visit.work_item_id,
            },
        )
        emit_episode_event(
            encounter.episode_id,
            "visit.scheduled",
            actor_id=by.pk,
            visit_id=visit.pk,
            encounter_id=encounter.pk,
            mode=mode,
            kind=VisitKind.ON_DEMAND,
            escalated_from=async_encounter.pk,
        )
    return visit


def _wait_in_queue(
    visit: Visit, patient: User, queue: QueueRouting, now: dt.datetime, *, title: str
) -> WorkItem:
    """The patient is checked in to the visit and it waits in the shared queue (on_demand)
    until an eligible clinician takes it."""
    participant = Participant.objects.create(
        visit=visit,
        user=patient,
        role=ParticipantRole.PATIENT,
        display_name=patient.display_name,
        created_at=now,
        checked_in_at=now,
    )
    item = do_enqueue(
        kind=WorkItemKind.ON_DEMAND,
        patient=patient,
        subject_type="visit",
        subject_id=str(visit.pk),
        title=title,
        due_at=now + dt.timedelta(minutes=queue.due_minutes),
        priority=queue.priority,
        required_state=queue.required_state,
        required_specialty=queue.required_specialty,
        required_language=queue.required_language,
    )
    visit.work_item = item
    visit.save(update_fields=["work_item"])
    _event(visit, VisitEventKind.CHECKED_IN, participant)
    return item


# --- In the room -------------------------------------------------------------------------


@dataclass(frozen=True)
class Joined:
    participant: dict[str, Any]
    peers: list[dict[str, Any]]
    mode: str
    rejoin: bool


def do_join_room(participant_id: int, channel_name: str, session: str) -> Joined:
    """An admitted participant's socket enters the room (a reconnect replaces the old one)."""
    with transaction.atomic():
        participant = (
            Participant.objects.select_for_update(of=("self",))
            .select_related("visit")
            .get(pk=participant_id)
        )
        visit = participant.visit
        if participant.state != AdmissionState.ADMITTED:
            raise ActionRefused("not_admitted", "Wait for the clinician to admit you.", status=403)
        _check_live(visit)
        peers = room_peers(visit.pk, exclude=participant.pk)
        if len(peers) >= settings.VISIT_MAX_PARTICIPANTS - 1:
            raise ActionRefused("room_full", "This visit is full.", status=409)
        rejoin = bool(participant.room_channel) and participant.room_session == session
        now = clock.now()
        participant.room_channel = channel_name
        participant.room_session = session
        participant.joined_at = participant.joined_at or now
        participant.left_at = None
        participant.save(update_fields=["room_channel", "room_session", "joined_at", "left_at"])
        _event(visit, VisitEventKind.JOINED, participant, detail={"rejoin": rejoin})
        _audit(
            "visit.join",
            visit,
            actor=participant.user,
            detail={"participant_id": participant.pk, "rejoin": rejoin},
        )
        me = participant_out(participant)
        events.publish_to_room(
            visit.pk, {"type": "peer-joined", "peer": me, "channel": channel_name}
        )
        events.publish_lobby_changed(visit.pk)
    return Joined(participant=me, peers=peers, mode=visit.mode, rejoin=rejoin)


def do_leave_room(participant_id: int, channel_name: str) -> bool:
    """The socket left (closed or said "leave"). Only the socket that is in the room counts:
    a replaced socket closing late changes nothing."""
    with transaction.atomic():
        participant = (
            Participant.objects.select_for_update(of=("self",))
            .select_related("visit")
            .filter(pk=participant_id, room_channel=channel_name)
            .first()
        )
        if participant is None or not channel_name:
            return False
        participant.room_channel = ""
        participant.left_at = clock.now()
        participant.save(update_fields=["room_channel", "left_at"])
        _event(participant.visit, VisitEventKind.LEFT, participant)
        events.publish_to_room(participant.visit_id, {"type": "peer-left", "peer": participant.pk})
        events.publish_lobby_changed(participant.visit_id)
    return True


def _in_progress_participant(participant_id: int) -> tuple[Participant, Visit, int]:
    participant = Participant.objects.select_related("visit", "user").get(pk=participant_id)
    visit = participant.visit
    if participant.state != AdmissionState.ADMITTED:
        raise ActionRefused("not_admitted", "Wait for the clinician to admit you.", status=403)
    if visit.status != VisitStatus.IN_PROGRESS or visit.encounter_id is None:
        raise ActionRefused("not_started", "The visit has not started.", status=409)
    return participant, visit, visit.encounter_id


def do_post_chat(participant_id: int, text: str) -> ChatMessage:
    """Saved on the encounter first; the room sees it after the commit."""
    text = text.strip()
    if not text or len(text) > 2000:
        raise ActionRefused("invalid_text", "Write 1 to 2000 characters.", field="text")
    participant, visit, encounter_id = _in_progress_participant(participant_id)
    with transaction.atomic():
        message = ChatMessage.objects.create(
            visit=visit,
            encounter_id=encounter_id,
            sender=participant,
            body=text,
            sent_at=clock.now(),
        )
        _audit(
            "visit.chat",
            visit,
            actor=participant.user,
            object_type="visit_chat",
            object_id=message.pk,
            detail={"participant_id": participant.pk},
        )
        events.publish_to_room(
            visit.pk,
            {
                "type": "chat",
                "id": message.pk,
                "from": participant.pk,
                "name": participant.display_name,
                "role": participant.role,
                "text": message.body,
                "sent_at": message.sent_at.isoformat(),
            },
        )
    return message


def do_change_mode(participant_id: int, mode: str) -> Visit:
    """Video <-> audio-only <-> chat mid-visit; each change is an event row on the encounter."""
    if mode not in VisitMode.values:
        raise ActionRefused("invalid_mode", "Choose video, audio or chat.", field="mode")
    participant, visit, _ = _in_progress_participant(participant_id)
    with transaction.atomic():
        locked = Visit.objects.select_for_update().get(pk=visit.pk)
        if locked.mode == mode:
            return locked
        previous = locked.mode
        locked.mode = mode
        locked.save(update_fields=["mode"])
        _event(locked, VisitEventKind.MODE_CHANGED, participant, from_mode=previous, to_mode=mode)
        _audit(
            "visit.mode_change",
            locked,
            actor=participant.user,
            detail={"from": previous, "to": mode, "participant_id": participant.pk},
        )
        events.publish_to_room(
            locked.pk,
            {"type": "mode", "mode": mode, "from_mode": previous, "by": participant.pk},
        )
    return locked


VITALS_ROLES = frozenset({ParticipantRole.TELEFACILITATOR, ParticipantRole.CLINICIAN})


def do_record_vitals(participant_id: int, values: dict[str, Any]) -> list[Observation]:
    """Vitals entered by the telefacilitator (or the clinician): one Observation per value,
    LOINC-coded with UCUM units, on the encounter; the room sees them after the commit."""
    participant, visit, encounter_id = _in_progress_participant(participant_id)
    if participant.role not in VITALS_ROLES or participant.user is None:
        raise ActionRefused(
            "forbidden", "Only the telefacilitator or clinician enters vitals.", status=403
        )
    try:
        clean = check_vitals(values)
    except Malformed as malformed:
        raise ActionRefused("implausible", malformed.message, field="values", status=422) from None
    with transaction.atomic():
        now = clock.now()
        panel = uuid.uuid4()
        observations = [
            Observation.objects.create(
                encounter_id=encounter_id,
                visit=visit,
                panel=panel,
                code=VITALS[name][0],
                display=VITALS[name][1],
                value=Decimal(str(value)),
                unit=VITALS[name][2],
                recorded_by=participant.user,
                recorded_at=now,
            )
            for name, value in clean.items()
        ]
        _audit(
            "observation.create",
            visit,
            actor=participant.user,
            object_type="observation_panel",
            object_id=panel,
            detail={"codes": [VITALS[name][0] for name in clean]},
        )
        events.publish_to_room(
            visit.pk,
            {
                "type": "vitals",
                "panel": str(panel),
                "by": participant.pk,
                "by_name": participant.display_name,
                "recorded_at": now.isoformat(),
                "values": [vital_out(name, value) for name, value in clean.items()],
            },
        )
    return observations


def vital_out(name: str, value: float) -> dict[str, Any]:
    code, display, unit, _low, _high = VITALS[name]
    return {"name": name, "code": code, "display": display, "value": value, "unit": unit}


def _complete_appointment(visit: Visit, user: User) -> None:
    from carepath.scheduling.actions import do_complete_appointment

    assert visit.appointment is not None
    # Cancelled or rescheduled meanwhile: the visit still ends.
    with contextlib.suppress(ActionRefused):
        do_complete_appointment(visit.appointment, actor=user, encounter_id=visit.encounter_id)


def _after_live_encounter(visit: Visit, encounter: Encounter, user: User) -> None:
    """The episode hears the visit ended; a visit escalated from an async case hands care
    back to that case (de-escalation: follow-up continues asynchronously)."""
    emit_episode_event(
        encounter.episode_id,
        "visit.ended",
        actor_id=user.pk,
        visit_id=visit.pk,
        encounter_id=encounter.pk,
        mode=visit.mode,
        duration_seconds=visit.duration_seconds,
        escalated_from=encounter.escalated_from_id,
    )
    if encounter.escalated_from_id is None:
        return
    do_settle_escalation(encounter, by=user, status=EscalationStatus.COMPLETED)
    from carepath.intake.actions import do_resume_case_after_visit

    do_resume_case_after_visit(encounter, visit, by=user)


def do_end_visit(user: User, visit_id: int) -> Visit:
    """The clinician ends the visit: the encounter is finished with its duration, everyone's
    sockets are told, and unused guest links stop working."""
    visit = Visit.objects.filter(pk=visit_id).first()
    if visit is None:
        raise _not_found()
    _check_clinician(user, visit, "visit.end")
    with transaction.atomic():
        locked = (
            Visit.objects.select_for_update(of=("self",))
            .select_related("encounter")
            .get(pk=visit_id)
        )
        if locked.status in (VisitStatus.ENDED, VisitStatus.CANCELLED):
            return locked
        now = clock.now()
        if locked.encounter is not None:
            do_end_encounter(locked.encounter, by=user)
        if locked.appointment is not None:
            _complete_appointment(locked, user)
        locked.status = VisitStatus.ENDED
        locked.ended_at = now
        started = locked.started_at or now
        locked.duration_seconds = max(0, int((now - started).total_seconds()))
        locked.save(update_fields=["status", "ended_at", "duration_seconds"])
        participant_ids = list(
            Participant.objects.filter(visit=locked).values_list("pk", flat=True)
        )
        Participant.objects.filter(visit=locked).exclude(room_channel="").update(
            room_channel="", left_at=now
        )
        VisitLink.objects.filter(visit=locked, consumed_at__isnull=True).update(consumed_at=now)
        if locked.work_item is not None and locked.work_item.status in ACTIVE_STATUSES:
            _finish_work_item(user, locked.work_item)
        _event(locked, VisitEventKind.ENDED, detail={"duration_seconds": locked.duration_seconds})
        _audit(
            "visit.end", locked, actor=user, detail={"duration_seconds": locked.duration_seconds}
        )
        if locked.encounter is not None:
            _after_live_encounter(locked, locked.encounter, user)
        for participant_id in participant_ids:
            events.publish_to_participant(participant_id, "participant.ended")
    return locked
