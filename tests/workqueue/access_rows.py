"""Access rows for the work queue and the upload pipeline (merged by tests/access_matrix.py)."""

from tests.access_matrix import ADMIN, CLINICIAN, COORDINATOR, SIGNED_IN

QUEUE_STAFF = CLINICIAN | COORDINATOR | ADMIN

API_ROWS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/v1/queue"): QUEUE_STAFF,
    ("GET", "/api/v1/queue/{item_id}"): SIGNED_IN,  # record-level: 404 unless eligible
    ("POST", "/api/v1/queue/claim-next"): QUEUE_STAFF,
    ("POST", "/api/v1/queue/{item_id}/claim"): QUEUE_STAFF,
    ("POST", "/api/v1/queue/{item_id}/renew"): QUEUE_STAFF,
    ("POST", "/api/v1/queue/{item_id}/release"): QUEUE_STAFF,
    ("POST", "/api/v1/queue/{item_id}/complete"): QUEUE_STAFF,
    ("POST", "/api/v1/queue/{item_id}/reassign"): COORDINATOR | ADMIN,
    ("POST", "/api/v1/files"): SIGNED_IN,
    ("GET", "/api/v1/files/{file_id}"): SIGNED_IN,
}

PAGE_ROWS: dict[str, frozenset[str]] = {
    "staff/queue/": QUEUE_STAFF,
    "staff/queue/overview/": COORDINATOR | ADMIN,
    "staff/queue/<int:item_id>/reassign/": COORDINATOR | ADMIN,
    "staff/queue/claim-next/": CLINICIAN,
    "staff/queue/<int:item_id>/claim/": CLINICIAN,
    "staff/queue/<int:item_id>/release/": CLINICIAN,
    "staff/queue/<int:item_id>/complete/": CLINICIAN,
    "files/<int:file_id>/": SIGNED_IN,
    "files/<int:file_id>/thumbnail/": SIGNED_IN,
}
