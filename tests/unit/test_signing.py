"""The PN1-HMAC-SHA256 scheme, pinned by vectors computed outside Python."""

from __future__ import annotations

import pytest

from pointsnet import signing

# Expected digests and signatures below were computed once with
#   printf '%s' "$BODY" | sha256sum
#   printf '%s' "$STRING_TO_SIGN" | openssl dgst -sha256 -hmac "$SECRET"
# and are hard-coded so the tests never check the implementation against itself.

WORKED_EXAMPLE_BODY = b'{"points": 100, "reference": "order-1"}'
WORKED_EXAMPLE_STRING_TO_SIGN = (
    "PN1-HMAC-SHA256\n"
    "1767225600\n"
    "POST\n"
    "/v1/members/m-1/earn\n"
    "a=1&a=x%20y&b=2\n"
    "962f80256acdcc7142da2e41a40d541389049eae158225f28ea96dea733988ef"
)
WORKED_EXAMPLE_SIGNATURE = "v1=3d16da4d5410c5db84247aa36990d2eecc6f810bd441501f28f840eba8d2df8e"

EMPTY_BODY_DIGEST = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
GET_STRING_TO_SIGN = f"PN1-HMAC-SHA256\n1767229200\nGET\n/v1/members/m-1\n\n{EMPTY_BODY_DIGEST}"
GET_SIGNATURE = "v1=4f642d0869a30379863a5bc8575499d2ce1a2a91222b4e4c1b0240c6a670377f"

UNICODE_SECRET = "sécret-ключ"
UNICODE_BODY = '{"reason":"café"}'.encode()
UNICODE_RAW_QUERY = "tag=z&cursor=a%2Fb%3D%3D&tag=a+b&note=caf%C3%A9%20%26%20th%C3%A9&flag&tag=%7e"
UNICODE_CANONICAL_QUERY = (
    "cursor=a%2Fb%3D%3D&flag=&note=caf%C3%A9%20%26%20th%C3%A9&tag=a%2Bb&tag=z&tag=~"
)
UNICODE_STRING_TO_SIGN = (
    "PN1-HMAC-SHA256\n"
    "1767232800\n"
    "POST\n"
    "/v1/transactions/tx-1/reverse\n"
    f"{UNICODE_CANONICAL_QUERY}\n"
    "d21692c9caa6eaefa325c468c55373a0558a6548744e0e9e9bc6a63daf25d64a"
)
UNICODE_SIGNATURE = "v1=93fc67251973faf86a6d06a0f7a13b224ac50c83ad5d68b9a5518ede85d467b1"


def test_given_the_api_md_worked_example_when_building_the_string_to_sign_then_it_matches():
    # Given API.md's worked example, its query in canonical form
    canonical = signing.canonical_query("b=2&a=x%20y&a=1")

    # When the string to sign is built
    result = signing.string_to_sign(
        "1767225600", "POST", "/v1/members/m-1/earn", canonical, WORKED_EXAMPLE_BODY
    )

    # Then it is API.md's, verbatim
    assert result == WORKED_EXAMPLE_STRING_TO_SIGN


def test_given_the_api_md_worked_example_when_signing_then_the_signature_is_the_published_one():
    # Given the worked example's string to sign and the secret s3cr3t
    # When it is signed; Then API.md's signature results
    assert signing.sign("s3cr3t", WORKED_EXAMPLE_STRING_TO_SIGN) == WORKED_EXAMPLE_SIGNATURE


def test_given_the_worked_example_when_sign_request_then_the_three_headers_are_returned():
    # Given the worked example's inputs
    # When sign_request runs
    headers = signing.sign_request(
        "s3cr3t",
        "key-1",
        "post",
        "/v1/members/m-1/earn",
        "b=2&a=x%20y&a=1",
        WORKED_EXAMPLE_BODY,
        1767225600,
    )

    # Then it returns the key id, timestamp and signature headers
    assert headers == {
        "X-PN-Key-Id": "key-1",
        "X-PN-Timestamp": "1767225600",
        "X-PN-Signature": WORKED_EXAMPLE_SIGNATURE,
    }


def test_given_a_get_with_no_query_and_no_body_when_signing_then_it_matches_openssl():
    # Given a GET with no query and an empty body
    # When it is signed
    headers = signing.sign_request(
        "another-secret", "key-2", "GET", "/v1/members/m-1", "", b"", "1767229200"
    )

    # Then the query line is empty, and digest and signature are openssl's
    assert signing.body_digest(b"") == EMPTY_BODY_DIGEST
    assert (
        signing.string_to_sign("1767229200", "GET", "/v1/members/m-1", "", b"")
        == GET_STRING_TO_SIGN
    )
    assert headers["X-PN-Signature"] == GET_SIGNATURE


def test_given_reserved_unicode_and_repeated_names_when_signing_then_it_matches_openssl():
    # Given a query with reserved and non-ASCII characters, a UTF-8 body and a UTF-8 secret
    # When the query is canonicalised and the request signed
    canonical = signing.canonical_query(UNICODE_RAW_QUERY)
    headers = signing.sign_request(
        UNICODE_SECRET,
        "key-3",
        "POST",
        "/v1/transactions/tx-1/reverse",
        UNICODE_RAW_QUERY,
        UNICODE_BODY,
        1767232800,
    )

    # Then the canonical query, string to sign and signature match openssl's
    assert canonical == UNICODE_CANONICAL_QUERY
    assert (
        signing.string_to_sign(
            "1767232800", "POST", "/v1/transactions/tx-1/reverse", canonical, UNICODE_BODY
        )
        == UNICODE_STRING_TO_SIGN
    )
    assert headers["X-PN-Signature"] == UNICODE_SIGNATURE


