"""https through the pinned connection, against a real TLS server on 127.0.0.1 with a
throwaway certificate: we connect to the checked address, yet SNI, certificate verification
and the Host header all use the URL's host name."""

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.test import override_settings

from carepath.pharmacy import netguard

HOST = "pharmacy-gateway.test"


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class TlsServer:
    port: int
    cert: Path
    server_names: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    cert, key = self_signed(tmp_path, HOST)
    state = TlsServer(port=0, cert=cert)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.hosts.append(self.headers.get("Host", ""))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def remember_sni(sock: Any, server_name: str | None, ctx: Any) -> None:
        state.server_names.append(server_name)

    context.sni_callback = remember_sni
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture
def gateway_resolves_to_loopback(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    lookups: list[str] = []

    def fake_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        lookups.append(host)
        assert host == HOST, f"unexpected lookup of {host}"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return lookups


def test_https_uses_sni_and_verifies_the_url_host(
    tls_server: TlsServer, gateway_resolves_to_loopback: list[str], connections: list[Any]
) -> None:
    trust = ssl.create_default_context(cafile=str(tls_server.cert))
    with override_settings(PHARMACY_WEBHOOK_ALLOWED_HOSTS=[f"{HOST}:{tls_server.port}"]):
        target = netguard.check_url(f"https://{HOST}:{tls_server.port}/hook")
        result = netguard.post(target, b"{}", {"Host": target.host_header}, tls_context=trust)
    assert result.status == 204
    assert gateway_resolves_to_loopback == [HOST]  # resolved once, never again
    assert connections == [("127.0.0.1", tls_server.port)]
    assert tls_server.server_names == [HOST]
    assert tls_server.hosts == [f"{HOST}:{tls_server.port}"]


def test_https_refuses_a_certificate_for_another_name(
    tls_server: TlsServer, tmp_path: Path, gateway_resolves_to_loopback: list[str]
) -> None:
    other_cert, _ = self_signed(tmp_path, "someone-else.test")
    trust_other = ssl.create_default_context(cafile=str(other_cert))
    with override_settings(PHARMACY_WEBHOOK_ALLOWED_HOSTS=[f"{HOST}:{tls_server.port}"]):
        target = netguard.check_url(f"https://{HOST}:{tls_server.port}/hook")
        with pytest.raises(ssl.SSLCertVerificationError):
            netguard.post(target, b"{}", {}, tls_context=trust_other)
    assert tls_server.hosts == []
