import datetime as dt
from typing import Annotated

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field, StringConstraints

from carepath.access.actions import do_add_care_relationship, do_break_glass
from carepath.access.selectors import access_patient, patients_visible_to
from carepath.accounts.models import STAFF_ROLES, PatientProfile, Role, User
from carepath.accounts.permissions import check_role
from carepath.audit.actions import do_record_audit
from carepath.core.api import current_user, only
from carepath.core.errors import ActionRefused
from carepath.core.languages import Language
from carepath.core.us_states import UsState

router = Router(tags=["patients"])


class PatientOut(Schema):
    id: int
    first_name: str
    last_name: str
    email: str
    date_of_birth: dt.date
    phone: str
    state: UsState
    preferred_language: Language
    time_zone: str


def patient_out(profile: PatientProfile) -> PatientOut:
    user = profile.user
    return PatientOut(
        id=user.pk,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        date_of_birth=profile.date_of_birth,
        phone=profile.phone,
        state=UsState(profile.state),
        preferred_language=Language(profile.preferred_language),
        time_zone=user.time_zone,
    )


class BreakGlassIn(Schema):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
    minutes: int = Field(default=60, ge=1, le=24 * 60)


class BreakGlassOut(Schema):
    id: int
    patient_id: int
    started_at: dt.datetime
    expires_at: dt.datetime


class CareTeamIn(Schema):
    staff_id: int
    ends_at: dt.datetime | None = None


class CareTeamOut(Schema):
    id: int
    patient_id: int
    staff_id: int
    kind: str
    started_at: dt.datetime
    ends_at: dt.datetime | None


@router.get("", response=list[PatientOut], summary="Patients I have a care relationship with")
def list_patients(request: HttpRequest) -> list[PatientOut]:
    user = current_user(request)
    profiles = list(patients_visible_to(user)[:200])
    for profile in profiles:
        do_record_audit(
            "patient.list",
            actor=user,
            object_type="patient",
            object_id=profile.user_id,
            patient_id=profile.user_id,
        )
    return [patient_out(profile) for profile in profiles]


@router.get("/{int:patient_id}", response=PatientOut, summary="One patient's demographics")
def get_patient(request: HttpRequest, patient_id: int) -> PatientOut:
    return patient_out(access_patient(current_user(request), patient_id))


@router.post(
    "/{int:patient_id}/break-glass",
    response={201: BreakGlassOut},
    summary="Emergency access to a patient without a care relationship (designated staff)",
    auth=only(*STAFF_ROLES),
)
def break_glass(request: HttpRequest, patient_id: int, payload: BreakGlassIn) -> Status[object]:
    grant = do_break_glass(current_user(request), patient_id, payload.reason, payload.minutes)
    return Status(201, grant)


@router.post(
    "/{int:patient_id}/care-team",
    response={201: CareTeamOut},
    summary="Add a staff member to a patient's care team (coordinator, admin)",
    auth=only(Role.COORDINATOR, Role.ADMIN),
)
def add_to_care_team(request: HttpRequest, patient_id: int, payload: CareTeamIn) -> Status[object]:
    actor = current_user(request)
    check_role(actor, {Role.COORDINATOR, Role.ADMIN}, "care_relationship.create")
    if not PatientProfile.objects.filter(user_id=patient_id).exists():
        raise ActionRefused("not_found", "No patient with that id.", status=404)
    staff = User.objects.filter(pk=payload.staff_id, is_active=True).first()
    if staff is None:
        raise ActionRefused(
            "unknown_staff", "No active staff member with that id.", field="staff_id"
        )
    relationship = do_add_care_relationship(staff, patient_id, ends_at=payload.ends_at, by=actor)
    return Status(201, relationship)
