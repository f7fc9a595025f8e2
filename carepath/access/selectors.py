"""Every fetch of a patient's data goes through access_*(): it authorizes, audits, and answers
404 (never 403) for what the user may not see, so existence does not leak."""

from django.db.models import Q, QuerySet
from django.http import Http404

from carepath.access.models import BreakGlassGrant, CareRelationship
from carepath.accounts.models import PatientProfile, Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core import clock

# Roles that give care and may therefore hold a care relationship to a patient.
CARE_ROLES = frozenset({Role.CLINICIAN, Role.TELEFACILITATOR, Role.COORDINATOR})


def has_care_relationship(staff: User, patient_id: int) -> bool:
    now = clock.now()
    return CareRelationship.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
        staff=staff,
        patient_id=patient_id,
        started_at__lte=now,
    ).exists()


def active_break_glass(staff: User, patient_id: int) -> BreakGlassGrant | None:
    now = clock.now()
    return (
        BreakGlassGrant.objects.filter(
            staff=staff, patient_id=patient_id, started_at__lte=now, expires_at__gt=now
        )
        .order_by("-expires_at")
        .first()
    )


def may_access_patient(user: User, patient_id: int) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.role == Role.PATIENT:
        return bool(user.pk == patient_id)
    if user.role in CARE_ROLES and has_care_relationship(user, patient_id):
        return True
    return user.can_break_glass and active_break_glass(user, patient_id) is not None


def deny(user: User, object_type: str, object_id: object, patient_id: int | None) -> Http404:
    """Audit a refused access and return the 404 to raise."""
    do_record_audit(
        f"{object_type}.read",
        actor=user,
        object_type=object_type,
        object_id=object_id,
        patient_id=patient_id,
        outcome=Outcome.DENIED,
    )
    return Http404(f"No {object_type.replace('_', ' ')} with that id.")


def access_patient(user: User, patient_id: int, *, action: str = "patient.read") -> PatientProfile:
    profile = PatientProfile.objects.select_related("user").filter(user_id=patient_id).first()
    if profile is None or not may_access_patient(user, patient_id):
        raise deny(user, "patient", patient_id, patient_id if profile else None)
    do_record_audit(
        action, actor=user, object_type="patient", object_id=patient_id, patient_id=patient_id
    )
    return profile


def patients_visible_to(user: User) -> QuerySet[PatientProfile]:
    """The patients a staff member has a current care relationship with (for lists)."""
    if user.role == Role.PATIENT:
        return PatientProfile.objects.filter(user=user)
    if user.role not in CARE_ROLES:
        return PatientProfile.objects.none()
    now = clock.now()
    ids = CareRelationship.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now), staff=user, started_at__lte=now
    ).values("patient_id")
    return PatientProfile.objects.filter(user_id__in=ids).select_related("user")
