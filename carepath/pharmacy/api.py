"""/api/v1/pharmacy: the directory, a patient's preferred pharmacy, dispatches for operations
staff, and the machine endpoints of the handoff (see carepath.pharmacy.adapters for the
pharmacy network's protocol).

People (session or bearer token):
  GET  /pharmacies                          search (state, city, name, zip, q)   signed in
  GET  /pharmacies/{id}                     one active pharmacy                   signed in
  GET|POST /admin/pharmacies, GET|PUT /admin/pharmacies/{id},
  POST /admin/pharmacies/{id}/deactivate|activate                                 admin
  GET|PUT /patients/{patient_id}/preferred  the patient (PUT), or care team (GET)
  GET  /dispatches, /dispatches/{id}, POST /dispatches/{id}/retry                 admin, coordinator
  GET|POST /admin/network-clients, POST /admin/network-clients/{id}/revoke        admin
Machines (never a person):
  GET  /outbox                              pharmacy network token
  POST /deliveries/{delivery_id}/status     network token, or the pharmacy's HMAC signature"""

import datetime as dt
import hashlib
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema, Status

from carepath.access.selectors import deny
from carepath.accounts.models import Role
from carepath.core.api import current_user, only
from carepath.core.errors import ActionRefused
from carepath.core.idempotency import idempotency_key, idempotent
from carepath.pharmacy import actions
from carepath.pharmacy.auth import network_only, network_or_pharmacy
from carepath.pharmacy.callers import InboundCaller
from carepath.pharmacy.models import DispatchStatus
from carepath.pharmacy.schemas import (
    DispatchDetailOut,
    DispatchOut,
    IssuedNetworkClientOut,
    NetworkClientIn,
    NetworkClientOut,
    OutboxOut,
    PharmacyAdminOut,
    PharmacyIn,
    PharmacyOut,
    PreferredIn,
    PreferredOut,
    StatusReportIn,
    StatusReportOut,
    dispatch_detail_out,
    dispatch_out,
    network_client_out,
    outbox_item_out,
    pharmacy_admin_out,
    pharmacy_out,
    preferred_out,
    published_at,
)
from carepath.pharmacy.selectors import (
    MAX_SEARCH_RESULTS,
    PharmacySearch,
    access_dispatch,
    access_preferred_pharmacy,
    all_pharmacies,
    get_pharmacy,
    list_dispatches_for_staff,
    network_clients,
    network_dispatch,
    outbox_feed,
    pharmacy_dispatch,
    search_pharmacies,
)

router = Router(tags=["pharmacy"])

DISPATCH_STAFF = (Role.ADMIN, Role.COORDINATOR)


# --- The directory -------------------------------------------------------------------------------


class SearchQuery(Schema):
    state: str = ""
    city: str = ""
    name: str = ""
    zip: str = ""
    q: str = ""


@router.get("/pharmacies", response=list[PharmacyOut], summary="Search the pharmacy directory")
def search(request: HttpRequest, filters: Query[SearchQuery]) -> list[dict[str, Any]]:
    current_user(request)
    found = search_pharmacies(
        PharmacySearch(
            state=filters.state[:2],
            city=filters.city[:80],
            name=filters.name[:120],
            postal_code=filters.zip[:10],
            query=filters.q[:200],
        )
    )
    return [pharmacy_out(p) for p in found[:MAX_SEARCH_RESULTS]]


@router.get("/pharmacies/{pharmacy_id}", response=PharmacyOut, summary="One pharmacy")
def get_one(request: HttpRequest, pharmacy_id: int) -> dict[str, Any]:
    current_user(request)
    return pharmacy_out(get_pharmacy(pharmacy_id))


@router.get(
    "/admin/pharmacies",
    response=list[PharmacyAdminOut],
    auth=only(Role.ADMIN),
    summary="Every pharmacy, active or not (admin)",
)
def admin_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [pharmacy_admin_out(p) for p in all_pharmacies()]


@router.get(
    "/admin/pharmacies/{pharmacy_id}",
    response=PharmacyAdminOut,
    auth=only(Role.ADMIN),
    summary="One pharmacy with its handoff settings (admin)",
)
def admin_get(request: HttpRequest, pharmacy_id: int) -> dict[str, Any]:
    return pharmacy_admin_out(get_pharmacy(pharmacy_id, include_inactive=True))


