"""Access rows for the carepaths endpoints and pages, merged into tests/access_matrix.py.
Record-level rules (alice vs bob, a clinician without a care relationship) are tested beside
each feature in this package."""

from tests.access_matrix import ADMIN, CLINICIAN, COORDINATOR, PATIENT, SIGNED_IN, STAFF

API_ROWS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/v1/care-paths/definitions"): STAFF,
    ("GET", "/api/v1/care-paths/definitions/{code}"): STAFF,
    ("POST", "/api/v1/care-paths/definitions/{code}"): ADMIN,
    ("GET", "/api/v1/care-paths/episodes"): SIGNED_IN,
    ("GET", "/api/v1/care-paths/episodes/{episode_id}"): SIGNED_IN,
    ("GET", "/api/v1/care-paths/check-ins"): PATIENT,
    ("GET", "/api/v1/care-paths/check-ins/{check_in_id}"): SIGNED_IN,
    ("PUT", "/api/v1/care-paths/check-ins/{check_in_id}/draft"): PATIENT,
    ("POST", "/api/v1/care-paths/check-ins/{check_in_id}/answers"): PATIENT,
    ("POST", "/api/v1/care-paths/check-ins/{check_in_id}/review"): CLINICIAN,
}

PAGE_ROWS: dict[str, frozenset[str]] = {
    "care-paths/": COORDINATOR | ADMIN,
    "care-paths/episodes/<int:episode_id>/": SIGNED_IN,
    "care-paths/definitions/": ADMIN,
    "care-paths/definitions/<slug:code>/": ADMIN,
    "care-paths/check-ins/": PATIENT,
    "care-paths/check-ins/<int:check_in_id>/": PATIENT,
    "care-paths/check-ins/<int:check_in_id>/draft/": PATIENT,
    "care-paths/check-ins/<int:check_in_id>/review/": CLINICIAN,
}
