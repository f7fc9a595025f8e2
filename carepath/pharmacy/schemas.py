import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field, StringConstraints

from carepath.pharmacy.actions import PharmacyData
from carepath.pharmacy.models import (
    Dispatch,
    DispatchStatusChange,
    Pharmacy,
    PharmacyNetworkClient,
    PreferredPharmacy,
)


class PharmacyOut(Schema):
    id: int
    ncpdp_id: str
    name: str
    address_line: str
    city: str
    state: str
    postal_code: str
    phone: str
    fax: str
    open_24_hours: bool
    mail_order: bool
    accepts_controlled: bool
    active: bool


class PharmacyAdminOut(PharmacyOut):
    """The admin's view: adapter and URL, and only WHETHER a secret is set (write-only)."""

    adapter: str
    webhook_url: str
    webhook_secret_set: bool
    created_at: dt.datetime


def pharmacy_out(pharmacy: Pharmacy) -> dict[str, Any]:
    return {
        "id": pharmacy.pk,
        "ncpdp_id": pharmacy.ncpdp_id,
        "name": pharmacy.name,
        "address_line": pharmacy.address_line,
        "city": pharmacy.city,
        "state": pharmacy.state,
        "postal_code": pharmacy.postal_code,
        "phone": pharmacy.phone,
        "fax": pharmacy.fax,
        "open_24_hours": pharmacy.open_24_hours,
        "mail_order": pharmacy.mail_order,
        "accepts_controlled": pharmacy.accepts_controlled,
        "active": pharmacy.active,
    }


def pharmacy_admin_out(pharmacy: Pharmacy) -> dict[str, Any]:
    return {
        **pharmacy_out(pharmacy),
        "adapter": pharmacy.adapter,
        "webhook_url": pharmacy.webhook_url,
        "webhook_secret_set": bool(pharmacy.webhook_secret_encrypted),
        "created_at": pharmacy.created_at,
    }


class PharmacyIn(Schema):
    ncpdp_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=7)]
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    address_line: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
    state: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=2)]
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)]
    phone: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
    fax: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] = ""
    open_24_hours: bool = False
    mail_order: bool = False
    accepts_controlled: bool = True
    adapter: Literal["outbox", "webhook"] = "outbox"
    webhook_url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    webhook_secret: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        default=None, description="Write-only. Omit (or null) to keep the current secret."
    )
    active: bool = True

    def data(self) -> PharmacyData:
        values = self.model_dump(exclude={"webhook_secret"})
        return PharmacyData(**values)


class PreferredIn(Schema):
    pharmacy_id: int


class PreferredOut(Schema):
    patient_id: int
    pharmacy: PharmacyOut | None
    chosen_at: dt.datetime | None
    pharmacy_active: bool | None


def preferred_out(patient_id: int, choice: PreferredPharmacy | None) -> dict[str, Any]:
    if choice is None:
        return {
            "patient_id": patient_id,
            "pharmacy": None,
            "chosen_at": None,
            "pharmacy_active": None,
        }
    return {
        "patient_id": patient_id,
        "pharmacy": pharmacy_out(choice.pharmacy),
        "chosen_at": choice.chosen_at,
        "pharmacy_active": choice.pharmacy.active,
    }


# --- Dispatches (staff) --------------------------------------------------------------------------


class StatusChangeOut(Schema):
    from_status: str
    to_status: str
    source: str
    attempt: int
    detail: str
    occurred_at: dt.datetime


class DispatchOut(Schema):
    """Where an order is; no document content (staff read that through prescribing) and no
    patient (the list is for operations: which orders are stuck where). The detail names the
    patient, and reading it is audited per dispatch."""

    id: int
    delivery_id: uuid.UUID
    pharmacy_id: int
    pharmacy_name: str
    adapter: str
    order_type: str
    order_id: str
    status: str
    attempts: int
    last_error: str
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    sent_at: dt.datetime | None
    received_at: dt.datetime | None
    filled_at: dt.datetime | None
    failed_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    cancel_acknowledged_at: dt.datetime | None


