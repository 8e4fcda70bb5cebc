"""The server-side request forgery guard for webhook receivers.

A tenant names a URL and the service calls it, from inside the cloud network: without a guard, a webhook could
reach the instance metadata service, a VPC-internal endpoint or the host's loopback. The host is resolved and
*every* address it resolves to must be public, at registration (the API answers 422) and again just before each
delivery, whose connection then goes to the address that was checked (a DNS answer that changes between the
check and the connection — rebinding — cannot redirect it). Redirects are never followed.
"""

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: host, port -> addresses (``socket.getaddrinfo`` in production; tests may pass their own).
Resolver = Callable[[str, int], list[str]]

#: The cloud metadata services, named in refusals because they are what an attacker is after.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),
    }
)
MAX_URL_LENGTH = 2048


class UnsafeUrlError(ValueError):
    """The URL may not be called: its scheme, its form, or an address it resolves to."""


@dataclass(frozen=True)
class CheckedUrl:
    url: str
    scheme: str
    host: str
    port: int
    #: The addresses the host resolved to, all of them allowed; a delivery connects to the first.
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeUrlError(f"the host {host!r} does not resolve: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _why_refused(address: IPAddress) -> str | None:
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _why_refused(address.ipv4_mapped)
    for label, flag in (
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("an unspecified address", address.is_unspecified),
        ("a private address", address.is_private),
        ("a reserved address", address.is_reserved),
    ):
        if flag:
            return label
    if not address.is_global:  # shared address space (100.64/10), documentation ranges, ...
        return "not a public address"
    return None


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def check_url(
    url: str,
    *,
    allowed_networks: tuple[Network, ...] = (),
    resolver: Resolver = system_resolver,
) -> CheckedUrl:
    """Refuse (UnsafeUrlError, with the reason) a URL that is not plain http(s) to public addresses only.

    ``allowed_networks`` (a development setting; empty in production) exempts networks from the address check, so
    a local receiver on 127.0.0.1 can be used in development and tests.
    """
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrlError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrlError("the URL must start with https:// (or http://)")
    if parts.username or parts.password:
        raise UnsafeUrlError("the URL may not carry credentials; use the signing secret to authenticate deliveries")
    host = parts.hostname
    if not host:
        raise UnsafeUrlError("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeUrlError(f"the URL's port is not valid: {exc}") from exc
    addresses = resolver(host, port)
    if not addresses:
        raise UnsafeUrlError(f"the host {host!r} does not resolve")
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone id is not part of the address
        if any(address in network for network in allowed_networks):
            continue
        reason = _why_refused(address)
        if reason:
            raise UnsafeUrlError(
                f"the host {host!r} resolves to {address}, {reason}; webhooks may only call public addresses"
            )
    return CheckedUrl(url=url, scheme=parts.scheme, host=host, port=port, addresses=tuple(addresses))
