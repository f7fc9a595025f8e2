"""Access rows for the timeline and after-visit summary (T5), in the shape of
tests/access_matrix.py (the lead merges them: API.update(API_ROWS); PAGES.update(PAGE_ROWS)).
tests/care/test_access_rows.py checks them with the same gate rules meanwhile. Record-level
rules (alice vs bob, an unrelated clinician) are tested beside each feature."""

from tests.access_matrix import PATIENT, SIGNED_IN, STAFF

API_ROWS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/v1/care/episodes/{episode_id}/timeline"): SIGNED_IN,
    ("GET", "/api/v1/care/patients/{patient_id}/timeline"): SIGNED_IN,
    ("GET", "/api/v1/care/encounters/{encounter_id}/summary"): SIGNED_IN,
}

PAGE_ROWS: dict[str, frozenset[str]] = {
    "episodes/": PATIENT,
    "episodes/timeline/": PATIENT,
    "episodes/<int:episode_id>/": SIGNED_IN,
    "episodes/patients/<int:patient_id>/": STAFF,
    "episodes/encounters/<int:encounter_id>/summary/": SIGNED_IN,
    "episodes/encounters/<int:encounter_id>/summary/pdf/": SIGNED_IN,
}
