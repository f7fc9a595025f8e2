from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from carepath.access.selectors import patients_visible_to
from carepath.accounts.mfa import has_totp
from carepath.accounts.models import PatientProfile, Role, User
from carepath.accounts.selectors import clinician_profile, licensed_states, open_invitations
from carepath.audit.actions import do_record_audit
from carepath.audit.selectors import find_chain_break
from carepath.consent.selectors import acceptance_history
from carepath.core import clock
from carepath.core.decorators import STAFF, consent_required, request_user, role_required
from carepath.notifications.selectors import notifications_for
from carepath.portal.selectors import CareNow, care_now


@role_required(Role.PATIENT)
@consent_required
def patient_home(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    profile = PatientProfile.objects.filter(user=user).first()
    do_record_audit(
        "patient.read", actor=user, object_type="patient", object_id=user.pk, patient_id=user.pk
    )
    care = care_now(user)
    _audit_care_listed(user, care)
    return render(
        request,
        "portal/patient_home.html",
        {
            "profile": profile,
            "care": care,
            "consents": acceptance_history(user)[:5],
            "notifications": notifications_for(user)[:5],
        },
    )


def _audit_care_listed(patient: User, care: CareNow) -> None:
    """Each record listed on the home page is a read of health information, as on the
    visit list and the staff home."""
    listed = [("episode", card.episode.pk) for card in care.episodes]
    listed += [("visit", visit.pk) for visit in care.live_visits]
    listed += [("check_in", check_in.pk) for check_in in care.check_ins]
    for object_type, object_id in listed:
        do_record_audit(
            f"{object_type}.list",
            actor=patient,
            object_type=object_type,
            object_id=object_id,
            patient_id=patient.pk,
        )


@role_required(*STAFF)
def staff_home(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    patients = list(patients_visible_to(user)[:20])
    for profile in patients:
        do_record_audit(
            "patient.list",
            actor=user,
            object_type="patient",
            object_id=profile.user_id,
            patient_id=profile.user_id,
        )
    return render(
        request,
        "portal/staff_home.html",
        {
            "patients": patients,
            "profile": clinician_profile(user) if user.role == Role.CLINICIAN else None,
            "licensed_states": licensed_states(user, clock.now().date()),
            "notifications": notifications_for(user)[:5],
        },
    )


@role_required(Role.ADMIN)
def admin_home(request: HttpRequest) -> HttpResponse:
    staff = User.objects.exclude(role=Role.PATIENT)
    return render(
        request,
        "portal/admin_home.html",
        {
            "staff_count": staff.filter(is_active=True).count(),
            "staff_without_mfa": [member for member in staff if not has_totp(member)][:20],
            "invitations": open_invitations()[:10],
            "chain_break": find_chain_break(),
            "notifications": notifications_for(request_user(request))[:10],
        },
    )
