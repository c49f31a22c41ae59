"""Hostile input through the real partner handler: tampered signed requests and abusive bodies.

- Changing any single byte of a signed request (method, path, query, timestamp, key id,
  signature, a signature header's name, body) is refused with a 401, never a 2xx or a 5xx,
  unless the change leaves the signed request the same by the contract's own rules (the
  method is signed upper case, header names are case-insensitive, percent-escapes canonicalise).
- Oversize, deeply nested, non-UTF-8 and huge-number bodies get API.md's errors.
- No answer is ever a 5xx or carries a stack trace.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pointsnet import signing
from pointsnet.local.events import http_api_event
from pointsnet.local.template import find_route, http_routes
from pointsnet.partners.models import IssuedKey
from tests.helpers import TEMPLATE, LambdaContextStub, Reply, SignedCaller

EARN = "/v1/members/guest-1/earn"
HISTORY = "/v1/members/guest-1/transactions"
UNKNOWN_TRANSACTION = "/v1/transactions/txn_aaaaaaaaaaaaaaaaaaaaaaaaaa/reverse"
AUTH_CODES = {"missing_credentials", "unknown_key", "invalid_signature", "stale_timestamp"}
SIGNATURE_HEADERS = (signing.KEY_ID_HEADER, signing.TIMESTAMP_HEADER, signing.SIGNATURE_HEADER)
MAX_BODY = 16 * 1024


@dataclass(frozen=True)
class RawRequest:
    """A request exactly as it goes on the wire: nothing is re-encoded or re-signed on sending."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def signed(key: IssuedKey, method: str, path: str, query: str, body: bytes) -> RawRequest:
    headers = signing.sign_request(
        key.secret, key.key_id, method, path, query, body, int(time.time())
    )
    extra = {"content-type": "application/json"}
    if method == "POST":
        extra["Idempotency-Key"] = f"hostile-{time.monotonic_ns()}"
    return RawRequest(method, path, query, tuple((headers | extra).items()), body)


def send(handler: Any, request: RawRequest) -> Reply:
    found = find_route(http_routes(TEMPLATE), request.method, request.path)
    route, params = found if found else (None, {})
    event = http_api_event(
        request.method,
        request.path,
        raw_query=request.query,
        headers=dict(request.headers),
        body=request.body,
        route=route,
        path_parameters=params,
    )
    result = handler(event, LambdaContextStub())
    text = result.get("body") or ""
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = text
    return Reply(result["statusCode"], dict(result.get("headers") or {}), body)


def assert_no_server_error(reply: Reply, what: str) -> None:
    assert reply.status < 500, f"{what}: {reply.status} {reply.body}"
    assert "Traceback" not in str(reply.body), what
    assert 'File "' not in str(reply.body), what


# -- one byte changed ---------------------------------------------------------------------------


def flipped(text: bytes, masks: tuple[int, ...], printable: bool) -> Iterator[tuple[int, bytes]]:
    """Every copy of `text` with one byte changed by one of `masks`."""
    for position, byte in enumerate(text):
        for mask in masks:
            changed = byte ^ mask
            if printable and not 0x21 <= changed <= 0x7E:
                continue
            yield position, text[:position] + bytes([changed]) + text[position + 1 :]


def tampered(request: RawRequest) -> Iterator[tuple[str, RawRequest]]:
    """Each single-byte change to the parts of a request the signature covers."""
    # Methods are signed upper case, so only changes that stay a different upper-case word count.
    for position, method in flipped(request.method.encode(), (0x01,), printable=True):
        yield f"method byte {position}", replace(request, method=method.decode())
    for position, path in flipped(request.path.encode(), (0x01, 0x20), printable=True):
        yield f"path byte {position}", replace(request, path=path.decode())
    for position, query in flipped(request.query.encode(), (0x01, 0x20), printable=True):
        yield f"query byte {position}", replace(request, query=query.decode())
    for position, body in flipped(request.body, (0x01, 0x80), printable=False):
        yield f"body byte {position}", replace(request, body=body)
    headers = dict(request.headers)
    for name in SIGNATURE_HEADERS:
        for position, value in flipped(headers[name].encode(), (0x01, 0x20), printable=True):
            changed = headers | {name: value.decode()}
            yield f"{name} byte {position}", replace(request, headers=tuple(changed.items()))
        # Header names are case-insensitive: only a change of letter makes another header.
        for position, other in flipped(name.encode(), (0x01,), printable=True):
            renamed = {key: value for key, value in headers.items() if key != name}
            renamed[other.decode()] = headers[name]
            yield f"{name} name byte {position}", replace(request, headers=tuple(renamed.items()))


