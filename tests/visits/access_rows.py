"""Access rows for live visits (merged by tests/access_matrix.py). Endpoints a guest (no
account) reaches through their link's session are open to every signed-in role at the gate;
who is a participant of which visit is decided per record (tests/visits)."""

from tests.access_matrix import (
    ADMIN,
    CLINICIAN,
    COORDINATOR,
    PATIENT,
    PUBLIC,
    SIGNED_IN,
)

TELEFACILITATOR = frozenset({"telefacilitator"})

API_ROWS: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/api/v1/visits/on-demand"): PATIENT,
    ("POST", "/api/v1/visits/appointments/{appointment_id}/open"): PATIENT | CLINICIAN,
    ("GET", "/api/v1/visits/{visit_id}"): SIGNED_IN,
    ("GET", "/api/v1/visits/{visit_id}/wait"): SIGNED_IN,
    ("POST", "/api/v1/visits/{visit_id}/check-in"): SIGNED_IN,
    ("GET", "/api/v1/visits/{visit_id}/ice-servers"): SIGNED_IN,
    ("GET", "/api/v1/visits/{visit_id}/chat"): SIGNED_IN,
    ("POST", "/api/v1/visits/{visit_id}/chat"): SIGNED_IN,
    ("GET", "/api/v1/visits/{visit_id}/modes"): SIGNED_IN,
    ("GET", "/api/v1/visits/{visit_id}/vitals"): SIGNED_IN,
    ("POST", "/api/v1/visits/{visit_id}/vitals"): CLINICIAN | TELEFACILITATOR,
    ("POST", "/api/v1/visits/{visit_id}/invites"): SIGNED_IN,
    ("POST", "/api/v1/visits/{visit_id}/take"): CLINICIAN,
    ("GET", "/api/v1/visits/{visit_id}/links"): CLINICIAN,
    ("POST", "/api/v1/visits/{visit_id}/links"): CLINICIAN | COORDINATOR | ADMIN,
    ("POST", "/api/v1/visits/links/{link_id}/revoke"): PATIENT | CLINICIAN | COORDINATOR | ADMIN,
    ("GET", "/api/v1/visits/{visit_id}/participants"): CLINICIAN,
    ("POST", "/api/v1/visits/{visit_id}/participants/{participant_id}/admit"): CLINICIAN,
    ("POST", "/api/v1/visits/{visit_id}/participants/{participant_id}/remove"): CLINICIAN,
    ("POST", "/api/v1/visits/{visit_id}/end"): CLINICIAN,
    ("GET", "/api/v1/visits/{visit_id}/note"): CLINICIAN,
    ("PUT", "/api/v1/visits/{visit_id}/note"): CLINICIAN,
    ("POST", "/api/v1/visits/{visit_id}/note/sign"): CLINICIAN,
}

PAGE_ROWS: dict[str, frozenset[str]] = {
    "visits/": SIGNED_IN,
    "visits/on-demand/": PATIENT,
    "visits/appointments/<int:appointment_id>/": PATIENT | CLINICIAN,
    "visits/<int:visit_id>/": PUBLIC,
    "visits/<int:visit_id>/wait/": PUBLIC,
    "visits/<int:visit_id>/take/": CLINICIAN,
    "visits/<int:visit_id>/join/<str:token>/": PUBLIC,
}
