"""Outbound network safety for pharmacy webhooks (server-side request forgery guard).

A webhook URL is typed by an operator, but the request is made from inside our network, so a
URL must never reach our own services: loopback, private networks, link-local addresses, cloud
metadata endpoints, and the like. The guard works in three steps, all in this module:

0. When an operator saves a URL, `check_url_for_saving(url)` applies the same rules (numeric
   hosts in any form, loopback names, and the addresses the name resolves to now), so a
   disguised internal address is a field error on the form, not only a failed delivery.
1. `check_url(url)` parses the URL: https only (http only when PHARMACY_WEBHOOK_ALLOW_HTTP is
   on), no user:password part, a host and a valid port.
2. It resolves the host ONCE with getaddrinfo and refuses the URL if ANY resolved address is
   refused by `refusal_reason()` (IPv4-mapped, IPv4-compatible, 6to4 and NAT64 IPv6 forms are
   judged by the IPv4 address they carry). The result, a `Target`, is pinned to the first
   address that passed.
3. `open_connection(target)` connects a socket to THAT address (no second lookup, so DNS
   rebinding cannot switch the address between the check and the connect), re-checks the peer
   address of the connected socket, and speaks HTTP (http.client) over it with the original
   Host header; for https the TLS handshake sends the original host name as SNI and verifies
   the certificate against it.

Redirects are never followed: http.client does not follow them, and the webhook adapter treats
any 3xx as a failed delivery naming the refused location.

Operators may allow exact `host:port` pairs (PHARMACY_WEBHOOK_ALLOWED_HOSTS, empty by default)
for an internal pharmacy gateway; for those the address categories are not refused, but the
address is still resolved once and pinned.

Settings (all optional):
    PHARMACY_WEBHOOK_ALLOW_HTTP        bool, default False
    PHARMACY_WEBHOOK_ALLOWED_HOSTS     list of "host:port", default []
    PHARMACY_WEBHOOK_TIMEOUT_SECONDS   connect/read timeout, default 10 (capped at 30)
"""

import http.client
import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_TIMEOUT_SECONDS = 10.0
MAX_TIMEOUT_SECONDS = 30.0

# Named first, so an error says "cloud metadata" rather than only "link-local".
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, ...
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("fd00:ec2::254"),  # AWS IMDS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class NetworkRefused(Exception):  # noqa: N818 - reads as what happened
    """The URL or the address it resolves to may not be contacted; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked URL, pinned to the address that passed the check."""

    scheme: str
    host: str  # as written in the URL (without IPv6 brackets)
    port: int
    path: str  # path and query, at least "/"
    address: str  # the resolved, checked IP we connect to
    allow_listed: bool

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