@router.post(
    "/admin/pharmacies",
    response={201: PharmacyAdminOut},
    auth=only(Role.ADMIN),
    summary="Add a pharmacy (admin; accepts Idempotency-Key)",
)
def admin_create(request: HttpRequest, payload: PharmacyIn) -> Status[Any]:
    admin = current_user(request)
    key = idempotency_key(request)

    def create() -> tuple[int, Any]:
        pharmacy = actions.do_create_pharmacy(
            admin, payload.data(), webhook_secret=payload.webhook_secret or ""
        )
        # Stored for replays, so as JSON (the idempotency record is a JSON column).
        return 201, PharmacyAdminOut(**pharmacy_admin_out(pharmacy)).model_dump(mode="json")

    # The secret is hashed into the request fingerprint, never stored: replace it by a marker.
    fingerprint = payload.model_dump(mode="json")
    fingerprint["webhook_secret"] = _secret_fingerprint(payload.webhook_secret)
    status, body = idempotent(admin, key, "pharmacy.create", fingerprint, create)
    return Status(status, body)


def _secret_fingerprint(secret: str | None) -> str:
    return hashlib.sha256((secret or "").encode()).hexdigest() if secret else ""


@router.put(
    "/admin/pharmacies/{pharmacy_id}",
    response=PharmacyAdminOut,
    auth=only(Role.ADMIN),
    summary="Edit a pharmacy; webhook_secret is write-only (omit to keep it)",
)
def admin_update(request: HttpRequest, pharmacy_id: int, payload: PharmacyIn) -> dict[str, Any]:
    pharmacy = actions.do_update_pharmacy(
        current_user(request), pharmacy_id, payload.data(), webhook_secret=payload.webhook_secret
    )
    return pharmacy_admin_out(pharmacy)


@router.post(
    "/admin/pharmacies/{pharmacy_id}/deactivate",
    response=PharmacyAdminOut,
    auth=only(Role.ADMIN),
    summary="Take a pharmacy out of the directory (admin)",
)
def admin_deactivate(request: HttpRequest, pharmacy_id: int) -> dict[str, Any]:
    pharmacy = actions.do_set_pharmacy_active(current_user(request), pharmacy_id, active=False)
    return pharmacy_admin_out(pharmacy)


@router.post(
    "/admin/pharmacies/{pharmacy_id}/activate",
    response=PharmacyAdminOut,
    auth=only(Role.ADMIN),
    summary="Put a pharmacy back in the directory (admin)",
)
def admin_activate(request: HttpRequest, pharmacy_id: int) -> dict[str, Any]:
    pharmacy = actions.do_set_pharmacy_active(current_user(request), pharmacy_id, active=True)
    return pharmacy_admin_out(pharmacy)


# --- The preferred pharmacy ----------------------------------------------------------------------


@router.get(
    "/patients/{patient_id}/preferred",
    response=PreferredOut,
    summary="A patient's preferred pharmacy (the patient, or their care team)",
)
def get_preferred(request: HttpRequest, patient_id: int) -> dict[str, Any]:
    choice = access_preferred_pharmacy(current_user(request), patient_id)
    return preferred_out(patient_id, choice)


@router.put(
    "/patients/{patient_id}/preferred",
    response=PreferredOut,
    auth=only(Role.PATIENT),
    summary="Choose or change my preferred pharmacy (patient)",
)
def put_preferred(request: HttpRequest, patient_id: int, payload: PreferredIn) -> dict[str, Any]:
    patient = current_user(request)
    if patient.pk != patient_id:
        raise deny(patient, "preferred_pharmacy", patient_id, patient_id)
    choice = actions.do_choose_preferred_pharmacy(patient, payload.pharmacy_id)
    return preferred_out(patient_id, choice)


# --- Dispatches (operations staff) ---------------------------------------------------------------


