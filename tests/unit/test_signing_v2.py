"""Signature v2 (PN2-HMAC-SHA256), checked against openssl run by the test itself.

openssl computes each expected value from the contract's string to sign, so the vectors never
come from the implementation under test; the contract's own worked-example values are pinned
as well.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from pointsnet import signing
from pointsnet.auth.authenticate import SignedRequest, verify
from pointsnet.auth.caller import Caller, Role
from pointsnet.auth.keys import ActiveKey
from pointsnet.errors import InvalidSignature

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

SECRET = "s3cr3t"
TIMESTAMP = "1767225600"
PATH = "/v1/members/m-1/earn"
RAW_QUERY = "b=2&a=x%20y&a=1"
BODY = b'{"points": 100, "reference": "order-1"}'
KEY = "order-1-attempt-7"
CONTRACT_V1 = "v1=3d16da4d5410c5db84247aa36990d2eecc6f810bd441501f28f840eba8d2df8e"
CONTRACT_V2 = "v2=5d43f93a77c7b99d5ce553e2399e5f0374a69a972d57c0c7ce6e96df790f6d7c"


def openssl_hex(data: bytes, secret: str | None = None) -> str:
    """`openssl dgst -sha256 [-hmac SECRET]` of `data`, as lowercase hex."""
    command = ["openssl", "dgst", "-sha256"] + (["-hmac", secret] if secret else [])
    done = subprocess.run(command, input=data, capture_output=True, check=True)
    return done.stdout.decode().strip().rsplit("= ", 1)[-1]


def contract_lines(version: int, method: str, path: str, query: str, body: bytes, key: str) -> str:
    """The string to sign written out from API.md, line by line, with openssl's body hash."""
    lines = [f"PN{version}-HMAC-SHA256", TIMESTAMP, method, path, query, openssl_hex(body)]
    if version == 2:
        lines.append(key)
    return "\n".join(lines)


def test_openssl_gives_the_contract_worked_example_for_v1_and_v2() -> None:
    # Given the worked example written out as the contract says; When openssl signs it
    v1 = openssl_hex(contract_lines(1, "POST", PATH, "a=1&a=x%20y&b=2", BODY, "").encode(), SECRET)
    v2 = openssl_hex(contract_lines(2, "POST", PATH, "a=1&a=x%20y&b=2", BODY, KEY).encode(), SECRET)
    # Then it gives the contract's two signatures, so the vectors below are the contract's
    assert ("v1=" + v1, "v2=" + v2) == (CONTRACT_V1, CONTRACT_V2)


@pytest.mark.parametrize(
    ("version", "key", "expected"), [(1, None, CONTRACT_V1), (2, KEY, CONTRACT_V2)]
)
def test_sign_request_signs_the_worked_example_as_the_contract_says(
    version: int, key: str | None, expected: str
) -> None:
    # Given the worked example; When the SDK's signing function signs it at either version
    headers = signing.sign_request(
        SECRET,
        "key-1",
        "POST",
        PATH,
        RAW_QUERY,
        BODY,
        1767225600,
        idempotency_key=key,
        version=version,
    )
    # Then the header is the contract's
    assert headers[signing.SIGNATURE_HEADER] == expected


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    raw_query: str
    canonical_query: str
    body: bytes
    key: str | None


