"""Where a webhook may point: a public address, never one inside the network's own.

A URL that resolves to a private, loopback, link-local (the instance metadata service at
169.254.169.254), multicast or reserved address would let a partner make the network call
into its own VPC. Both the registration and every delivery check the addresses the host
resolves to, and a delivery connects to the address it checked, so a DNS answer that changes
in between cannot slip a private one in. A local network allows http to loopback only.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from pointsnet.errors import ValidationFailed

Resolver = Callable[[str, int], Sequence[str]]


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect, and what to ask for there."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({str(answer[4][0]) for answer in answers})


def _refused(message: str) -> ValidationFailed:
    return ValidationFailed(message, details=[{"field": "url", "message": message}])


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def checked_target(
    url: str, *, allow_loopback: bool, resolve: Resolver = system_resolver
) -> Target:
    """The URL's target when every address its host resolves to may be called; else
    ValidationFailed saying why (`allow_loopback`: a local network's receivers)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _refused(f"not a URL: {exc}") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("https", "http") or not host:
        raise _refused("must be an https:// URL with a host")
    if parts.username or parts.password:
        raise _refused("must not carry credentials")
    if parts.fragment:
        raise _refused("must not have a #fragment")
    port = port or (443 if scheme == "https" else 80)
    addresses = tuple(resolve(host, port))
    if not addresses:
        raise _refused(f"its host {host} does not resolve")
    loopback = all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses)
    if loopback and allow_loopback:
        pass
    elif not all(_is_public(address) for address in addresses):
        raise _refused(f"its host {host} resolves to a private, loopback or link-local address")
    elif scheme != "https":
        raise _refused("must be https (http is allowed only to loopback on a local network)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=scheme, host=host, port=port, path=path, addresses=addresses)
