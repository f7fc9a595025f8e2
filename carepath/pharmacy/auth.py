"""Authentication of the machine endpoints (ninja auth callables). Neither accepts a session
or an API token: a person can never act as the pharmacy network or a pharmacy.

    Authorization: PharmacyNetwork cpn_<prefix>_<secret>      the pharmacy network
    X-Carepath-Pharmacy / -Timestamp / -Signature             one pharmacy (see signing.py)

A present but wrong credential is a 401 (audited), never a fall-back to another method."""

from django.http import HttpRequest

from carepath.audit.actions import do_record_audit
from carepath.audit.models import Outcome
from carepath.core.errors import ActionRefused
from carepath.pharmacy import signing
from carepath.pharmacy.actions import do_record_network_client_use
from carepath.pharmacy.callers import InboundCaller
from carepath.pharmacy.selectors import (
    SignedRequest,
    authenticate_network_token,
    authenticate_pharmacy_signature,
)
from carepath.pharmacy.tokens import AUTH_SCHEME


def _refuse(request: HttpRequest, code: str, message: str, detail: dict[str, str]) -> None:
    do_record_audit(
        "pharmacy.auth", outcome=Outcome.DENIED, detail={"path": request.path, **detail}
    )
    raise ActionRefused(code, message, status=401)


class NetworkTokenAuth:
    def __call__(self, request: HttpRequest) -> InboundCaller | None:
        scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
        if scheme != AUTH_SCHEME:
            return None
        client = authenticate_network_token(raw.strip())
        if client is None:
            _refuse(
                request,
                "invalid_network_token",
                "The pharmacy network token is invalid or revoked.",
                {"scheme": AUTH_SCHEME},
            )
            return None
        do_record_network_client_use(client)
        return InboundCaller(network_client=client)


class PharmacySignatureAuth:
    def __call__(self, request: HttpRequest) -> InboundCaller | None:
        given = request.headers.get(signing.SIGNATURE_HEADER)
        if given is None:
            return None
        ncpdp_id = request.headers.get(signing.PHARMACY_HEADER, "").strip()
        timestamp = request.headers.get(signing.TIMESTAMP_HEADER, "").strip()
        pharmacy = authenticate_pharmacy_signature(
            SignedRequest(
                ncpdp_id=ncpdp_id,
                timestamp=timestamp,
                signature=given,
                method=request.method or "",
                path=request.get_full_path(),
                body=request.body,
            )
        )
        if pharmacy is None:
            _refuse(
                request,
                "invalid_signature",
                "The signature, timestamp or pharmacy id is not valid, or the request was "
                "already received.",
                {"pharmacy": "".join(c for c in ncpdp_id[:7] if c.isdigit())},
            )
            return None
        return InboundCaller(pharmacy=pharmacy)


network_only = [NetworkTokenAuth()]
network_or_pharmacy = [NetworkTokenAuth(), PharmacySignatureAuth()]
