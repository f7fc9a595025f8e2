from typing import Any

from django.http import HttpRequest

from carepath.accounts.models import Role

Link = tuple[str, str]

# One short list per role, in the order people use them; the admin's configuration pages are
# reached from the admin home, so a phone's header stays two lines at most.
PATIENT_LINKS: list[Link] = [
    ("/episodes/", "My care"),
    ("/patient/visits/", "Online visits"),
    ("/patient/appointments/", "Appointments"),
    ("/visits/", "Video visits"),
    ("/messages/", "Messages"),
    ("/rpm/", "Monitoring"),
    ("/prescriptions/", "Prescriptions"),
    ("/prescriptions/health/", "My health"),
    ("/patient/profile/", "My details"),
    ("/patient/consent/", "Consent"),
]
CLINICIAN_LINKS: list[Link] = [
    ("/staff/queue/", "Queue"),
    ("/staff/schedule/", "Schedule"),
    ("/visits/", "Video visits"),
    ("/staff/patients/", "Patients"),
    ("/messages/", "Messages"),
    ("/rpm/staff/", "Monitoring"),
    ("/staff/econsults/", "eConsults"),
]
LINKS_BY_ROLE: dict[str, list[Link]] = {
    Role.PATIENT: PATIENT_LINKS,
    Role.CLINICIAN: CLINICIAN_LINKS,
    Role.TELEFACILITATOR: [
        ("/visits/", "Video visits"),
        ("/staff/patients/", "Patients"),
        ("/messages/", "Messages"),
    ],
    Role.COORDINATOR: [
        ("/staff/queue/overview/", "Queue overview"),
        ("/care-paths/", "Care paths"),
        ("/pharmacy/dispatches/", "Dispatches"),
        ("/staff/patients/", "Patients"),
        ("/messages/", "Messages"),
        ("/rpm/staff/", "Monitoring"),
    ],
    Role.ADMIN: [
        ("/staff/queue/overview/", "Queue overview"),
        ("/care-paths/", "Care paths"),
        ("/staff/admin/staff/", "Staff"),
        ("/staff/admin/audit/", "Audit"),
    ],
}


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_links": []}
    links: list[Link] = [("/home/", "Home"), *LINKS_BY_ROLE.get(user.role, [])]
    links.append(("/notifications/", "Notifications"))
    if user.role != Role.PATIENT:
        links.append(("/account/tokens/", "API tokens"))
    links.append(("/accounts/2fa/", "Security"))
    return {"nav_links": links, "user_role": user.role}
