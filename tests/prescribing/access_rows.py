"""Access rows for the prescribing endpoints and pages, merged into tests/access_matrix.py.
Record-level rules (alice vs bob, a clinician without a care relationship) are tested in
test_prescriptions.py, test_refills.py and test_health.py."""

from tests.access_matrix import ADMIN, CLINICIAN, PATIENT, SIGNED_IN

API = "/api/v1/prescribing"
HEALTH_EDITORS = PATIENT | CLINICIAN

API_ROWS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", f"{API}/medications"): SIGNED_IN,
    ("GET", f"{API}/medications/{{medication_id}}"): SIGNED_IN,
    ("POST", f"{API}/medications"): ADMIN,
    ("POST", f"{API}/medications/{{medication_id}}/active"): ADMIN,
    ("GET", f"{API}/patients/{{patient_id}}/allergies"): SIGNED_IN,
    ("POST", f"{API}/patients/{{patient_id}}/allergies"): HEALTH_EDITORS,
    ("POST", f"{API}/allergies/{{allergy_id}}/end"): HEALTH_EDITORS,
    ("GET", f"{API}/patients/{{patient_id}}/medications"): SIGNED_IN,
    ("POST", f"{API}/patients/{{patient_id}}/medications"): HEALTH_EDITORS,
    ("POST", f"{API}/medication-statements/{{statement_id}}/stop"): HEALTH_EDITORS,
    ("GET", f"{API}/patients/{{patient_id}}/prescriptions"): SIGNED_IN,
    ("POST", f"{API}/prescriptions"): CLINICIAN,
    ("GET", f"{API}/prescriptions/{{prescription_id}}"): SIGNED_IN,
    ("GET", f"{API}/prescriptions/{{prescription_id}}/fhir"): SIGNED_IN,
    ("POST", f"{API}/prescriptions/{{prescription_id}}/sign"): CLINICIAN,
    ("POST", f"{API}/prescriptions/{{prescription_id}}/cancel"): CLINICIAN,
    ("POST", f"{API}/prescriptions/{{prescription_id}}/refill-requests"): PATIENT,
    ("GET", f"{API}/refill-requests/{{refill_id}}"): SIGNED_IN,
    ("POST", f"{API}/refill-requests/{{refill_id}}/approve"): CLINICIAN,
    ("POST", f"{API}/refill-requests/{{refill_id}}/deny"): CLINICIAN,
}

PAGE_ROWS: dict[str, frozenset[str]] = {
    "prescriptions/": PATIENT,
    "prescriptions/new/": CLINICIAN,
    "prescriptions/<int:prescription_id>/": SIGNED_IN,
    "prescriptions/<int:prescription_id>/pdf/": SIGNED_IN,
    "prescriptions/<int:prescription_id>/sign/": CLINICIAN,
    "prescriptions/<int:prescription_id>/cancel/": CLINICIAN,
    "prescriptions/<int:prescription_id>/refill/": PATIENT,
    "prescriptions/refills/<int:refill_id>/": CLINICIAN,
    "prescriptions/refills/<int:refill_id>/approve/": CLINICIAN,
    "prescriptions/refills/<int:refill_id>/deny/": CLINICIAN,
    "prescriptions/health/": PATIENT,
    "prescriptions/patients/<int:patient_id>/health/": CLINICIAN,
    "prescriptions/patients/<int:patient_id>/allergies/add/": HEALTH_EDITORS,
    "prescriptions/allergies/<int:allergy_id>/end/": HEALTH_EDITORS,
    "prescriptions/patients/<int:patient_id>/medications/add/": HEALTH_EDITORS,
    "prescriptions/medications/<int:statement_id>/stop/": HEALTH_EDITORS,
    "prescriptions/formulary/": ADMIN,
    "prescriptions/formulary/<int:medication_id>/active/": ADMIN,
}
