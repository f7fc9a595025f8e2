"""Pharmacy fixtures: the seeded directory, a real local webhook receiver on 127.0.0.1 that
verifies our HMAC signature (and answers with redirects on some paths), and a connection
recorder that fails any attempt to open a socket anywhere but 127.0.0.1."""

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import override_settings

from carepath.accounts.models import User
from carepath.pharmacy import registry
from carepath.pharmacy.actions import PharmacyData, do_create_pharmacy
from carepath.pharmacy.models import Pharmacy
from carepath.pharmacy.seed import seed_pharmacies

WEBHOOK_SECRET = "test-webhook-secret-0123456789abcdef"

REDIRECTS = {
    "/redirect/loopback": "http://127.0.0.1/",
    "/redirect/private": "http://10.0.0.1/",
    "/redirect/metadata": "http://169.254.169.254/latest/meta-data",
    "/redirect/ipv6-loopback": "http://[::1]/",
}


def medication_request(order_id: str = "1", patient_id: int = 1) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient_id}"},
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "1649988",
                    "display": "doxycycline hyclate 100 MG Oral Capsule",
                }
            ]
        },
    }


@pytest.fixture
def pharmacies(clinic: None) -> dict[str, Pharmacy]:
    return {p.ncpdp_id: p for p in seed_pharmacies()}


@pytest.fixture
def austin(pharmacies: dict[str, Pharmacy]) -> Pharmacy:
    return pharmacies["4400118"]  # Bluebonnet Pharmacy, Austin TX (outbox)


@pytest.fixture(autouse=True)
def _listeners_restored() -> Iterator[None]:
    saved = {k: list(v) for k, v in registry._listeners.items()}
    yield
    registry._listeners.clear()
    registry._listeners.update(saved)


# --- The local webhook receiver ------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


@dataclass
class WebhookServer:
    port: int
    received: list[Received] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)  # statuses to answer first on /ok

    def url(self, path: str = "/ok") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"


def _signature_ok(headers: dict[str, str], method: str, path: str, body: bytes) -> bool:
    """The receiver's own check, written from the documented format (not our signing code):
    HMAC-SHA256 over "<timestamp>.<METHOD>.<path>." + body."""
    timestamp = headers.get("X-Carepath-Timestamp", "")
    message = f"{timestamp}.{method}.{path}.".encode() + body
    expected = hmac.new(WEBHOOK_SECRET.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", headers.get("X-Carepath-Signature", ""))


def _handler_for(server: WebhookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = dict(self.headers.items())
            ok = _signature_ok(headers, "POST", self.path, body)
            server.received.append(Received(self.path, headers, body, ok))
            if self.path in REDIRECTS:
                self._answer(302, {"Location": REDIRECTS[self.path]})
            elif not ok:
                self._answer(401)
            elif server.fail_with:
                self._answer(server.fail_with.pop(0))
            else:
                self._answer(202, body=json.dumps({"accepted": True}).encode())

        def do_GET(self) -> None:
            server.received.append(Received(self.path, dict(self.headers.items()), b"", False))
            self._answer(200)

        def _answer(
            self, status: int, headers: dict[str, str] | None = None, body: bytes = b""
        ) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture
def webhook_server() -> Iterator[WebhookServer]:
    """A real HTTP server on 127.0.0.1 (an ephemeral port), allow-listed, http allowed."""
    state = WebhookServer(port=0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    with override_settings(
        PHARMACY_WEBHOOK_ALLOW_HTTP=True,
        PHARMACY_WEBHOOK_ALLOWED_HOSTS=[state.host_port],
        PHARMACY_WEBHOOK_TIMEOUT_SECONDS=5,
    ):
        yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every outgoing socket connect is recorded; anything but 127.0.0.1 is stopped before a
    packet leaves (and fails the assertion of whichever test expected none)."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def recording_connect(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        if not (isinstance(address, tuple) and address[0] == "127.0.0.1"):
            raise AssertionError(f"the test tried to connect to {address!r}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    return attempts


@pytest.fixture
def webhook_pharmacy(ada: User, webhook_server: WebhookServer) -> Callable[..., Pharmacy]:
    def make(path: str = "/ok", ncpdp_id: str = "4899991") -> Pharmacy:
        return do_create_pharmacy(
            ada,
            PharmacyData(
                ncpdp_id=ncpdp_id,
                name="Gateway Test Pharmacy",
                address_line="1 Gateway Road",
                city="Austin",
                state="TX",
                postal_code="78701",
                phone="512-555-0199",
                adapter="webhook",
                webhook_url=webhook_server.url(path),
            ),
            webhook_secret=WEBHOOK_SECRET,
        )

    return make
