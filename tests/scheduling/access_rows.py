"""Access rows for scheduling (merged by tests/access_matrix.py)."""

from tests.access_matrix import ADMIN, CLINICIAN, COORDINATOR, PATIENT, SIGNED_IN

BOOKERS = PATIENT | CLINICIAN | COORDINATOR | ADMIN

API_ROWS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/v1/scheduling/slots"): BOOKERS,
    ("GET", "/api/v1/scheduling/appointments"): PATIENT | CLINICIAN,
    ("POST", "/api/v1/scheduling/appointments"): BOOKERS,
    ("GET", "/api/v1/scheduling/appointments/{appointment_id}"): SIGNED_IN,
    ("GET", "/api/v1/scheduling/appointments/{appointment_id}/invite.ics"): SIGNED_IN,
    ("POST", "/api/v1/scheduling/appointments/{appointment_id}/cancel"): SIGNED_IN,
    ("POST", "/api/v1/scheduling/appointments/{appointment_id}/reschedule"): SIGNED_IN,
    ("POST", "/api/v1/scheduling/appointments/{appointment_id}/no-show"): CLINICIAN,
    ("GET", "/api/v1/scheduling/availability/weekly"): CLINICIAN,
    ("POST", "/api/v1/scheduling/availability/weekly"): CLINICIAN,
    ("DELETE", "/api/v1/scheduling/availability/weekly/{rule_id}"): CLINICIAN,
    ("GET", "/api/v1/scheduling/availability/exceptions"): CLINICIAN,
    ("POST", "/api/v1/scheduling/availability/exceptions"): CLINICIAN,
    ("DELETE", "/api/v1/scheduling/availability/exceptions/{exception_id}"): CLINICIAN,
    ("GET", "/api/v1/scheduling/visit-types"): CLINICIAN,
    ("POST", "/api/v1/scheduling/visit-types"): CLINICIAN,
    ("PUT", "/api/v1/scheduling/visit-types/{visit_type_id}"): CLINICIAN,
}

PAGE_ROWS: dict[str, frozenset[str]] = {
    "patient/appointments/": PATIENT,
    "patient/appointments/book/": PATIENT,
    "patient/appointments/book/confirm/": PATIENT,
    "patient/appointments/<int:appointment_id>/": PATIENT,
    "patient/appointments/<int:appointment_id>/cancel/": PATIENT,
    "patient/appointments/<int:appointment_id>/reschedule/": PATIENT,
    "staff/schedule/": CLINICIAN,
    "staff/schedule/appointments/<int:appointment_id>/": CLINICIAN,
    "staff/schedule/appointments/<int:appointment_id>/cancel/": CLINICIAN,
    "staff/schedule/appointments/<int:appointment_id>/no-show/": CLINICIAN,
    "staff/schedule/hours/": CLINICIAN,
    "staff/schedule/hours/<int:rule_id>/remove/": CLINICIAN,
    "staff/schedule/exceptions/": CLINICIAN,
    "staff/schedule/exceptions/<int:exception_id>/remove/": CLINICIAN,
    "staff/schedule/visit-types/": CLINICIAN,
    "staff/schedule/visit-types/<int:visit_type_id>/": CLINICIAN,
}