def same_request(original: RawRequest, changed: RawRequest) -> bool:
    """Whether the contract signs both the same way (e.g. `%7E` and `%7e`)."""
    return (
        original.method.upper() == changed.method.upper()
        and original.path == changed.path
        and original.body == changed.body
        and signing.canonical_query(original.query) == signing.canonical_query(changed.query)
        and {name.lower(): value for name, value in original.headers}
        == {name.lower(): value for name, value in changed.headers}
    )


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("POST", EARN, "", b'{"points": 100, "reference": "order-1"}'),
        ("GET", HISTORY, "limit=5&note=a%7Eb%20c", b""),
        ("GET", "/v1/members/guest-1", "", b""),
    ],
    ids=["earn", "history", "member"],
)
def test_any_single_byte_changed_after_signing_is_refused_with_401(
    starlodge: SignedCaller, method: str, path: str, query: str, body: bytes
) -> None:
    # Given a member and a request the partner signed, which the API accepts as it is
    starlodge.earn("guest-1", 50)
    original = signed(starlodge.key, method, path, query, body)
    accepted = send(starlodge.handler, original)
    assert accepted.status in (200, 201), accepted.body
    # When any single byte of it is changed after signing
    for what, request in tampered(original):
        if same_request(original, request):
            continue
        reply = send(starlodge.handler, request)
        # Then it is refused with a 401 of the contract, never a 2xx or a 5xx
        assert reply.status == 401 and reply.code in AUTH_CODES, (
            f"{what}: {reply.status} {reply.body}"
        )
        assert_no_server_error(reply, what)
    # And nothing was posted by any of them
    member = starlodge.get("/v1/members/guest-1")
    assert member.body["balance"]["available"] == 50 + (100 if method == "POST" else 0)


# -- bodies -------------------------------------------------------------------------------------


POSTS = [EARN, "/v1/members/guest-1/burn", UNKNOWN_TRANSACTION]


def post_raw(caller: SignedCaller, path: str, raw: bytes) -> Reply:
    reply = caller.call("POST", path, raw_body=raw)
    assert_no_server_error(reply, f"POST {path} {raw[:60]!r}")
    return reply


@pytest.mark.parametrize("path", POSTS)
def test_a_body_over_16_kib_is_payload_too_large(starlodge: SignedCaller, path: str) -> None:
    # Given starlodge's signing key (the fixture) and bodies one byte or more over 16 KiB
    for raw in (
        json.dumps({"points": 1, "reference": "r", "description": "x" * MAX_BODY}).encode(),
        b"\xff" * (MAX_BODY + 1),
        b" " * (MAX_BODY + 1),
        b"[" * (MAX_BODY + 1),
    ):
        # When each is posted, signed, to an earn, a burn or a reversal
        # Then each is refused as too large, whether JSON or not
        reply = post_raw(starlodge, path, raw)
        assert (reply.status, reply.code) == (413, "payload_too_large"), reply.body


def test_a_body_of_exactly_16_kib_is_read(starlodge: SignedCaller) -> None:
    # Given a JSON body of exactly 16384 bytes (its description is too long for the field)
    prefix = b'{"points": 1, "reference": "r", "description": "'
    raw = prefix + b"x" * (MAX_BODY - len(prefix) - 2) + b'"}'
    assert len(raw) == MAX_BODY
    # When starlodge posts it, signed, as an earn
    # Then it is read and validated, not refused for its size
    reply = post_raw(starlodge, EARN, raw)
    assert (reply.status, reply.code) == (422, "validation_error"), reply.body


