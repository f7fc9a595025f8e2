"""Who may call what: one row per API operation and per page. tests/core/test_access_matrix.py
fails when an endpoint exists without a row here, so every new endpoint gets an access test.

A role not listed must be refused (401/403, or 404 for records it may not see); a listed role
must get past the gate (anything but 401/403). Record-level rules (alice vs bob) are tested
beside each feature."""

PATIENT = frozenset({"patient"})
CLINICIAN = frozenset({"clinician"})
ADMIN = frozenset({"admin"})
COORDINATOR = frozenset({"coordinator"})
CARE_STAFF = frozenset({"clinician", "telefacilitator", "coordinator"})
STAFF = CARE_STAFF | ADMIN
SIGNED_IN = STAFF | PATIENT
PUBLIC = SIGNED_IN | {"anonymous"}

API: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/v1/me"): SIGNED_IN,
    ("PATCH", "/api/v1/me/profile"): PATIENT,
    ("GET", "/api/v1/tokens"): SIGNED_IN,
    ("POST", "/api/v1/tokens"): SIGNED_IN,
    ("POST", "/api/v1/tokens/{token_id}/revoke"): SIGNED_IN,
    ("GET", "/api/v1/staff"): ADMIN,
    ("PATCH", "/api/v1/staff/{user_id}"): ADMIN,
    ("GET", "/api/v1/staff/invitations"): ADMIN,
    ("POST", "/api/v1/staff/invitations"): ADMIN,
    ("PUT", "/api/v1/staff/{user_id}/clinician-profile"): ADMIN,
    ("PUT", "/api/v1/staff/{user_id}/licenses/{state}"): ADMIN,
    ("DELETE", "/api/v1/staff/{user_id}/licenses/{state}"): ADMIN,
    ("GET", "/api/v1/patients"): SIGNED_IN,
    ("GET", "/api/v1/patients/{patient_id}"): SIGNED_IN,
    ("POST", "/api/v1/patients/{patient_id}/break-glass"): STAFF,
    ("POST", "/api/v1/patients/{patient_id}/care-team"): COORDINATOR | ADMIN,
    ("GET", "/api/v1/consent"): PATIENT,
    ("POST", "/api/v1/consent/accept"): PATIENT,
    ("POST", "/api/v1/consent/revoke"): PATIENT,
    ("GET", "/api/v1/consent/documents"): ADMIN,
    ("POST", "/api/v1/consent/documents"): ADMIN,
    ("GET", "/api/v1/audit/events"): ADMIN,
    ("GET", "/api/v1/audit/verify"): ADMIN,
    ("GET", "/api/v1/notifications"): SIGNED_IN,
    ("POST", "/api/v1/notifications/{notification_id}/read"): SIGNED_IN,
    ("GET", "/api/v1/messages/threads"): SIGNED_IN,
    ("POST", "/api/v1/messages/threads"): SIGNED_IN,
    ("GET", "/api/v1/messages/threads/{thread_id}"): SIGNED_IN,
    ("GET", "/api/v1/messages/threads/{thread_id}/messages"): SIGNED_IN,
    ("POST", "/api/v1/messages/threads/{thread_id}/messages"): SIGNED_IN,
    ("POST", "/api/v1/messages/threads/{thread_id}/attachments"): SIGNED_IN,
    ("POST", "/api/v1/messages/threads/{thread_id}/read"): SIGNED_IN,
    ("POST", "/api/v1/messages/threads/{thread_id}/participants"): STAFF,
    ("POST", "/api/v1/messages/{message_id}/entered-in-error"): SIGNED_IN,
    ("GET", "/api/v1/messages/search"): SIGNED_IN,
    ("GET", "/api/v1/messages/templates"): STAFF,
    ("POST", "/api/v1/messages/templates"): STAFF,
    ("POST", "/api/v1/messages/templates/{template_id}/retire"): STAFF,
    # Remote monitoring: devices write with `Authorization: Device <token>`, no user may.
    ("POST", "/api/v1/rpm/readings"): frozenset(),
    ("POST", "/api/v1/rpm/readings/batch"): frozenset(),
    ("POST", "/api/v1/rpm/readings/fhir"): frozenset(),
    ("GET", "/api/v1/rpm/programs"): SIGNED_IN,
    ("GET", "/api/v1/rpm/patients/{patient_id}/readings"): SIGNED_IN,
    ("GET", "/api/v1/rpm/patients/{patient_id}/enrollments"): SIGNED_IN,
    ("POST", "/api/v1/rpm/patients/{patient_id}/enrollments"): CLINICIAN,
    ("POST", "/api/v1/rpm/enrollments/{enrollment_id}/consent"): PATIENT,
    ("PUT", "/api/v1/rpm/enrollments/{enrollment_id}/thresholds"): CLINICIAN,
    ("POST", "/api/v1/rpm/enrollments/{enrollment_id}/end"): CLINICIAN,
    ("GET", "/api/v1/rpm/patients/{patient_id}/devices"): SIGNED_IN,
    ("POST", "/api/v1/rpm/patients/{patient_id}/devices"): CLINICIAN | COORDINATOR,
    ("POST", "/api/v1/rpm/devices/{device_id}/revoke"): CLINICIAN | COORDINATOR,
    ("GET", "/api/v1/rpm/patients/{patient_id}/alerts"): SIGNED_IN,
    ("POST", "/api/v1/rpm/alerts/{alert_id}/resolve"): CLINICIAN,
    ("POST", "/api/v1/rpm/readings/{reading_id}/entered-in-error"): CLINICIAN,
    ("GET", "/api/v1/rpm/patients/{patient_id}/time-entries"): CARE_STAFF,
    ("POST", "/api/v1/rpm/patients/{patient_id}/time-entries"): CLINICIAN,
    ("GET", "/api/v1/rpm/patients/{patient_id}/billing"): CLINICIAN | COORDINATOR | ADMIN,
}

