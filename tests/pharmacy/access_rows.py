"""Access rows for the pharmacy endpoints and pages, merged into tests/access_matrix.py."""

from tests.access_matrix import ADMIN, COORDINATOR, PATIENT, SIGNED_IN, STAFF

# The machine endpoints take the pharmacy network's token or a pharmacy's HMAC signature:
# no person (session or API token) may call them.
MACHINES_ONLY: frozenset[str] = frozenset()
DISPATCH_STAFF = ADMIN | COORDINATOR

API_ROWS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/v1/pharmacy/pharmacies"): SIGNED_IN,
    ("GET", "/api/v1/pharmacy/pharmacies/{pharmacy_id}"): SIGNED_IN,
    ("GET", "/api/v1/pharmacy/admin/pharmacies"): ADMIN,
    ("POST", "/api/v1/pharmacy/admin/pharmacies"): ADMIN,
    ("GET", "/api/v1/pharmacy/admin/pharmacies/{pharmacy_id}"): ADMIN,
    ("PUT", "/api/v1/pharmacy/admin/pharmacies/{pharmacy_id}"): ADMIN,
    ("POST", "/api/v1/pharmacy/admin/pharmacies/{pharmacy_id}/deactivate"): ADMIN,
    ("POST", "/api/v1/pharmacy/admin/pharmacies/{pharmacy_id}/activate"): ADMIN,
    ("GET", "/api/v1/pharmacy/patients/{patient_id}/preferred"): SIGNED_IN,
    ("PUT", "/api/v1/pharmacy/patients/{patient_id}/preferred"): PATIENT,
    ("GET", "/api/v1/pharmacy/dispatches"): DISPATCH_STAFF,
    ("GET", "/api/v1/pharmacy/dispatches/{dispatch_id}"): DISPATCH_STAFF,
    ("POST", "/api/v1/pharmacy/dispatches/{dispatch_id}/retry"): DISPATCH_STAFF,
    ("GET", "/api/v1/pharmacy/admin/network-clients"): ADMIN,
    ("POST", "/api/v1/pharmacy/admin/network-clients"): ADMIN,
    ("POST", "/api/v1/pharmacy/admin/network-clients/{client_id}/revoke"): ADMIN,
    ("GET", "/api/v1/pharmacy/outbox"): MACHINES_ONLY,
    ("POST", "/api/v1/pharmacy/deliveries/{delivery_id}/status"): MACHINES_ONLY,
}

PAGE_ROWS: dict[str, frozenset[str]] = {
    "pharmacy/": SIGNED_IN,
    "pharmacy/preferred/": PATIENT,
    "pharmacy/admin/": ADMIN,
    "pharmacy/admin/new/": ADMIN,
    "pharmacy/admin/<int:pharmacy_id>/": ADMIN,
    "pharmacy/admin/<int:pharmacy_id>/active/": ADMIN,
    "pharmacy/admin/network/": ADMIN,
    "pharmacy/admin/network/<int:client_id>/revoke/": ADMIN,
    "pharmacy/dispatches/": DISPATCH_STAFF,
    "pharmacy/dispatches/<int:dispatch_id>/": DISPATCH_STAFF,
    "pharmacy/dispatches/<int:dispatch_id>/retry/": DISPATCH_STAFF,
}

__all__ = ["API_ROWS", "PAGE_ROWS", "STAFF"]
