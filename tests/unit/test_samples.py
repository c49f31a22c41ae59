"""pointsnet.local.samples: a stale sample comes out signed now with the right local key."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from pointsnet import signing
from pointsnet.auth.authenticate import SignedRequest, authenticate
from pointsnet.auth.caller import Caller, Role
from pointsnet.auth.keys import ActiveKey
from pointsnet.errors import StaleTimestamp
from pointsnet.local.samples import (
    SAMPLES_DIR,
    all_samples,
    body_bytes,
    find_sample,
    fresh_event,
    main,
    resign,
)

SECRET = "pns_unit-test-secret"
LOCAL_KEYS = [
    {"partner_id": "starlodge", "program": "STAR", "role": "partner", "key_id": "pnk_star"},
    {"partner_id": "rideco", "program": "RIDE", "role": "partner", "key_id": "pnk_ride"},
    {"partner_id": "network", "role": "finance", "key_id": "pnk_finance"},
    {"partner_id": "network", "role": "admin", "key_id": "pnk_admin"},
]


class OneKey:
    """A key resolver that knows one key."""

    def __init__(self, key_id: str, secret: str) -> None:
        self.active = ActiveKey(
            caller=Caller(partner_id="starlodge", key_id=key_id, role=Role.PARTNER), secret=secret
        )

    def resolve(self, key_id: str) -> ActiveKey | None:
        return self.active if key_id == self.active.caller.key_id else None


def verified(event: dict[str, Any], key_id: str, secret: str, now: float) -> Caller:
    """Verify an HTTP API event's signature as the API does."""
    request = SignedRequest(
        method=event["requestContext"]["http"]["method"],
        path=event["rawPath"],
        raw_query=event.get("rawQueryString", ""),
        headers=event["headers"],
        body=body_bytes(event),
    )
    return authenticate(request, OneKey(key_id, secret), now)  # type: ignore[arg-type]


def unsigned_headers(event: dict[str, Any]) -> dict[str, str]:
    return {name: value for name, value in event["headers"].items() if not name.startswith("x-pn-")}


@pytest.fixture
def local_file(tmp_path: Path) -> Path:
    """Given a .pointsnet/local.json like the one `make run` writes."""
    path = tmp_path / ".pointsnet" / "local.json"
    path.parent.mkdir()
    keys = [key | {"secret": f"{SECRET}-{key['key_id']}"} for key in LOCAL_KEYS]
    path.write_text(json.dumps({"base_url": "http://127.0.0.1:3000", "keys": keys}))
    return path


@pytest.mark.parametrize("name", ["partner_api/earn", "partner_api/history"])
def test_a_re_signed_sample_verifies_now_where_the_stored_one_is_stale(name: str) -> None:
    # Given a stored sample, signed long ago
    stored = find_sample(name).load()
    now = time.time()
    with pytest.raises(StaleTimestamp):
        verified(stored, stored["headers"]["x-pn-key-id"], SECRET, now)
    # When it is re-signed now with a key
    event = resign(stored, "pnk_star", SECRET, now)
    # Then its signature verifies against the current time and that key's secret
    assert verified(event, "pnk_star", SECRET, now).key_id == "pnk_star"
    assert event["headers"][signing.TIMESTAMP_HEADER.lower()] == str(int(now))
    assert event["requestContext"]["timeEpoch"] == int(now * 1000)
    # And the request itself is unchanged: method, path, query, body and other headers
    for field in ("rawPath", "rawQueryString", "body", "routeKey", "pathParameters"):
        assert event.get(field) == stored.get(field)
    assert unsigned_headers(event) == unsigned_headers(stored)
    # And the stored sample was not touched
    assert stored == find_sample(name).load()


@pytest.mark.parametrize(
    ("name", "options", "key_id"),
    [
        ("earn", {}, "pnk_star"),
        ("earn", {"partner": "rideco"}, "pnk_ride"),
        ("earn", {"role": "admin"}, "pnk_admin"),
        ("list_partners", {}, "pnk_admin"),
        ("list_settlements", {}, "pnk_finance"),
    ],
)
def test_the_local_key_is_picked_by_the_samples_function(
    local_file: Path, name: str, options: dict[str, str], key_id: str
) -> None:
    # Given the local credentials file; When a sample is freshened, maybe with an override
    now = time.time()
    event = fresh_event(find_sample(name), credentials_file=local_file, now=now, **options)
    # Then the key of the function's role (or the one asked for) signed it, verifiably
    assert event["headers"]["x-pn-key-id"] == key_id
    assert verified(event, key_id, f"{SECRET}-{key_id}", now).key_id == key_id


def test_the_command_prints_a_re_signed_event(
    local_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a working directory under the local file's folder, as with `make event`
    monkeypatch.chdir(local_file.parent.parent)
    # When the earn sample is asked for
    assert main(["earn"]) == 0
    # Then stdout is the event, signed now with starlodge's local key
    event = json.loads(capsys.readouterr().out)
    assert event["headers"]["x-pn-key-id"] == "pnk_star"
    assert verified(event, "pnk_star", f"{SECRET}-pnk_star", time.time())


def test_an_unsigned_sample_prints_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the schedule's sample; When it is asked for, with no credentials file anywhere
    assert main(["reconciliation/scheduled"]) == 0
    # Then it is printed exactly as stored
    stored = (SAMPLES_DIR / "reconciliation" / "scheduled.json").read_text(encoding="utf-8")
    assert capsys.readouterr().out == stored


def test_list_names_every_sample_and_its_function(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the sample events under events/
    # When the samples are listed
    assert main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Then each file of events/ is a line, with the template function it is for
    files = sorted(
        path.relative_to(SAMPLES_DIR).with_suffix("").as_posix()
        for path in SAMPLES_DIR.glob("*/*.json")
    )
    assert [line.split()[0] for line in lines] == files == [s.name for s in all_samples()]
    assert dict(line.split() for line in lines)["partner_api/earn"] == "PartnerApiFunction"
    assert dict(line.split() for line in lines)["events/ledger_stream"] == "EventsFunction"


def test_an_unknown_sample_or_a_missing_key_is_a_usage_error(
    local_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a local credentials file with no admin key for partner rideco
    # When no sample has the name, or the local file has no key for the partner asked for
    unknown = main(["no-such-sample"])
    no_key = main(["list_partners", "--partner", "rideco", "--credentials", str(local_file)])
    # Then both exit 2 and say why on stderr, printing nothing on stdout
    captured = capsys.readouterr()
    assert (unknown, no_key, captured.out) == (2, 2, "")
    assert "no sample 'no-such-sample'" in captured.err
    assert "no key for partner rideco and role admin" in captured.err