class DispatchDetailOut(DispatchOut):
    patient_id: int
    history: list[StatusChangeOut]


def dispatch_out(dispatch: Dispatch) -> dict[str, Any]:
    return {
        "id": dispatch.pk,
        "delivery_id": dispatch.delivery_id,
        "pharmacy_id": dispatch.pharmacy_id,
        "pharmacy_name": dispatch.pharmacy.name,
        "adapter": dispatch.adapter,
        "order_type": dispatch.order_type,
        "order_id": dispatch.order_id,
        "status": dispatch.status,
        "attempts": dispatch.attempts,
        "last_error": dispatch.last_error,
        "next_attempt_at": dispatch.next_attempt_at,
        "created_at": dispatch.created_at,
        "updated_at": dispatch.updated_at,
        "sent_at": dispatch.sent_at,
        "received_at": dispatch.received_at,
        "filled_at": dispatch.filled_at,
        "failed_at": dispatch.failed_at,
        "cancelled_at": dispatch.cancelled_at,
        "cancel_acknowledged_at": dispatch.cancel_acknowledged_at,
    }


def status_change_out(change: DispatchStatusChange) -> dict[str, Any]:
    return {
        "from_status": change.from_status,
        "to_status": change.to_status,
        "source": change.source,
        "attempt": change.attempt,
        "detail": change.detail,
        "occurred_at": change.occurred_at,
    }


def dispatch_detail_out(dispatch: Dispatch) -> dict[str, Any]:
    history = [status_change_out(c) for c in dispatch.history.order_by("occurred_at", "pk")]
    return {**dispatch_out(dispatch), "patient_id": dispatch.patient_id, "history": history}


# --- The pharmacy network and pharmacies -------------------------------------------------------


class OutboxItemOut(Schema):
    delivery_id: uuid.UUID
    pharmacy_ncpdp_id: str
    order_type: str
    order_id: str
    # "sent": an order to dispense; "cancelled": the prescriber withdrew it (the document is
    # the MedicationRequest with status "cancelled"); acknowledge with status "cancelled".
    status: str
    published_at: dt.datetime
    document: dict[str, Any]


class OutboxOut(Schema):
    items: list[OutboxItemOut]
    # Pass as `since` to narrow the next poll (items stay until acknowledged regardless).
    next_since: dt.datetime | None


def published_at(dispatch: Dispatch) -> dt.datetime | None:
    """When the outbox item was published: the order when sent, its withdrawal when
    cancelled."""
    return dispatch.cancelled_at if dispatch.status == "cancelled" else dispatch.sent_at


def outbox_item_out(dispatch: Dispatch) -> dict[str, Any]:
    return {
        "delivery_id": dispatch.delivery_id,
        "pharmacy_ncpdp_id": dispatch.pharmacy.ncpdp_id,
        "order_type": dispatch.order_type,
        "order_id": dispatch.order_id,
        "status": dispatch.status,
        "published_at": published_at(dispatch),
        "document": dispatch.document,
    }


class StatusReportIn(Schema):
    # "cancelled" only acknowledges a cancelled order (the outbox item or webhook document).
    status: Literal["received", "filled", "failed", "cancelled"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class StatusReportOut(Schema):
    delivery_id: uuid.UUID
    order_type: str
    order_id: str
    status: str
    changed: bool


class NetworkClientIn(Schema):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class NetworkClientOut(Schema):
    id: int
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class IssuedNetworkClientOut(NetworkClientOut):
    token: str = Field(description="Shown once; send as `Authorization: PharmacyNetwork <token>`.")


def network_client_out(client: PharmacyNetworkClient) -> dict[str, Any]:
    return {
        "id": client.pk,
        "name": client.name,
        "created_at": client.created_at,
        "last_used_at": client.last_used_at,
        "revoked_at": client.revoked_at,
    }
