"""How a dispatch reaches its pharmacy. One adapter per HandoffAdapter value; each does ONE
attempt and either returns a line for the history or raises DeliveryError (permanent or not).

OutboxAdapter (default)
    Publishing is the whole delivery: the document waits in the outbox with status "sent"
    until the pharmacy network collects it. The network is an integration with its own
    credential (PharmacyNetworkClient; `Authorization: PharmacyNetwork cpn_<prefix>_<secret>`,
    issued once by an admin on /pharmacy/admin/network/, stored hashed). It:
      GET  /api/v1/pharmacy/outbox?since=<ISO time>&limit=<1..500>
           -> published, unacknowledged documents, oldest first (each with its delivery_id);
              an item stays in the feed until acknowledged, so a crashed collector loses
              nothing; `since` only narrows.
      POST /api/v1/pharmacy/deliveries/<delivery_id>/status  {"status": "received"}
           -> acknowledges receipt (leaves the feed); later "filled", or "failed" + "reason";
              for a cancelled item, {"status": "cancelled"} acknowledges the withdrawal.
    Why a dedicated credential rather than an accounts ApiToken: an ApiToken acts as a user
    with a role across the whole API; the network is not a person, must reach exactly these
    two endpoints, and must never open a patient page. A scoped token does that and nothing
    more.

WebhookAdapter (per pharmacy)
    POSTs the document as application/fhir+json to the pharmacy's URL through the SSRF guard
    (carepath.pharmacy.netguard: https, resolved and checked address, pinned connection, no
    redirects, bounded timeouts), signed as carepath.pharmacy.signing describes (timestamp,
    "POST", the URL's path and query, body), with X-Carepath-Delivery: <delivery id> (stable
    across retries, for de-duplication). Any 2xx is "sent". The pharmacy reports
    received/filled/failed to the same status endpoint, signed with the same secret over its
    own request (X-Carepath-Pharmacy: <NCPDP id>, X-Carepath-Timestamp, X-Carepath-Signature;
    a signature is accepted once).

Cancellation: when the prescriber cancels an order (or marks it entered in error) before it
was filled, the dispatch becomes "cancelled" and its document a MedicationRequest with status
"cancelled" (statusReason: the prescriber's reason). The outbox serves it (item status
"cancelled") until the network reports status "cancelled" for that delivery; a webhook pharmacy
is POSTed the cancelled document exactly like an order (same signature, same guard, retried),
and a 2xx acknowledges it. An order already filled cannot be withdrawn.

Transient failures (connection errors, timeouts, 408/425/429/5xx) are retried with backoff;
refused addresses, redirects and other 4xx are permanent (a retry would do the same)."""

import http.client
import json
from typing import Protocol

from carepath.pharmacy import netguard, signing
from carepath.pharmacy.actions import DeliveryJob
from carepath.pharmacy.models import HandoffAdapter, Pharmacy
from carepath.pharmacy.webhook_secrets import webhook_secret_of

FHIR_JSON = "application/fhir+json"
USER_AGENT = "Carepath-Pharmacy-Webhook/1"
TRANSIENT_STATUSES = frozenset({408, 425, 429})


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class Adapter(Protocol):
    def deliver(self, job: DeliveryJob) -> str: ...


class OutboxAdapter:
    def deliver(self, job: DeliveryJob) -> str:
        return "Published to the outbox for the pharmacy network."


def redirect_refusal(status: int, location: str) -> str:
    """The error for a 3xx: names where it pointed, and why that address is refused too."""
    if not location:
        return f"The webhook answered HTTP {status} (a redirect); redirects are never followed."
    try:
        netguard.check_url_statically(location)
        why = ""
    except netguard.NetworkRefused as refused:
        why = f" ({refused})"
    return (
        f"The webhook answered HTTP {status}: redirect to {location[:200]} refused{why}; "
        "redirects are never followed."
    )


class WebhookAdapter:
    def deliver(self, job: DeliveryJob) -> str:
        pharmacy = Pharmacy.objects.get(pk=job.pharmacy_id)
        secret = webhook_secret_of(pharmacy)
        if not pharmacy.webhook_url or not secret:
            raise DeliveryError(
                "The pharmacy has no webhook URL or signing secret; an admin must set them.",
                permanent=True,
            )
        try:
            target = netguard.check_url(pharmacy.webhook_url)
        except netguard.NetworkRefused as refused:
            raise DeliveryError(str(refused), permanent=True) from refused
        body = json.dumps(job.document, separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Host": target.host_header,
            "Content-Type": FHIR_JSON,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            signing.DELIVERY_HEADER: job.delivery_id,
            **signing.signed_headers(secret, body, method="POST", path=target.path),
        }
        try:
            result = netguard.post(target, body, headers)
        except netguard.NetworkRefused as refused:
            raise DeliveryError(str(refused), permanent=True) from refused
        except (OSError, http.client.HTTPException) as error:
            raise DeliveryError(
                f"Could not deliver to the webhook: {type(error).__name__}: {error}",
                permanent=False,
            ) from error
        return self._judge(result)

    def _judge(self, result: netguard.PostResult) -> str:
        status = result.status
        if 200 <= status < 300:
            return f"Accepted by the pharmacy's webhook (HTTP {status})."
        if 300 <= status < 400:
            raise DeliveryError(redirect_refusal(status, result.location), permanent=True)
        transient = status >= 500 or status in TRANSIENT_STATUSES
        raise DeliveryError(
            f"The webhook answered HTTP {status}: {result.body_excerpt[:200]}".strip(),
            permanent=not transient,
        )


ADAPTERS: dict[str, Adapter] = {
    HandoffAdapter.OUTBOX: OutboxAdapter(),
    HandoffAdapter.WEBHOOK: WebhookAdapter(),
}


def adapter_for(name: str) -> Adapter:
    return ADAPTERS[name]
