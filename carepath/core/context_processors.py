from typing import Any

from django.http import HttpRequest

from carepath.accounts.models import Role


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_links": []}
    links = [("/home/", "Home")]
    if user.role == Role.PATIENT:
        links += [("/patient/profile/", "My details"), ("/patient/consent/", "Consent")]
        links += [("/patient/appointments/", "Appointments")]
        links += [("/patient/visits/", "Online visits")]
        links += [("/visits/", "Video visits")]
    else:
        links += [("/staff/patients/", "Patients")]
    if user.role in (Role.CLINICIAN, Role.COORDINATOR, Role.ADMIN):
        links += [("/staff/queue/", "Queue")]
    if user.role == Role.CLINICIAN:
        links += [("/staff/schedule/", "Schedule")]
        links += [("/visits/", "Video visits")]
        links += [("/staff/econsults/", "eConsults")]
    if user.role == Role.ADMIN:
        links += [
            ("/staff/admin/staff/", "Staff"),
            ("/staff/admin/audit/", "Audit"),
            ("/staff/admin/consent/", "Consent texts"),
            ("/staff/admin/intake/service-lines/", "Service lines"),
            ("/staff/admin/intake/questionnaires/", "Questionnaires"),
        ]
    links += [("/messages/", "Messages")]
    links += [("/rpm/" if user.role == Role.PATIENT else "/rpm/staff/", "Monitoring")]
    links += [("/notifications/", "Notifications")]
    if user.role != Role.PATIENT:
        links += [("/account/tokens/", "API tokens")]
    links += [("/accounts/2fa/", "Security")]
    return {"nav_links": links, "user_role": user.role}
