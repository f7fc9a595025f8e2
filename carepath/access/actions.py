import datetime as dt

from django.conf import settings
from django.db import transaction

from carepath.access.models import BreakGlassGrant, CareRelationship, RelationshipKind
from carepath.accounts.models import PatientProfile, Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core import clock
from carepath.core.errors import ActionRefused
from carepath.notifications.actions import notify_admins

MIN_REASON_LENGTH = 15


def check_break_glass(staff: User, patient_id: int, reason: str, minutes: int) -> None:
    if not staff.can_break_glass or not staff.is_staff_role:
        raise ActionRefused("not_permitted", "You are not designated for emergency access.")
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ActionRefused(
            "reason_required",
            f"Give the clinical reason (at least {MIN_REASON_LENGTH} characters).",
            field="reason",
        )
    if not 1 <= minutes <= settings.BREAK_GLASS_MAX_MINUTES:
        raise ActionRefused(
            "invalid_duration",
            f"Emergency access lasts 1 to {settings.BREAK_GLASS_MAX_MINUTES} minutes.",
            field="minutes",
        )
    if not PatientProfile.objects.filter(user_id=patient_id).exists():
        raise ActionRefused("not_found", "No patient with that id.", status=404)


def do_break_glass(staff: User, patient_id: int, reason: str, minutes: int) -> BreakGlassGrant:
    try:
        check_break_glass(staff, patient_id, reason, minutes)
    except ActionRefused as refused:
        do_record_audit(
            "break_glass.start",
            actor=staff,
            object_type="patient",
            object_id=patient_id,
            patient_id=patient_id,
            outcome=Outcome.DENIED,
            detail={"code": refused.code},
        )
        raise
    with transaction.atomic():
        started = clock.now()
        grant = BreakGlassGrant.objects.create(
            staff=staff,
            patient_id=patient_id,
            reason=reason.strip(),
            started_at=started,
            expires_at=started + dt.timedelta(minutes=minutes),
        )
        do_record_audit(
            "break_glass.start",
            actor=staff,
            object_type="break_glass",
            object_id=grant.pk,
            patient_id=patient_id,
            detail={"minutes": minutes, "reason": grant.reason},
        )
        notify_admins(
            kind="break_glass",
            title="Emergency access started",
            body=(
                f"{staff.display_name} opened a patient record with break-the-glass access "
                f"for {minutes} minutes. Review it in the audit report."
            ),
            url=f"/staff/audit/?action=break_glass&actor={staff.pk}",
        )
    return grant


def do_add_care_relationship(
    staff: User,
    patient_id: int,
    *,
    kind: str = RelationshipKind.CARE_TEAM,
    source_id: str = "",
    ends_at: dt.datetime | None = None,
    by: User | None = None,
) -> CareRelationship:
    if staff.role not in {Role.CLINICIAN, Role.TELEFACILITATOR, Role.COORDINATOR}:
        raise ActionRefused("not_care_staff", "Only care staff can join a care team.")
    with transaction.atomic():
        relationship = CareRelationship.objects.create(
            staff=staff, patient_id=patient_id, kind=kind, source_id=source_id, ends_at=ends_at
        )
        do_record_audit(
            "care_relationship.create",
            actor=by or staff,
            object_type="care_relationship",
            object_id=relationship.pk,
            patient_id=patient_id,
            detail={"staff_id": staff.pk, "kind": kind},
        )
    return relationship