# --- Address categories ----------------------------------------------------------------------


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the translation forms."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in IPV4_COMPATIBLE and int(ip) > 1:  # ::a.b.c.d (deprecated); :: and ::1 are below
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def refusal_reason(ip: IpAddress) -> str | None:
    """Why we will not connect to this address, or None when it is a public unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "an IPv6 address with a zone"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            inner = refusal_reason(embedded)
            return f"{inner} (IPv4 inside IPv6)" if inner else None
    checks: list[tuple[bool, str]] = [
        (ip in METADATA_ADDRESSES, "a cloud metadata address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT, "a shared (CGNAT) address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    ]
    return next((reason for refused, reason in checks if refused), None)


def parse_ip(text: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# --- Settings --------------------------------------------------------------------------------


def allow_http() -> bool:
    return bool(getattr(settings, "PHARMACY_WEBHOOK_ALLOW_HTTP", False))


def allowed_host_ports() -> frozenset[str]:
    return frozenset(
        str(entry).strip().lower()
        for entry in getattr(settings, "PHARMACY_WEBHOOK_ALLOWED_HOSTS", ())
        if str(entry).strip()
    )


def timeout_seconds() -> float:
    configured = float(
        getattr(settings, "PHARMACY_WEBHOOK_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)
    )
    return max(0.5, min(configured, MAX_TIMEOUT_SECONDS))


# --- URL check -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedUrl:
    scheme: str
    host: str
    port: int
    path: str

    @property
    def host_port(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}".lower()


def parse_url(url: str) -> ParsedUrl:
    """Static checks only (no DNS): scheme, credentials, host, port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as error:
        raise NetworkRefused(f"The URL is not valid: {error}.") from error
    scheme = parts.scheme.lower()
    if scheme not in {"https", "http"}:
        raise NetworkRefused("Only https URLs may be used.")
    if scheme == "http" and not allow_http():
        raise NetworkRefused("Only https URLs may be used (plain http is switched off).")
    if parts.username is not None or parts.password is not None:
        raise NetworkRefused("The URL may not contain a user name or password.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise NetworkRefused("The URL has no host.")
    if parse_ip(host) is None:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as error:
            raise NetworkRefused("The URL's host name is not valid.") from error
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return ParsedUrl(scheme, host, port or (443 if scheme == "https" else 80), path)


LEGACY_IPV4 = re.compile(r"[0-9a-fA-FxX.]+")


def legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a host written in one of the old numeric forms stands for: one
    number (2130706433), fewer parts (127.1), hex or octal parts (0x7f.1, 0177.0.0.1).
    Resolvers (inet_aton) read them as addresses, so they are judged as addresses."""
    if not LEGACY_IPV4.fullmatch(host) or not host[:1].isdigit():
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _is_local_name(host: str) -> bool:
    """ "localhost" and every name under .localhost are loopback by definition (RFC 6761)."""
    host = host.lower()
    return host == "localhost" or host.endswith(".localhost")


def check_url_statically(url: str) -> ParsedUrl:
    """What can be checked without a lookup: the parse, an address written in the URL (also
    in the old numeric forms, e.g. 2130706433 or 0x7f.1), and the loopback names."""
    parsed = parse_url(url)
    if parsed.host_port in allowed_host_ports():
        return parsed
    literal = parse_ip(parsed.host) or legacy_ipv4(parsed.host)
    if literal is not None:
        reason = refusal_reason(literal)
        if reason:
            shown = parsed.host if str(literal) == parsed.host else f"{parsed.host} ({literal})"
            raise NetworkRefused(f"Refused {shown}: {reason}.")
    elif _is_local_name(parsed.host):
        raise NetworkRefused(f"Refused {parsed.host}: a loopback address.")
    return parsed


def check_url_for_saving(url: str) -> ParsedUrl:
    """When an operator saves a URL: the static checks, then the host name resolved with
    the same rules as at delivery, so a name that points inside our network is refused on
    the form. A name that does not resolve now is accepted (a pharmacy may set up its DNS
    later): every delivery resolves and checks again, which is where it counts."""
    parsed = check_url_statically(url)
    if parsed.host_port in allowed_host_ports() or parse_ip(parsed.host) is not None:
        return parsed
    if legacy_ipv4(parsed.host) is not None:
        return parsed
    try:
        addresses = resolve(parsed.host, parsed.port)
    except NetworkRefused:
        return parsed
    for ip in addresses:
        reason = refusal_reason(ip)
        if reason:
            raise NetworkRefused(f"Refused {parsed.host} ({ip}): {reason}.")
    return parsed


def resolve(host: str, port: int) -> list[IpAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise NetworkRefused(f"Could not resolve {host}: {error}.") from error
    addresses: list[IpAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = parse_ip(str(sockaddr[0]))
        if ip is not None and ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise NetworkRefused(f"{host} has no address.")
    return addresses


def check_url(url: str) -> Target:
    """Parse, resolve once, refuse any bad address, and pin the first good one."""
    parsed = parse_url(url)
    allow_listed = parsed.host_port in allowed_host_ports()
    literal = parse_ip(parsed.host)
    addresses = [literal] if literal is not None else resolve(parsed.host, parsed.port)
    if not allow_listed:
        for ip in addresses:
            reason = refusal_reason(ip)
            if reason:
                shown = parsed.host if literal is not None else f"{parsed.host} ({ip})"
                raise NetworkRefused(f"Refused {shown}: {reason}.")
    return Target(
        scheme=parsed.scheme,
        host=parsed.host,
        port=parsed.port,
        path=parsed.path,
        address=str(addresses[0]),
        allow_listed=allow_listed,
    )


# --- Pinned connections ----------------------------------------------------------------------


def connect_pinned(target: Target, timeout: float) -> socket.socket:
    """A TCP connection to the pinned address, re-checked once connected (belt and braces:
    the peer must be the address we checked)."""
    ip = ipaddress.ip_address(target.address)
    # A socket of the right family connected to the IP itself: no name lookup of any kind
    # happens here (create_connection would call getaddrinfo again, even for a literal).
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((str(ip), target.port))
    except BaseException:
        sock.close()
        raise
    peer = parse_ip(str(sock.getpeername()[0]).split("%")[0])
    unexpected = peer is None or peer != parse_ip(target.address)
    if unexpected or (peer is not None and not target.allow_listed and refusal_reason(peer)):
        sock.close()
        raise NetworkRefused(f"Connected to an unexpected address ({peer}); refused.")
    return sock


class PinnedHTTPConnection(http.client.HTTPConnection):
    """http.client with its own connect: to the pinned address, never a fresh lookup. The
    Host header still names the URL's host (http.client takes it from `host`)."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.target = target

    def connect(self) -> None:
        self.sock = connect_pinned(self.target, self.timeout or DEFAULT_TIMEOUT_SECONDS)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above over TLS: SNI and certificate verification use the URL's host name."""

    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self.target = target
        self.tls_context = context

    def connect(self) -> None:
        raw = connect_pinned(self.target, self.timeout or DEFAULT_TIMEOUT_SECONDS)
        try:
            self.sock = self.tls_context.wrap_socket(raw, server_hostname=self.target.host)
        except BaseException:
            raw.close()
            raise


def open_connection(
    target: Target, *, timeout: float | None = None, tls_context: ssl.SSLContext | None = None
) -> http.client.HTTPConnection:
    """An unconnected http.client connection that will connect to the pinned address. The
    default TLS context verifies certificates against the system's CAs."""
    seconds = timeout if timeout is not None else timeout_seconds()
    if target.scheme == "https":
        return PinnedHTTPSConnection(target, seconds, tls_context or ssl.create_default_context())
    return PinnedHTTPConnection(target, seconds)


@dataclass(frozen=True)
class PostResult:
    status: int
    location: str
    body_excerpt: str


MAX_RESPONSE_BYTES = 64 * 1024


def post(
    target: Target,
    body: bytes,
    headers: dict[str, str],
    *,
    tls_context: ssl.SSLContext | None = None,
) -> PostResult:
    """POST `body` to the pinned target; never follows a redirect. Network errors propagate
    as OSError (including timeouts and certificate failures) or http.client.HTTPException."""
    connection = open_connection(target, tls_context=tls_context)
    try:
        sent: dict[str, Any] = {**headers, "Content-Length": str(len(body))}
        connection.request("POST", target.path, body=body, headers=sent)
        response = connection.getresponse()
        excerpt = response.read(MAX_RESPONSE_BYTES).decode("utf-8", "replace")
        return PostResult(response.status, response.getheader("Location") or "", excerpt)
    finally:
        connection.close()