NOT_UTF8 = {
    "invalid-byte": b'{"points": 1, "reference": "\xff"}',
    "latin-1": b'{"points": 1, "reference": "caf\xe9"}',
    "overlong-slash": b'{"points": 1, "reference": "\xc0\xaf"}',
    "truncated": b'{"points": 1, "reference": "\xe2\x82"}',
    "encoded-surrogate": b'{"points": 1, "reference": "\xed\xa0\x80"}',
    "utf-16": '{"points": 1, "reference": "r"}'.encode("utf-16"),
    "utf-8-bom": b'\xef\xbb\xbf{"points": 1, "reference": "r"}',
}


@pytest.mark.parametrize("path", POSTS)
def test_a_body_that_is_not_utf8_is_invalid_json(starlodge: SignedCaller, path: str) -> None:
    # Given bodies that are not UTF-8: stray bytes, Latin-1, overlong, UTF-16, a BOM
    for what, raw in NOT_UTF8.items():
        # When starlodge posts each, signed, to an earn, a burn or a reversal
        # Then each is refused as invalid JSON, never a server error
        reply = post_raw(starlodge, path, raw)
        assert (reply.status, reply.code) == (400, "invalid_json"), f"{what}: {reply.body}"


HUGE_NUMBERS = {
    "10^40": b'{"points": 10000000000000000000000000000000000000000, "reference": "r"}',
    "one-over-max": b'{"points": 1000000001, "reference": "r"}',
    "2^63": b'{"points": 9223372036854775808, "reference": "r"}',
    "1e400": b'{"points": 1e400, "reference": "r"}',
    "-1e400": b'{"points": -1e400, "reference": "r"}',
    "1e2": b'{"points": 1e2, "reference": "r"}',
    "4000-digits": b'{"points": 1' + b"0" * 3999 + b', "reference": "r"}',
    "in-reference": b'{"points": 1, "reference": 1e400}',
    "in-description": b'{"points": 1, "reference": "r", "description": 1e999}',
}


def test_a_huge_number_is_a_validation_error(starlodge: SignedCaller) -> None:
    # Given earn bodies with numbers too large for points, or where no number belongs
    for what, raw in HUGE_NUMBERS.items():
        # When starlodge posts each, signed, as an earn for guest-1
        # Then each is a validation error
        reply = post_raw(starlodge, EARN, raw)
        assert (reply.status, reply.code) == (422, "validation_error"), f"{what}: {reply.body}"
    # And none earned anything: the member does not exist
    assert starlodge.get("/v1/members/guest-1").status == 404


def test_a_number_too_long_to_parse_is_refused_as_a_client_error(
    starlodge: SignedCaller,
) -> None:
    # Python refuses to parse integers of more than 4300 digits; either client error will do
    # Given an earn body whose points have 5001 digits
    raw = b'{"points": 1' + b"0" * 5000 + b', "reference": "r"}'
    # When starlodge posts it, signed
    # Then it is refused as invalid JSON or a validation error, never a server error
    reply = post_raw(starlodge, EARN, raw)
    assert (reply.status, reply.code) in {(400, "invalid_json"), (422, "validation_error")}


def test_non_standard_json_constants_are_invalid_json(starlodge: SignedCaller) -> None:
    # Given bodies with Infinity, -Infinity or NaN, which JSON does not allow
    for raw in (b"Infinity", b"-Infinity", b'{"points": NaN, "reference": "r"}'):
        # When starlodge posts each, signed, as an earn
        # Then each is refused as invalid JSON
        reply = post_raw(starlodge, EARN, raw)
        assert (reply.status, reply.code) == (400, "invalid_json"), f"{raw!r}: {reply.body}"


def nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        inner = b"[" * depth + b"]" * depth
    else:
        inner = b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"points": 1, "reference": "r", "description": ' + inner + b"}"


NESTED_CLIENT_ERRORS = {(400, "invalid_json"), (422, "validation_error")}


