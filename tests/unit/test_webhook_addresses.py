"""Where a webhook may point: every address its host resolves to must be public."""

from __future__ import annotations

import pytest

from pointsnet.errors import ValidationFailed
from pointsnet.webhooks.addresses import checked_target


def resolving(*addresses: str):  # type: ignore[no-untyped-def]
    return lambda host, port: list(addresses)


def test_a_host_with_only_public_addresses_is_its_target() -> None:
    # Given a host that resolves to two public addresses
    resolve = resolving("93.184.216.34", "2606:2800:220:1::248")
    # When its https URL is checked
    target = checked_target("https://hooks.example/in?x=1", allow_loopback=False, resolve=resolve)
    # Then the target is the host on 443, its path and query, and both checked addresses
    assert (target.host, target.port, target.path) == ("hooks.example", 443, "/in?x=1")
    assert target.addresses == ("93.184.216.34", "2606:2800:220:1::248")


@pytest.mark.parametrize(
    "addresses",
    [
        ("93.184.216.34", "10.0.0.7"),  # one public, one private: a rebinding attempt
        ("::ffff:10.0.0.7",),  # a private IPv4 address written as IPv6
        ("100.64.0.1",),  # carrier-grade NAT, not the internet
        ("169.254.169.254",),  # the instance metadata service
        ("224.0.0.1",),
        ("0.0.0.0",),
        (),  # does not resolve
    ],
)
def test_a_host_with_any_address_that_is_not_public_is_refused(
    addresses: tuple[str, ...],
) -> None:
    # Given a host resolving to these addresses
    resolve = resolving(*addresses)
    # When its https URL is checked; Then it is refused, naming the url field
    with pytest.raises(ValidationFailed) as refused:
        checked_target("https://hooks.example/in", allow_loopback=False, resolve=resolve)
    assert refused.value.details == [{"field": "url", "message": str(refused.value)}]


def test_loopback_is_allowed_over_http_only_where_loopback_is_allowed() -> None:
    # Given a host on loopback
    resolve = resolving("127.0.0.1", "::1")
    # When its http URL is checked with and without the local network's setting
    local = checked_target("http://localhost:8080/in", allow_loopback=True, resolve=resolve)
    # Then only the local network takes it
    assert (local.scheme, local.port, local.addresses) == ("http", 8080, ("127.0.0.1", "::1"))
    with pytest.raises(ValidationFailed):
        checked_target("http://localhost:8080/in", allow_loopback=False, resolve=resolve)


def test_loopback_allowed_still_refuses_a_private_address() -> None:
    # Given the local network's setting and a host on a private network
    # When its URL is checked; Then it is refused: only loopback is allowed
    with pytest.raises(ValidationFailed):
        checked_target("http://nas.lan/in", allow_loopback=True, resolve=resolving("192.168.1.9"))