# Page routes (Django URL patterns, allauth's own account pages excluded).
PAGES: dict[str, frozenset[str]] = {
    "": PUBLIC,
    "home/": SIGNED_IN,
    "healthz": PUBLIC,
    "metrics": PUBLIC,
    "patient/": PATIENT,
    "patient/profile/": PATIENT,
    "patient/consent/": PATIENT,
    "patient/consent/revoke/": PATIENT,
    "staff/": STAFF,
    "staff/admin/": ADMIN,
    "staff/patients/": STAFF,
    "staff/patients/<int:patient_id>/": STAFF,
    "staff/patients/<int:patient_id>/break-glass/": STAFF,
    "staff/admin/staff/": ADMIN,
    "staff/admin/staff/<int:user_id>/": ADMIN,
    "staff/admin/staff/<int:user_id>/licenses/<int:license_id>/remove/": ADMIN,
    "staff/admin/audit/": ADMIN,
    "staff/admin/audit/export.csv": ADMIN,
    "staff/admin/consent/": ADMIN,
    "notifications/": SIGNED_IN,
    "account/tokens/": SIGNED_IN,
    "accounts/invitation/<str:token>/": PUBLIC,
    "fhir/R4/metadata": PUBLIC,
    "fhir/R4/Patient": SIGNED_IN,
    "fhir/R4/Patient/<int:patient_id>": SIGNED_IN,
    "messages/": SIGNED_IN,
    "messages/new/": SIGNED_IN,
    "messages/search/": SIGNED_IN,
    "messages/templates/": STAFF,
    "messages/templates/<int:template_id>/retire/": STAFF,
    "messages/attachments/<int:attachment_id>/": SIGNED_IN,
    "messages/<int:thread_id>/": SIGNED_IN,
    "messages/<int:thread_id>/messages/<int:message_id>/entered-in-error/": SIGNED_IN,
    "rpm/": PATIENT,
    "rpm/consent/<int:enrollment_id>/": PATIENT,
    "rpm/staff/": STAFF,
    "rpm/staff/patients/<int:patient_id>/": STAFF,
    "rpm/staff/patients/<int:patient_id>/enroll/": STAFF,
    "rpm/staff/patients/<int:patient_id>/devices/": STAFF,
    "rpm/staff/patients/<int:patient_id>/time/": STAFF,
    "rpm/staff/patients/<int:patient_id>/timer/start/": STAFF,
    "rpm/staff/timer/stop/": STAFF,
    "rpm/staff/enrollments/<int:enrollment_id>/thresholds/": STAFF,
    "rpm/staff/enrollments/<int:enrollment_id>/end/": STAFF,
    "rpm/staff/devices/<int:device_id>/revoke/": STAFF,
    "rpm/staff/alerts/<int:alert_id>/resolve/": STAFF,
    "rpm/staff/readings/<int:reading_id>/entered-in-error/": STAFF,
    "rpm/staff/billing/": CLINICIAN | COORDINATOR | ADMIN,
    "rpm/staff/billing.csv": CLINICIAN | COORDINATOR | ADMIN,
}

# Each domain keeps its own rows beside its tests; they are merged here. (Imported last: they
# use the role sets defined above.)
from tests.care import access_rows as care_rows  # noqa: E402
from tests.carepaths import access_rows as carepaths_rows  # noqa: E402
from tests.intake import access_rows as intake_rows  # noqa: E402
from tests.pharmacy import access_rows as pharmacy_rows  # noqa: E402
from tests.prescribing import access_rows as prescribing_rows  # noqa: E402
from tests.scheduling import access_rows as scheduling_rows  # noqa: E402
from tests.visits import access_rows as visits_rows  # noqa: E402
from tests.workqueue import access_rows as workqueue_rows  # noqa: E402

for _rows in (
    intake_rows,
    scheduling_rows,
    visits_rows,
    workqueue_rows,
    pharmacy_rows,
    prescribing_rows,
    carepaths_rows,
    care_rows,
):
    API.update(_rows.API_ROWS)
    PAGES.update(_rows.PAGE_ROWS)