def test_a_deeply_nested_body_is_a_client_error(starlodge: SignedCaller) -> None:
    # Given arrays and objects nested from 2 to 5000 deep
    for kind in ("array", "object"):
        for depth in (2, 50, 500, 900, 1000, 2000, 5000):
            raw = nested(depth, kind)
            # When starlodge posts each, signed, as an earn
            # Then each is a client error: too large when over 16 KiB,
            # else invalid JSON or a validation error
            reply = post_raw(starlodge, EARN, raw)
            expected = {(413, "payload_too_large")} if len(raw) > MAX_BODY else NESTED_CLIENT_ERRORS
            assert (reply.status, reply.code) in expected, f"{kind} {depth}: {reply.body}"


@pytest.mark.parametrize("kind", ["array", "object"])
def test_no_nesting_depth_is_a_server_error(starlodge: SignedCaller, kind: str) -> None:
    # Depths around 940-950 once passed the resolver's own parse and then overflowed the
    # stack in Powertools' second parse of the same body: a 500.
    # Given arrays or objects nested at every depth from 900 to 1000
    # When starlodge posts each, signed, as an earn
    answers = {}
    for depth in range(900, 1001):
        reply = starlodge.call("POST", EARN, raw_body=nested(depth, kind))
        answers[depth] = (reply.status, reply.code)
    # Then none is answered with a server error
    errors = {depth: answer for depth, answer in answers.items() if answer[0] >= 500}
    assert not errors, f"5xx at depths {sorted(errors)}"


LONE_SURROGATES = {
    "in-reference": b'{"points": 1, "reference": "\\ud800"}',
    "in-description": b'{"points": 1, "reference": "r", "description": "\\udfff"}',
    "as-a-key": b'{"\\ud83d": 1}',
}


def test_a_lone_surrogate_escape_is_invalid_json(starlodge: SignedCaller) -> None:
    # Given earn bodies with a lone surrogate escape in a value or a key
    # Valid JSON text, but not Unicode: no store could keep it
    for what, raw in LONE_SURROGATES.items():
        # When starlodge posts each, signed, as an earn
        # Then each is refused as invalid JSON
        reply = post_raw(starlodge, EARN, raw)
        assert (reply.status, reply.code) == (400, "invalid_json"), f"{what}: {reply.body}"


# -- anything at all ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
earn_like = st.fixed_dictionaries(
    {},
    optional={
        "points": json_values | st.integers(-(10**12), 10**12),
        "reference": json_values | st.text(max_size=200),
        "description": json_values,
        "program": json_values | st.sampled_from(["STAR", "RIDE", "star", ""]),
        "pending": json_values,
    },
)
bodies = (
    earn_like.map(lambda body: json.dumps(body).encode())
    | json_values.map(lambda value: json.dumps(value).encode())
    | st.binary(max_size=300)
)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(path=st.sampled_from(POSTS), raw=bodies)
def test_no_body_is_a_server_error(starlodge: SignedCaller, path: str, raw: bytes) -> None:
    # Given any body: earn-like JSON, any JSON value, or any bytes
    # When starlodge posts it, signed, to an earn, a burn or a reversal
    # Then the answer is a success or a client error, and an error has the envelope
    reply = post_raw(starlodge, path, raw)
    assert reply.status in {201, 400, 404, 409, 413, 422}, reply.body
    if reply.status >= 400:
        assert set(reply.body["error"]) >= {"code", "message", "request_id"}


@FUZZ
@given(
    member=st.text(max_size=70).filter(lambda text: "/" not in text and "?" not in text),
    query=st.lists(st.tuples(st.text(max_size=10), st.text(max_size=30)), max_size=4),
)
def test_no_path_or_query_is_a_server_error(
    starlodge: SignedCaller, member: str, query: list[tuple[str, str]]
) -> None:
    # Given any member id and any query string
    from urllib.parse import quote, urlencode

    # When starlodge asks, signed, for that member's transactions
    path = f"/v1/members/{quote(member, safe='')}/transactions"
    raw_query = urlencode(query)
    request = signed(starlodge.key, "GET", path, raw_query, b"")
    reply = send(starlodge.handler, request)
    # Then the answer is the history, not found, or a validation error, never a 5xx
    assert_no_server_error(reply, f"GET {path}?{raw_query}")
    assert reply.status in {200, 404, 422}, reply.body
