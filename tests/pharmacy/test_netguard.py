"""The webhook SSRF guard. Must show (issue 5): the webhook refuses 127.0.0.1, 10.0.0.1,
169.254.169.254, [::1] and a redirect to any of them; addresses are checked on the resolved IP
and the connection is pinned to it."""

import ipaddress
import socket
from typing import Any

import pytest
from django.test import override_settings

from carepath.pharmacy import netguard
from carepath.pharmacy.netguard import NetworkRefused, check_url, refusal_reason
from tests.pharmacy.conftest import WebhookServer

HTTP_ON = override_settings(PHARMACY_WEBHOOK_ALLOW_HTTP=True, PHARMACY_WEBHOOK_ALLOWED_HOSTS=[])


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.170.2", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - the address under test
        ("::", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.254", "CGNAT"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("::ffff:100.64.0.1", "CGNAT"),
        ("::ffff:0.0.0.0", "unspecified"),
        ("2002:7f00:1::", "loopback"),  # 6to4 carrying 127.0.0.1
        ("64:ff9b::a00:1", "private"),  # NAT64 carrying 10.0.0.1
        ("::127.0.0.1", "loopback"),  # IPv4-compatible
        ("192.0.2.10", "address"),  # documentation range: not global
        ("198.18.0.1", "address"),  # benchmarking: not global
    ],
)
def test_refused_address_categories(address: str, reason: str) -> None:
    refused = refusal_reason(ipaddress.ip_address(address))
    assert refused is not None
    assert reason in refused


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


@HTTP_ON
@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://10.0.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data", "cloud metadata"),
        ("http://[::1]/", "loopback"),
        ("http://127.0.0.1/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:a9fe:a9fe]/", "cloud metadata"),
        ("https://100.100.100.200/", "cloud metadata"),
        ("https://[fd00:ec2::254]/", "cloud metadata"),
        ("http://2130706433/", ""),  # decimal 127.0.0.1: resolves to loopback, or nothing
        ("http://0x7f.1/", ""),
    ],
)
def test_direct_urls_refused_before_any_connection(
    url: str, why: str, connections: list[Any]
) -> None:
    with pytest.raises(NetworkRefused) as refused:
        check_url(url)
    assert why in str(refused.value)
    assert connections == []


@HTTP_ON
def test_local_server_not_allow_listed_is_refused(
    webhook_server: WebhookServer, connections: list[Any]
) -> None:
    """The same live server the webhook tests use is refused once it is not allow-listed."""
    with (
        override_settings(PHARMACY_WEBHOOK_ALLOWED_HOSTS=[]),
        pytest.raises(NetworkRefused, match="loopback"),
    ):
        check_url(webhook_server.url())
    assert connections == []
    assert webhook_server.received == []


@HTTP_ON
def test_allow_list_is_exact_host_and_port(webhook_server: WebhookServer) -> None:
    with override_settings(PHARMACY_WEBHOOK_ALLOWED_HOSTS=[f"127.0.0.1:{webhook_server.port}"]):
        assert check_url(webhook_server.url()).address == "127.0.0.1"
        with pytest.raises(NetworkRefused, match="loopback"):
            check_url(f"http://127.0.0.1:{webhook_server.port + 1}/")
        with pytest.raises(NetworkRefused, match="loopback"):
            check_url(f"http://localhost:{webhook_server.port}/")


@HTTP_ON
def test_hostname_resolving_to_a_refused_address_is_refused(connections: list[Any]) -> None:
    with pytest.raises(NetworkRefused, match=r"localhost \((127\.0\.0\.1|::1)\): a loopback"):
        check_url("http://localhost/")
    assert connections == []


def test_any_bad_resolved_address_refuses_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name with one public and one private address is refused: we do not pick and hope."""

    def fake_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(NetworkRefused, match=r"10\.1\.2\.3"):
        check_url("https://pharmacy.example/hook")


def test_public_name_is_pinned_to_its_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))
        ],
    )
    target = check_url("https://pharmacy.example:8443/hook?x=1")
    assert (target.address, target.port, target.path) == ("93.184.216.34", 8443, "/hook?x=1")
    assert target.host_header == "pharmacy.example:8443"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://pharmacy.example/", "https"),
        ("ftp://pharmacy.example/", "https"),
        ("https://user:pw@pharmacy.example/", "user name or password"),
        ("https:///nohost", "no host"),
        ("https://pharmacy.example:99999/", "not valid"),
    ],
)
def test_url_shape_refused(url: str, message: str, connections: list[Any]) -> None:
    with (
        override_settings(PHARMACY_WEBHOOK_ALLOW_HTTP=False),
        pytest.raises(NetworkRefused, match=message),
    ):
        check_url(url)
    assert connections == []


@HTTP_ON
def test_connection_goes_to_the_pinned_address_with_the_original_host(
    webhook_server: WebhookServer, monkeypatch: pytest.MonkeyPatch, connections: list[Any]
) -> None:
    """DNS rebinding: the name resolves to the allowed address once, then to 10.0.0.1. We
    resolve exactly once and connect to the address we checked, sending the original Host."""
    answers = iter(["127.0.0.1", "10.0.0.1", "10.0.0.1"])
    lookups: list[str] = []

    def rebinding_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    host_port = f"pharmacy-gateway.test:{webhook_server.port}"
    with override_settings(PHARMACY_WEBHOOK_ALLOWED_HOSTS=[host_port]):
        target = check_url(f"http://{host_port}/ok")
        result = netguard.post(target, b"{}", {"Content-Type": "application/json"})
    assert lookups == ["pharmacy-gateway.test"]
    assert connections == [("127.0.0.1", webhook_server.port)]
    assert result.status == 401  # unsigned: the receiver said no, but it was reached
    assert webhook_server.received[0].headers["Host"] == host_port


def test_static_check_refuses_literal_addresses_when_saving() -> None:
    with override_settings(PHARMACY_WEBHOOK_ALLOW_HTTP=True):
        for url in ["http://10.0.0.1/", "https://169.254.169.254/", "https://[::1]/"]:
            with pytest.raises(NetworkRefused):
                netguard.check_url_statically(url)
        # A name is resolved at delivery, where it counts, not when saving.
        assert netguard.check_url_statically("https://pharmacy.example/").host == "pharmacy.example"


def test_timeouts_are_bounded() -> None:
    with override_settings(PHARMACY_WEBHOOK_TIMEOUT_SECONDS=3600):
        assert netguard.timeout_seconds() == netguard.MAX_TIMEOUT_SECONDS
    with override_settings(PHARMACY_WEBHOOK_TIMEOUT_SECONDS=0):
        assert netguard.timeout_seconds() == 0.5