def test_given_decoded_pairs_when_canonicalising_then_it_equals_the_raw_query_form():
    # Given the decoded pairs a server receives for the unicode query
    pairs = [
        ("tag", "z"),
        ("cursor", "a/b=="),
        ("tag", "a+b"),
        ("note", "café & thé"),
        ("flag", ""),
        ("tag", "~"),
    ]

    # When they are canonicalised; Then they give the raw query's canonical form
    assert signing.canonical_query_from_pairs(pairs) == UNICODE_CANONICAL_QUERY


def test_given_unsorted_names_and_values_when_canonicalising_then_sorted_by_name_then_value():
    # Given names and repeated values out of order
    # When canonicalised; Then pairs sort by name, then by value
    assert signing.canonical_query("z=1&b=2&a=b&a=a&b=1") == "a=a&a=b&b=1&b=2&z=1"


def test_given_a_space_when_canonicalising_then_it_is_percent_20_and_unreserved_stay():
    # Given a space (raw or decoded), and every kind of unreserved character
    unreserved = "AZaz09-._~"

    # When canonicalised; Then the space becomes %20 and A-Za-z0-9-._~ are left as they are
    assert signing.canonical_query_from_pairs([("q", "a b")]) == "q=a%20b"
    assert signing.canonical_query("q=a%20b") == "q=a%20b"
    assert signing.canonical_query_from_pairs([(unreserved, unreserved)]) == (
        f"{unreserved}={unreserved}"
    )


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("", ""),
        ("?", ""),
        ("flag", "flag="),
        ("a=1&&b=2", "a=1&b=2"),
        ("a=x+y", "a=x%2By"),
        ("a=%2b", "a=%2B"),
        ("a=%41%7e", "a=A~"),
        ("a=1=2", "a=1%3D2"),
        ("a=%ff", "a=%FF"),
        ("a=%zz", "a=%25zz"),
    ],
)
def test_given_edge_case_raw_queries_when_canonicalising_then_they_normalise(
    raw: str, canonical: str
):
    # Given a raw query edge case
    # When canonicalised; Then escapes are re-encoded upper case and `+` stays a plus
    assert signing.canonical_query(raw) == canonical


def test_given_a_valid_signature_when_one_character_changes_then_it_no_longer_matches():
    # Given the worked example's signature, which matches
    assert signing.signature_matches(
        "s3cr3t", WORKED_EXAMPLE_STRING_TO_SIGN, WORKED_EXAMPLE_SIGNATURE
    )
    # When any single character of it changes; Then it is refused
    for index, char in enumerate(WORKED_EXAMPLE_SIGNATURE):
        tampered = (
            WORKED_EXAMPLE_SIGNATURE[:index]
            + ("0" if char != "0" else "1")
            + WORKED_EXAMPLE_SIGNATURE[index + 1 :]
        )
        assert not signing.signature_matches("s3cr3t", WORKED_EXAMPLE_STRING_TO_SIGN, tampered)


def test_given_a_changed_string_to_sign_or_secret_when_matching_then_it_is_refused():
    # Given a one-character change to the signed string, or to the secret
    altered = WORKED_EXAMPLE_STRING_TO_SIGN.replace("m-1", "m-2")

    # When the worked example's signature is matched against them; Then it is refused
    assert not signing.signature_matches("s3cr3t", altered, WORKED_EXAMPLE_SIGNATURE)
    assert not signing.signature_matches(
        "s3cr3T", WORKED_EXAMPLE_STRING_TO_SIGN, WORKED_EXAMPLE_SIGNATURE
    )


def test_given_non_ascii_or_truncated_signatures_when_matching_then_refused_without_error():
    # Given garbage in the signature header
    # When it is matched; Then the comparison is False, never an error
    for presented in ("", "v1=", "v1=é", WORKED_EXAMPLE_SIGNATURE[:-1], "v2=" + "0" * 64):
        assert not signing.signature_matches("s3cr3t", WORKED_EXAMPLE_STRING_TO_SIGN, presented)


@pytest.mark.parametrize(
    ("timestamp", "fresh"),
    [
        ("1767225600", True),
        ("1767225900", True),
        ("1767225300", True),
        ("1767225901", False),
        ("1767225299", False),
        ("1767225600.0", False),
        ("-1", False),
        ("", False),
        ("\uff11\uff12\uff13", False),  # full-width digits pass str.isdigit()
    ],
)
def test_given_timestamps_around_the_window_when_checking_freshness_then_300_s_either_way(
    timestamp: str, fresh: bool
):
    # Given a server clock at 1767225600 and a presented timestamp
    # When its freshness is checked; Then only whole seconds within 300 s are fresh
    assert signing.timestamp_is_fresh(timestamp, now=1767225600.0) is fresh


def test_given_the_scheme_constants_when_read_then_they_are_the_documented_names():
    # Given the signing module's constants
    # When they are read; Then they spell the headers and algorithm of API.md
    assert signing.KEY_ID_HEADER == "X-PN-Key-Id"
    assert signing.TIMESTAMP_HEADER == "X-PN-Timestamp"
    assert signing.SIGNATURE_HEADER == "X-PN-Signature"
    assert signing.ALGORITHM == "PN1-HMAC-SHA256"
    assert signing.MAX_CLOCK_SKEW_SECONDS == 300