CASES = [
    Case("POST", PATH, RAW_QUERY, "a=1&a=x%20y&b=2", BODY, KEY),
    # A GET has no key: the seventh line is empty, so the string ends with a newline.
    Case("GET", "/v1/members/m-1", "", "", b"", None),
    # A key as sent, spaces and punctuation included: the header value, not an encoding of it.
    Case("POST", "/v1/transactions/txn_1/reverse", "", "", b"{}", "retry #2 / 2026-01-01 ~ok"),
    # Unicode in the body and query, a unicode secret is covered by test_signing.py for v1.
    Case("POST", "/v1/links", "q=caf%C3%A9", "q=caf%C3%A9", '{"r":"café"}'.encode(), "k"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.method} {case.path}")
def test_v2_signatures_match_openssl(case: Case) -> None:
    # Given a request; When the SDK signs it v2
    headers = signing.sign_request(
        SECRET,
        "key-1",
        case.method,
        case.path,
        case.raw_query,
        case.body,
        TIMESTAMP,
        idempotency_key=case.key,
        version=2,
    )
    # Then the signature is openssl's HMAC of the contract's seven lines
    expected = contract_lines(
        2, case.method, case.path, case.canonical_query, case.body, case.key or ""
    )
    assert headers[signing.SIGNATURE_HEADER] == "v2=" + openssl_hex(expected.encode(), SECRET)


def test_a_v2_string_to_sign_without_a_key_ends_with_an_empty_line() -> None:
    # Given a GET, which carries no Idempotency-Key
    # When its v2 string to sign is built
    to_sign = signing.string_to_sign(TIMESTAMP, "GET", "/v1/members/m-1", "", b"", version=2)
    # Then it has the seven lines of v2, the last one empty
    assert to_sign.split("\n")[0] == "PN2-HMAC-SHA256"
    assert to_sign.endswith(hashlib.sha256(b"").hexdigest() + "\n")
    assert len(to_sign.split("\n")) == 7


def test_an_unknown_version_is_refused_when_signing() -> None:
    # Given a signature version the contract does not have
    # When a request is signed at version 3; Then ValueError names it
    with pytest.raises(ValueError, match="no signature version 3"):
        signing.sign_request(SECRET, "k", "GET", "/v1/x", "", b"", TIMESTAMP, version=3)


def test_the_version_is_read_from_the_header_prefix() -> None:
    # Given signature headers of each version, an unknown one and one with no prefix
    # When their version is read; Then it is the prefix's, or None when there is no known one
    assert signing.signature_version(CONTRACT_V1) == 1
    assert signing.signature_version(CONTRACT_V2) == 2
    assert signing.signature_version("v3=00") is None
    assert signing.signature_version("3d16da4d") is None


# the server's check


class OneKey:
    """A key resolver holding one active key."""

    def __init__(self, minimum_signature_version: int = 1) -> None:
        self.active = ActiveKey(
            caller=Caller(partner_id="p-1", key_id="key-1", role=Role.PARTNER, program="PONE"),
            secret=SECRET,
            minimum_signature_version=minimum_signature_version,
        )

    def resolve(self, key_id: str) -> ActiveKey | None:
        return self.active if key_id == "key-1" else None


def signed(signature: str, key: str | None = KEY, body: bytes = BODY) -> SignedRequest:
    headers = {
        "x-pn-key-id": "key-1",
        "x-pn-timestamp": TIMESTAMP,
        "x-pn-signature": signature,
    }
    if key is not None:
        headers["idempotency-key"] = key
    return SignedRequest("POST", PATH, RAW_QUERY, headers, body)


NOW = 1767225600.0


@pytest.mark.parametrize(("signature", "version"), [(CONTRACT_V1, 1), (CONTRACT_V2, 2)])
def test_the_server_accepts_the_worked_example_at_either_version(
    signature: str, version: int
) -> None:
    # Given the worked example signed at either version
    # When the server verifies it
    verified = verify(signed(signature), OneKey(), NOW)
    # Then the caller is the key's partner, at the version signed
    assert (verified.caller.partner_id, verified.version) == ("p-1", version)
    # And it keeps a digest of the signature, never the signature itself
    assert verified.signature_digest == hashlib.sha256(signature.encode()).hexdigest()
    assert verified.timestamp == int(TIMESTAMP)


@pytest.mark.parametrize(
    "request_",
    [
        signed(CONTRACT_V2, key="order-1-attempt-8"),  # another key
        signed(CONTRACT_V2, key=None),  # the key dropped
        signed(CONTRACT_V2, key=KEY + " "),  # the key as sent, byte for byte
        signed(CONTRACT_V2, body=BODY + b" "),  # the body
        signed("v2=" + CONTRACT_V1.removeprefix("v1=")),  # a v1 digest under the v2 prefix
        signed("v1=" + CONTRACT_V2.removeprefix("v2=")),  # and the other way round
    ],
)
def test_the_server_refuses_a_v2_signature_over_anything_else(request_: SignedRequest) -> None:
    # Given the worked example's v2 signature on a request that differs from what was signed
    # When the server verifies it; Then it refuses it
    with pytest.raises(InvalidSignature):
        verify(request_, OneKey(), NOW)


def test_a_v1_signature_does_not_depend_on_the_key() -> None:
    # Given the v1 worked example; When it is sent with any key, or none; Then it verifies
    for key in (KEY, "anything", None):
        assert verify(signed(CONTRACT_V1, key=key), OneKey(), NOW).version == 1


def test_a_v2_only_partner_refuses_a_correct_v1_signature_and_accepts_v2() -> None:
    # Given a partner whose keys must sign v2
    v2_only = OneKey(minimum_signature_version=2)
    # When a correct v1 signature is verified; Then it is refused as v1
    with pytest.raises(InvalidSignature, match="only v2"):
        verify(signed(CONTRACT_V1), v2_only, NOW)
    # When a correct v2 signature is verified; Then it is accepted
    assert verify(signed(CONTRACT_V2), v2_only, NOW).version == 2
