"""Reads for live visits. Who is a participant of a visit is decided here, in one place, for
pages, the API and the signaling socket alike: a signed-in patient or clinician of the visit,
someone who opened a valid link for it in this browser session, or nobody."""

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404

from carepath.access.selectors import deny
from carepath.accounts.models import User
from carepath.audit.actions import do_record_audit
from carepath.core import clock
from carepath.visits.models import (
    AdmissionState,
    ChatMessage,
    Observation,
    ObservationStatus,
    Participant,
    ParticipantRole,
    Visit,
    VisitKind,
    VisitStatus,
)

# The session maps visit id -> participant id for people who came in through a link.
SESSION_KEY = "carepath_visit_participants"


def register_queue_links() -> None:
    """Work items about a visit (waiting room, on-demand) open the visit."""
    from carepath.workqueue.registry import register_subject_url

    register_subject_url("visit", lambda item: f"/visits/{item.subject_id}/")


def link_window(starts_at: dt.datetime, ends_at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    return (
        starts_at - dt.timedelta(minutes=settings.VISIT_LINK_EARLY_MINUTES),
        ends_at + dt.timedelta(minutes=settings.VISIT_LINK_LATE_MINUTES),
    )


def bound_participant_id(session: Mapping[str, Any] | None, visit_id: int) -> int | None:
    if session is None:
        return None
    bound = session.get(SESSION_KEY) or {}
    value = bound.get(str(visit_id)) if isinstance(bound, dict) else None
    return value if isinstance(value, int) else None


def entitled_role(user: User | None, visit: Visit) -> str | None:
    """The role a signed-in user holds in a visit without needing a link."""
    if user is None or not user.is_authenticated:
        return None
    if user.pk == visit.patient_id:
        return ParticipantRole.PATIENT
    if visit.clinician_id is not None and user.pk == visit.clinician_id:
        return ParticipantRole.CLINICIAN
    return None


def find_participant(
    visit_id: int, user: User | None, session: Mapping[str, Any] | None
) -> Participant | None:
    """This person's participant row for the visit, or None. Removed participants and
    participants of revoked links count as none."""
    live = (
        Participant.objects.select_related("visit", "link", "user")
        .filter(visit_id=visit_id)
        .exclude(state=AdmissionState.REMOVED)
    )
    signed_in = user is not None and user.is_authenticated
    participant = live.filter(user=user).first() if signed_in else None
    if participant is None:
        bound_id = bound_participant_id(session, visit_id)
        if bound_id is not None:
            participant = live.filter(pk=bound_id).first()
            # A link bound to an account is not for a different signed-in account.
            if (
                participant is not None
                and participant.user_id is not None
                and signed_in
                and user is not None
                and participant.user_id != user.pk
            ):
                participant = None
    if participant is not None and participant.link is not None and participant.link.revoked_at:
        return None
    return participant


def access_visit(user: User, visit_id: int, *, action: str = "visit.read") -> Visit:
    """A visit its patient or clinician may see (404, audited, for anyone else)."""
    visit = Visit.objects.select_related("patient", "clinician").filter(pk=visit_id).first()
    if visit is None or entitled_role(user, visit) is None:
        raise deny(user, "visit", visit_id, visit.patient_id if visit else None)
    do_record_audit(
        action, actor=user, object_type="visit", object_id=visit.pk, patient_id=visit.patient_id
    )
    return visit


def participant_out(participant: Participant) -> dict[str, Any]:
    return {
        "id": participant.pk,
        "role": participant.role,
        "name": participant.display_name,
        "state": participant.state,
        "present": bool(participant.room_channel),
        "checked_in": participant.checked_in_at is not None,
        "session": participant.room_session if participant.room_channel else "",
    }


def lobby_of(visit_id: int) -> list[dict[str, Any]]:
    """Everyone waiting or admitted (the clinician's panel)."""
    return [
        participant_out(participant)
        for participant in Participant.objects.filter(visit_id=visit_id)
        .exclude(state=AdmissionState.REMOVED)
        .order_by("created_at", "id")
    ]


def room_peers(visit_id: int, *, exclude: int) -> list[dict[str, Any]]:
    """Admitted participants with a socket in the room, other than `exclude`."""
    return [
        participant_out(participant)
        for participant in Participant.objects.filter(
            visit_id=visit_id, state=AdmissionState.ADMITTED
        )
        .exclude(room_channel="")
        .exclude(pk=exclude)
    ]


def is_room_peer(visit_id: int, participant_id: int) -> bool:
    return (
        Participant.objects.filter(
            visit_id=visit_id, pk=participant_id, state=AdmissionState.ADMITTED
        )
        .exclude(room_channel="")
        .exists()
    )


def chat_history(visit: Visit, *, after_id: int = 0, limit: int = 200) -> QuerySet[ChatMessage]:
    return (
        ChatMessage.objects.filter(visit=visit, pk__gt=after_id)
        .select_related("sender")
        .order_by("id")[:limit]
    )


def chat_out(message: ChatMessage) -> dict[str, Any]:
    return {
        "id": message.pk,
        "from": message.sender_id,
        "name": message.sender.display_name,
        "role": message.sender.role,
        "text": message.body,
        "sent_at": message.sent_at.isoformat(),
    }


def vitals_of(visit: Visit) -> QuerySet[Observation]:
    return Observation.objects.filter(visit=visit, status=ObservationStatus.FINAL).order_by(
        "recorded_at", "id"
    )


@dataclass(frozen=True)
class WaitEstimate:
    ahead: int
    minutes: int
    average_handle_minutes: float


def recent_average_handle_minutes(sample: int = 20) -> float:
    """Mean length of the latest finished on-demand visits (a default until there are some)."""
    recent = [
        int(seconds)
        for seconds in Visit.objects.filter(kind=VisitKind.ON_DEMAND, status=VisitStatus.ENDED)
        .exclude(duration_seconds__isnull=True)
        .order_by("-ended_at")
        .values_list("duration_seconds", flat=True)[:sample]
        if seconds is not None
    ]
    if not recent:
        return float(settings.ON_DEMAND_DEFAULT_HANDLE_MINUTES)
    return max(1.0, sum(recent) / len(recent) / 60)


def estimate_wait(visit: Visit) -> WaitEstimate:
    """Queue length ahead of this request x recent average handle time."""
    average = recent_average_handle_minutes()
    if visit.kind != VisitKind.ON_DEMAND:
        minutes = max(0, math.ceil((visit.starts_at - clock.now()).total_seconds() / 60))
        return WaitEstimate(ahead=0, minutes=minutes, average_handle_minutes=average)
    ahead = (
        Visit.objects.filter(
            kind=VisitKind.ON_DEMAND,
            status=VisitStatus.OPEN,
            clinician__isnull=True,
            created_at__lt=visit.created_at,
        )
        .exclude(pk=visit.pk)
        .count()
    )
    return WaitEstimate(
        ahead=ahead, minutes=max(1, math.ceil(ahead * average)), average_handle_minutes=average
    )


def visits_for(user: User) -> QuerySet[Visit]:
    """A person's visits that are still live (or ended today), soonest first."""
    since = clock.now() - dt.timedelta(hours=12)
    return (
        Visit.objects.filter(Q(patient=user) | Q(clinician=user))
        .filter(Q(status__in=[VisitStatus.OPEN, VisitStatus.IN_PROGRESS]) | Q(ended_at__gte=since))
        .select_related("patient", "clinician")
        .order_by("starts_at")
    )


def open_on_demand_visit(patient_id: int) -> Visit | None:
    """The patient's live on-demand visit (waiting or in progress), if any: a patient waits
    for one live visit at a time."""
    return (
        Visit.objects.filter(
            patient_id=patient_id,
            kind=VisitKind.ON_DEMAND,
            status__in=[VisitStatus.OPEN, VisitStatus.IN_PROGRESS],
        )
        .order_by("-created_at")
        .first()
    )


def require_visit(visit_id: int) -> Visit:
    visit = Visit.objects.filter(pk=visit_id).first()
    if visit is None:
        raise Http404("No visit with that id.")
    return visit