@router.get(
    "/dispatches",
    response=list[DispatchOut],
    auth=only(*DISPATCH_STAFF),
    summary="Dispatches to pharmacies, newest first (admin, coordinator)",
)
def list_dispatches(request: HttpRequest, status: str = "", limit: int = 100) -> list[Any]:
    if status and status not in DispatchStatus.values:
        raise ActionRefused("invalid_status", "Unknown status.", field="status", status=422)
    limit = max(1, min(limit, 500))
    return [
        dispatch_out(d) for d in list_dispatches_for_staff(current_user(request), status, limit)
    ]


@router.get(
    "/dispatches/{dispatch_id}",
    response=DispatchDetailOut,
    auth=only(*DISPATCH_STAFF),
    summary="One dispatch with its history (admin, coordinator)",
)
def get_dispatch(request: HttpRequest, dispatch_id: int) -> dict[str, Any]:
    return dispatch_detail_out(access_dispatch(current_user(request), dispatch_id))


@router.post(
    "/dispatches/{dispatch_id}/retry",
    response=DispatchDetailOut,
    auth=only(*DISPATCH_STAFF),
    summary="Queue a failed dispatch again (admin, coordinator)",
)
def retry_dispatch(request: HttpRequest, dispatch_id: int) -> dict[str, Any]:
    user = current_user(request)
    access_dispatch(user, dispatch_id)
    actions.do_retry_dispatch(user, dispatch_id)
    return dispatch_detail_out(access_dispatch(user, dispatch_id))


# --- Network credentials (admin) -----------------------------------------------------------------


@router.get(
    "/admin/network-clients",
    response=list[NetworkClientOut],
    auth=only(Role.ADMIN),
    summary="Pharmacy network credentials (admin)",
)
def list_network_clients(request: HttpRequest) -> list[dict[str, Any]]:
    return [network_client_out(c) for c in network_clients()]


@router.post(
    "/admin/network-clients",
    response={201: IssuedNetworkClientOut},
    auth=only(Role.ADMIN),
    summary="Issue a pharmacy network token, shown once (admin; no Idempotency-Key: a "
    "replay would have to store the token)",
)
def issue_network_client(request: HttpRequest, payload: NetworkClientIn) -> Status[Any]:
    client, token = actions.do_issue_network_client(current_user(request), payload.name)
    return Status(201, {**network_client_out(client), "token": token})


@router.post(
    "/admin/network-clients/{client_id}/revoke",
    response=NetworkClientOut,
    auth=only(Role.ADMIN),
    summary="Revoke a pharmacy network token (admin)",
)
def revoke_network_client(request: HttpRequest, client_id: int) -> dict[str, Any]:
    return network_client_out(actions.do_revoke_network_client(current_user(request), client_id))


# --- Machines: the pharmacy network and pharmacies -----------------------------------------------


def _caller(request: HttpRequest) -> InboundCaller:
    caller = request.auth  # type: ignore[attr-defined]
    assert isinstance(caller, InboundCaller)
    return caller


@router.get(
    "/outbox",
    auth=network_only,
    response=OutboxOut,
    summary="Published, unacknowledged documents (Authorization: PharmacyNetwork <token>)",
)
def outbox(request: HttpRequest, since: dt.datetime | None = None, limit: int = 100) -> Any:
    caller = _caller(request)
    assert caller.network_client is not None
    items = outbox_feed(caller.network_client, since=since, limit=limit)
    return {
        "items": [outbox_item_out(d) for d in items],
        "next_since": published_at(items[-1]) if items else since,
    }


@router.post(
    "/deliveries/{delivery_id}/status",
    auth=network_or_pharmacy,
    response=StatusReportOut,
    summary="Report received / filled / failed (network token, or the pharmacy's signature)",
)
def report_status(request: HttpRequest, delivery_id: uuid.UUID, payload: StatusReportIn) -> Any:
    caller = _caller(request)
    if caller.network_client is not None:
        dispatch = network_dispatch(caller.network_client, delivery_id)
    else:
        assert caller.pharmacy is not None
        dispatch = pharmacy_dispatch(caller.pharmacy, delivery_id)
    dispatch, changed = actions.do_report_status(
        caller, dispatch.pk, payload.status, payload.reason
    )
    return {
        "delivery_id": dispatch.delivery_id,
        "order_type": dispatch.order_type,
        "order_id": dispatch.order_id,
        "status": dispatch.status,
        "changed": changed,
    }
