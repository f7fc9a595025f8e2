"""Reads of the pharmacy app. The directory is not health information (anyone signed in may
search it); a patient's preferred pharmacy and dispatches are, so they go through access
checks and are audited."""

import datetime as dt
import uuid
from dataclasses import dataclass

from django.db.models import Case, F, Q, QuerySet, When
from django.http import Http404

from carepath.access.selectors import access_patient, deny
from carepath.accounts.models import Role, User
from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core.errors import ActionRefused
from carepath.pharmacy import signing
from carepath.pharmacy.models import (
    Dispatch,
    DispatchStatus,
    HandoffAdapter,
    Pharmacy,
    PharmacyNetworkClient,
    PreferredPharmacy,
)
from carepath.pharmacy.tokens import secret_matches, split_network_token
from carepath.pharmacy.validators import check_no_nul

DISPATCH_STAFF = frozenset({Role.ADMIN, Role.COORDINATOR})
MAX_SEARCH_RESULTS = 100


# --- The directory -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PharmacySearch:
    state: str = ""
    city: str = ""
    name: str = ""
    postal_code: str = ""
    query: str = ""
    include_inactive: bool = False

    @property
    def is_empty(self) -> bool:
        return not (self.state or self.city or self.name or self.postal_code or self.query)


def _matching(queryset: QuerySet[Pharmacy], query: str) -> QuerySet[Pharmacy]:
    for word in query.split()[:5]:
        queryset = queryset.filter(
            Q(name__icontains=word)
            | Q(city__icontains=word)
            | Q(postal_code__startswith=word)
            | Q(ncpdp_id=word)
            | Q(address_line__icontains=word)
        )
    return queryset


# The API's names of the search fields, for a field error.
SEARCH_PARAMETERS = {"postal_code": "zip", "query": "q"}


def search_pharmacies(search: PharmacySearch) -> QuerySet[Pharmacy]:
    """Directory search. A state search also lists mail-order pharmacies, which ship to
    patients in every state."""
    for name in ("state", "city", "name", "postal_code", "query"):
        check_no_nul(getattr(search, name), field=SEARCH_PARAMETERS.get(name, name))
    pharmacies = Pharmacy.objects.all()
    if not search.include_inactive:
        pharmacies = pharmacies.filter(active=True)
    if search.state:
        pharmacies = pharmacies.filter(Q(state=search.state.upper()) | Q(mail_order=True))
    if search.city:
        pharmacies = pharmacies.filter(Q(city__iexact=search.city.strip()) | Q(mail_order=True))
    if search.name:
        pharmacies = pharmacies.filter(name__icontains=search.name.strip())
    if search.postal_code:
        pharmacies = pharmacies.filter(postal_code__startswith=search.postal_code.strip())
    if search.query:
        pharmacies = _matching(pharmacies, search.query)
    return pharmacies.order_by("mail_order", "name", "city")


def pharmacies_for(state: str, query: str = "") -> QuerySet[Pharmacy]:
    """Active pharmacies that can serve a patient in `state` (its own, plus mail order),
    optionally narrowed by free text (name, city, ZIP, NCPDP id, street)."""
    return search_pharmacies(PharmacySearch(state=state, query=query))


def get_pharmacy(pharmacy_id: int, *, include_inactive: bool = False) -> Pharmacy:
    pharmacy = Pharmacy.objects.filter(pk=pharmacy_id).first()
    if pharmacy is None or (not pharmacy.active and not include_inactive):
        raise Http404("No pharmacy with that id.")
    return pharmacy


def all_pharmacies() -> QuerySet[Pharmacy]:
    return Pharmacy.objects.order_by("-active", "state", "city", "name")


# --- The patient's preferred pharmacy --------------------------------------------------------


def preferred_pharmacy_of(patient: User) -> Pharmacy | None:
    """The active pharmacy the patient chose, or None (none chosen, or it was deactivated).
    No access check: for callers that already hold the patient (e.g. prescribing)."""
    choice = (
        PreferredPharmacy.objects.select_related("pharmacy").filter(patient_id=patient.pk).first()
    )
    if choice is None or not choice.pharmacy.active:
        return None
    return choice.pharmacy


def access_preferred_pharmacy(viewer: User, patient_id: int) -> PreferredPharmacy | None:
    """The patient's choice (even if since deactivated, so the page can say so), for the
    patient or their care team; others get an audited 404."""
    access_patient(viewer, patient_id, action="pharmacy.preferred.read")
    return (
        PreferredPharmacy.objects.select_related("pharmacy").filter(patient_id=patient_id).first()
    )


# --- Dispatches (staff view) -----------------------------------------------------------------


def _check_dispatch_staff(viewer: User, dispatch_id: object) -> None:
    if viewer.role not in DISPATCH_STAFF:
        raise deny(viewer, "dispatch", dispatch_id, None)


def dispatches_for_staff(viewer: User, status: str = "") -> QuerySet[Dispatch]:
    """Every dispatch, newest first, for operations staff (admins, coordinators). The list
    carries no document content, only where each order is."""
    _check_dispatch_staff(viewer, "list")
    dispatches = Dispatch.objects.select_related("pharmacy").order_by("-created_at", "-pk")
    if status:
        dispatches = dispatches.filter(status=status)
    return dispatches


