"""Access rows for the prescribing endpoints and pages, merged into tests/access_matrix.py."""

from tests.access_matrix import ADMIN, CLINICIAN, COORDINATOR, PATIENT, SIGNED_IN, STAFF  # noqa: F401

API_ROWS: dict[tuple[str, str], frozenset[str]] = {}
PAGE_ROWS: dict[str, frozenset[str]] = {}
