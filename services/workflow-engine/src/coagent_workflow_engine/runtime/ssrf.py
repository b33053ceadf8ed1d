"""Outbound address rules for workflow HTTP calls (server-side request forgery guard).

A graph author chooses the URL, and the engine runs inside the operator's network, so every call
is vetted before a socket opens: only ``http``/``https``, and *every* address the host resolves to
must be a public unicast address (no loopback, private, link-local, carrier-grade NAT, multicast,
reserved or cloud-metadata address, in IPv4 or IPv6, including IPv4 embedded in IPv6). The call
then connects to the vetted address itself, so a second DNS answer cannot swap in an internal one.
Operators may exempt networks (``allow``); loopback and metadata exemptions are for dev/test only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = frozenset({"http", "https"})
#: Cloud metadata endpoints; most are link-local or private already, listed for clarity.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
#: IPv6 prefixes that carry an IPv4 address the connection really reaches (NAT64).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class EgressRefused(Exception):
    """The URL may not be called; the message says why (it ends up in the run's timeline)."""


@dataclass(frozen=True)
class EgressPolicy:
    """What outbound calls may reach; ``allow`` lists networks exempt from the address rules."""

    allow: tuple[IPNetwork, ...] = ()
    max_response_bytes: int = 1024 * 1024
    max_redirects: int = 3
    user_agent: str = "coagent-workflow-engine"
    #: Replaced in tests by a resolver returning fixed answers.
    resolver: Resolver | None = field(default=None, compare=False)

    @classmethod
    def of(cls, allow: Iterable[str], max_response_bytes: int = 1024 * 1024) -> EgressPolicy:
        """A policy from CIDR strings (``127.0.0.1/32``); a bad entry raises ``ValueError``."""
        networks = tuple(ipaddress.ip_network(a, strict=False) for a in allow)
        return cls(allow=networks, max_response_bytes=max_response_bytes)

    def allows(self, address: IPAddress) -> bool:
        return any(address in network for network in self.allow)


class Resolver:
    """Name → addresses through the event loop's ``getaddrinfo`` (a thread, not blocking)."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise EgressRefused(f"cannot resolve host {host!r}: {exc.strerror}") from exc
        return list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address really reaches (mapped, compatible, 6to4, NAT64)."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    compatible = int(address) >> 32 == 0 and int(address) > 0xFFFF  # ::a.b.c.d, not :: or ::1
    if compatible or any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not be called, or ``None`` for a public unicast address."""
    inner = embedded_ipv4(address)
    if inner is not None:  # judged by where the connection really goes
        reason = forbidden_reason(inner)
        return None if reason is None else f"{reason} (embedded in {address})"
    checks = (
        (address in METADATA_ADDRESSES, "a cloud metadata address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a public address"),
    )
    return next((why for hit, why in checks if hit), None)


@dataclass(frozen=True)
class Target:
    """A vetted request target: the URL as written and the address to connect to."""

    url: SplitResult
    host: str
    port: int
    address: IPAddress

    @property
    def connect_url(self) -> str:
        """The URL with the host replaced by the vetted address (the ``Host`` header keeps the
        name, and TLS verifies the certificate against the name through SNI)."""
        literal = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        netloc = f"{literal}:{self.port}"
        path = self.url.path or "/"
        query = f"?{self.url.query}" if self.url.query else ""
        return f"{self.url.scheme}://{netloc}{path}{query}"

    @property
    def host_header(self) -> str:
        default = 443 if self.url.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def split_url(url: str) -> tuple[SplitResult, str, int]:
    """``(parts, host, port)`` of an ``http``/``https`` URL with a host, else ``EgressRefused``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EgressRefused(f"invalid URL: {exc}") from exc
    if parts.scheme not in ALLOWED_SCHEMES:
        raise EgressRefused(f"scheme {parts.scheme!r} is not allowed (only http and https)")
    if not parts.hostname:
        raise EgressRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise EgressRefused("credentials in the URL are not allowed; use a header")
    return parts, parts.hostname, port or (443 if parts.scheme == "https" else 80)


async def vet(url: str, policy: EgressPolicy) -> Target:
    """Resolve ``url``'s host and check every address; the target to connect to."""
    parts, host, port = split_url(url)
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await (policy.resolver or Resolver()).resolve(host, port)
    if not addresses:
        raise EgressRefused(f"host {host!r} has no address")
    for address in addresses:
        reason = forbidden_reason(address)
        if reason is not None and not policy.allows(address):
            raise EgressRefused(f"host {host!r} resolves to {address}, {reason}")
    return Target(parts, host, port, addresses[0])