def list_dispatches_for_staff(viewer: User, status: str = "", limit: int = 100) -> list[Dispatch]:
    """The staff list, read once and audited as one event (how many, which filter, which
    dispatches): every dispatch is a patient's order, so the list is a read of health
    information even though it shows no patient."""
    dispatches = list(dispatches_for_staff(viewer, status)[:limit])
    do_record_audit(
        "dispatch.list",
        actor=viewer,
        object_type="dispatch",
        object_id="list",
        detail={
            "count": len(dispatches),
            "status": status or "all",
            "limit": limit,
            "dispatch_ids": [d.pk for d in dispatches],
        },
    )
    return dispatches


def access_dispatch(viewer: User, dispatch_id: int) -> Dispatch:
    _check_dispatch_staff(viewer, dispatch_id)
    dispatch = Dispatch.objects.select_related("pharmacy").filter(pk=dispatch_id).first()
    if dispatch is None:
        raise deny(viewer, "dispatch", dispatch_id, None)
    do_record_audit(
        "dispatch.read",
        actor=viewer,
        object_type="dispatch",
        object_id=dispatch.pk,
        patient_id=dispatch.patient_id,
    )
    return dispatch


def dispatch_status_counts() -> dict[str, int]:
    counts = dict.fromkeys(DispatchStatus.values, 0)
    for status in Dispatch.objects.values_list("status", flat=True).iterator():
        counts[status] = counts.get(status, 0) + 1
    return counts


# --- The pharmacy network and signed pharmacy requests ----------------------------------------


def authenticate_network_token(raw: str) -> PharmacyNetworkClient | None:
    parts = split_network_token(raw)
    if parts is None:
        return None
    prefix, secret = parts
    client = PharmacyNetworkClient.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if client is None or not secret_matches(secret, client.secret_hash):
        return None
    return client


@dataclass(frozen=True)
class SignedRequest:
    ncpdp_id: str
    timestamp: str
    signature: str
    method: str
    path: str
    body: bytes


def authenticate_pharmacy_signature(signed: SignedRequest) -> Pharmacy | None:
    """The active pharmacy whose webhook secret signed this very request (timestamp, method,
    path and body), or None; also None for a signature already used (a replay)."""
    from carepath.pharmacy.webhook_secrets import webhook_secret_of

    if not signed.ncpdp_id.isdigit():
        return None
    pharmacy = Pharmacy.objects.filter(ncpdp_id=signed.ncpdp_id, active=True).first()
    if pharmacy is None or not signing.timestamp_is_fresh(signed.timestamp):
        return None
    secret = webhook_secret_of(pharmacy)
    if not secret or not signing.signature_matches(
        secret, signed.timestamp, signed.method, signed.path, signed.body, signed.signature
    ):
        return None
    # Only a valid signature is remembered, so nobody can block a pharmacy's next request.
    if not signing.first_use(signed.signature):
        return None
    return pharmacy


def outbox_feed(
    client: PharmacyNetworkClient, *, since: dt.datetime | None, limit: int
) -> list[Dispatch]:
    """Published outbox documents the network has not acknowledged yet, oldest first: orders
    (status "sent") until the network reports them received (or failed), and withdrawals
    (status "cancelled", the cancelled MedicationRequest) until it reports them cancelled, so
    nothing is lost to clock skew or a crashed collector; `since` only narrows by publication
    time. Each document handed out is audited (it is health information)."""
    if not 1 <= limit <= 500:
        raise ActionRefused("invalid_limit", "limit is 1 to 500.", field="limit", status=422)
    feed = (
        Dispatch.objects.select_related("pharmacy")
        .filter(
            Q(status=DispatchStatus.SENT)
            | Q(status=DispatchStatus.CANCELLED, cancel_acknowledged_at__isnull=True),
            adapter=HandoffAdapter.OUTBOX,
        )
        .annotate(
            published=Case(
                When(status=DispatchStatus.CANCELLED, then=F("cancelled_at")),
                default=F("sent_at"),
            )
        )
    )
    if since is not None:
        feed = feed.filter(published__gte=since)
    items: list[Dispatch] = list(feed.order_by("published", "pk")[:limit])
    for dispatch in items:
        do_record_audit(
            "dispatch.outbox.read",
            object_type="dispatch",
            object_id=dispatch.pk,
            patient_id=dispatch.patient_id,
            detail={
                "network_client": client.name,
                "network_client_id": client.pk,
                "status": dispatch.status,
            },
        )
    return items


def network_dispatch(client: PharmacyNetworkClient, delivery_id: uuid.UUID) -> Dispatch:
    """A dispatch the network may report on: one that went through the outbox."""
    dispatch = Dispatch.objects.filter(
        delivery_id=delivery_id, adapter=HandoffAdapter.OUTBOX
    ).first()
    if dispatch is None:
        do_record_audit(
            "dispatch.status",
            object_type="delivery",
            object_id=delivery_id,
            outcome=Outcome.DENIED,
            detail={"network_client": client.name},
        )
        raise Http404("No dispatch with that id.")
    return dispatch


def pharmacy_dispatch(pharmacy: Pharmacy, delivery_id: uuid.UUID) -> Dispatch:
    """A dispatch a signed pharmacy may report on: its own."""
    dispatch = Dispatch.objects.filter(delivery_id=delivery_id, pharmacy=pharmacy).first()
    if dispatch is None:
        do_record_audit(
            "dispatch.status",
            object_type="delivery",
            object_id=delivery_id,
            outcome=Outcome.DENIED,
            detail={"pharmacy": pharmacy.ncpdp_id},
        )
        raise Http404("No dispatch with that id.")
    return dispatch


def network_clients() -> QuerySet[PharmacyNetworkClient]:
    return PharmacyNetworkClient.objects.order_by("-created_at")
