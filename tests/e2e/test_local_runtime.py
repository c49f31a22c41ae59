"""The Docker-free local runtime end to end: real HTTP, real signing, template.yaml's routes."""

from __future__ import annotations

import http.client
import json
import os
import re
import stat
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pointsnet import signing
from pointsnet.client import PointsNetClient
from pointsnet.local.http_front import MAX_REQUEST_BODY_BYTES
from pointsnet.local.local_api import LocalApi
from pointsnet.local.runtime import LocalNetwork
from pointsnet.local.seed import write_credentials
from pointsnet.local.template import load_template, resources_of_type

PLACEHOLDERS = {"member_id": "e2e-routes", "transaction_id": "txn_" + "a" * 26}


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str]
    raw: bytes
    cookies: list[str] = field(default_factory=list)

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def error_code(self) -> str | None:
        body = self.json
        return body["error"]["code"] if isinstance(body, dict) and "error" in body else None


def http_call(
    base_url: str,
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    key: dict[str, str] | None = None,
) -> HttpReply:
    """One raw HTTP request, signed with `key` (the credentials file's entry) when given."""
    sent = dict(headers or {})
    if key is not None:
        sent |= signing.sign_request(
            key["secret"], key["key_id"], method, path, query, body, int(time.time())
        )
    target = urlsplit(base_url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    try:
        connection.request(method, path + (f"?{query}" if query else ""), body or None, sent)
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        cookies = response.msg.get_all("Set-Cookie") or []
        return HttpReply(response.status, headers, response.read(), cookies)
    finally:
        connection.close()


def assert_error_envelope(reply: HttpReply, status: int, code: str) -> None:
    assert reply.status == status, reply.raw
    error = reply.json["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["request_id"]
    assert b"Traceback" not in reply.raw


def template_http_events() -> list[tuple[str, str]]:
    """(method, path) of every HttpApi event in template.yaml but the greedy fallback."""
    events = []
    for function in resources_of_type(load_template(), "AWS::Serverless::Function").values():
        for event in function["Properties"].get("Events", {}).values():
            path = event.get("Properties", {}).get("Path", "")
            if event.get("Type") == "HttpApi" and not path.endswith("+}"):
                events.append((event["Properties"]["Method"].upper(), path))
    return events


# -- the API from template.yaml ---------------------------------------------------------------


def test_health_answers_unsigned(local: LocalNetwork) -> None:
    """Given the local API / When GET /v1/health is sent unsigned / Then it answers 200 ok."""
    reply = http_call(local.base_url, "GET", "/v1/health")

    assert reply.status == 200
    assert reply.json == {"status": "ok"}
    assert reply.headers["content-type"].startswith("application/json")


def test_unsigned_earn_gets_missing_credentials(local: LocalNetwork) -> None:
    """Given no signature headers / When a partner earns / Then 401 missing_credentials."""
    body = json.dumps({"points": 10, "reference": "unsigned-1"}).encode()

    reply = http_call(
        local.base_url,
        "POST",
        "/v1/members/m-1/earn",
        body=body,
        headers={"Content-Type": "application/json", "Idempotency-Key": "unsigned-1"},
    )

    assert_error_envelope(reply, 401, "missing_credentials")


def test_signed_call_to_an_unknown_path_gets_route_not_found(local: LocalNetwork) -> None:
    """Given a valid signature / When the path is no route of the API / Then 404 route_not_found."""
    reply = http_call(local.base_url, "GET", "/v1/no-such-thing", key=local.key("starlodge"))

    assert_error_envelope(reply, 404, "route_not_found")


def test_a_path_outside_every_route_gets_the_api_envelope(local: LocalNetwork) -> None:
    """Given the template's routes / When `/`, which none matches, is called / Then a 404
    in the API's envelope."""
    reply = http_call(local.base_url, "GET", "/")

    assert_error_envelope(reply, 404, "route_not_found")


def test_earn_then_burn_then_member_over_http(local: LocalNetwork) -> None:
    """Given starlodge's key from the demo network / When it earns 100 and burns 30 over HTTP /
    Then each answer carries the balance after it and the member shows 70 available."""
    client = PointsNetClient(
        local.base_url, local.key("starlodge")["key_id"], local.key("starlodge")["secret"]
    )
    member = f"guest-{uuid.uuid4().hex[:10]}"

    earned = client.earn(member, 100, "stay-1")
    burned = client.burn(member, 30, "spa-1")
    view = client.get_member(member)

    assert earned["transaction"]["type"] == "earn"
    assert earned["balance"]["available"] == 100
    assert burned["transaction"]["type"] == "burn"
    assert burned["balance"]["available"] == 70
    assert view["member_id"] == member
    assert view["balance"] == {"program": "STAR", "available": 70, "pending": 0}


@pytest.mark.parametrize(("method", "path"), template_http_events())
def test_every_template_route_is_served(local: LocalNetwork, method: str, path: str) -> None:
    """Given an HttpApi event of template.yaml / When it is called signed /
    Then the API answers it: not route_not_found, and no internal error."""
    concrete = re.sub(r"\{(\w+)\}", lambda match: PLACEHOLDERS.get(match.group(1), "x"), path)
    method = "GET" if method == "ANY" else method
    posting = method in ("POST", "PUT", "PATCH")

    reply = http_call(
        local.base_url,
        method,
        concrete,
        body=b"{}" if posting else b"",
        headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())},
        key=local.key("starlodge"),
    )

    assert reply.error_code != "route_not_found", reply.raw
    assert reply.status < 500, reply.raw


def test_oversized_body_is_refused_at_the_http_layer(local: LocalNetwork) -> None:
    """Given a body announced over API Gateway's 10 MiB / When it is posted with Expect /
    Then 413 payload_too_large comes back before the body is sent."""
    target = urlsplit(local.base_url)
    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    try:
        connection.putrequest("POST", "/v1/members/m-1/earn")
        connection.putheader("Content-Length", str(MAX_REQUEST_BODY_BYTES + 1))
        connection.putheader("Expect", "100-continue")
        connection.endheaders()
        response = connection.getresponse()
        reply = HttpReply(response.status, dict(response.getheaders()), response.read())
    finally:
        connection.close()

    assert_error_envelope(reply, 413, "payload_too_large")


def test_demo_keys_follow_the_local_development_contract(local: LocalNetwork) -> None:
    """Given the seeded demo network / When its credentials are listed / Then it has the four
    keys API.md's local.json lists."""
    assert [(key["partner_id"], key.get("program"), key["role"]) for key in local.credentials] == [
        ("starlodge", "STAR", "partner"),
        ("rideco", "RIDE", "partner"),
        ("network", None, "finance"),
        ("network", None, "admin"),
    ]
    assert all(key["key_id"] and key["secret"] for key in local.credentials)


def test_credentials_file_is_private_and_in_the_contract_shape(
    local: LocalNetwork, tmp_path: Path
) -> None:
    """Given the demo keys / When the credentials file is written /
    Then only its owner may read it and it holds base_url and the keys."""
    path = write_credentials(
        tmp_path / ".pointsnet" / "local.json", local.base_url, local.credentials
    )

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"base_url": local.base_url, "keys": local.credentials}


# -- execution environments, on a stand-in function -------------------------------------------

ECHO_FUNCTION = """
import base64, json, os, threading, time

_in_flight = 0
_lock = threading.Lock()


def handler(event, context):
    global _in_flight
    with _lock:
        _in_flight += 1
        overlapped = _in_flight > 1
    try:
        path = event["rawPath"]
        if path == "/crash":
            os._exit(3)
        if path == "/raise":
            raise RuntimeError("a secret detail")
        if path == "/sleep":
            time.sleep(float(event["queryStringParameters"]["seconds"]))
        if path == "/binary":
            return {"statusCode": 200, "isBase64Encoded": True,
                    "body": base64.b64encode(bytes([0, 1, 2])).decode()}
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "cookies": ["a=1", "b=2"],
            "body": json.dumps({
                "pid": os.getpid(),
                "overlapped": overlapped,
                "request_id": context.aws_request_id,
                "remaining_ms": context.get_remaining_time_in_millis(),
                "greeting": os.environ.get("GREETING"),
            }),
        }
    finally:
        with _lock:
            _in_flight -= 1
"""


def echo_template(code_dir: Path) -> dict[str, Any]:
    return {
        "Globals": {
            "Function": {
                "Timeout": 1,
                "MemorySize": 256,
                "Environment": {"Variables": {"GREETING": "hello"}},
            }
        },
        "Resources": {
            "EchoFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": str(code_dir),
                    "Handler": "app.handler",
                    "Events": {
                        "Any": {
                            "Type": "HttpApi",
                            "Properties": {"Path": "/{proxy+}", "Method": "ANY"},
                        }
                    },
                },
            }
        },
    }


@pytest.fixture(scope="module")
def echo_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    code_dir = tmp_path_factory.mktemp("echo_function")
    (code_dir / "app.py").write_text(ECHO_FUNCTION, encoding="utf-8")
    return code_dir


@pytest.fixture(scope="module")
def echo_api(echo_code: Path) -> Iterator[str]:
    """Given a stand-in function served by two worker processes."""
    with LocalApi(echo_template(echo_code), {}, port=0, workers=2) as api:
        yield api.base_url


def test_a_worker_serves_one_request_at_a_time(echo_api: str) -> None:
    """Given two workers / When six slow requests arrive at once /
    Then no process ever runs two of them together, and no more than two processes serve them.

    Whether the second worker is up in time to take a share depends on the machine's load,
    so the test does not insist on it."""
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(
            pool.map(lambda _: http_call(echo_api, "GET", "/sleep", query="seconds=0.2"), range(6))
        )

    bodies = [reply.json for reply in replies]
    assert all(reply.status == 200 for reply in replies)
    assert not any(body["overlapped"] for body in bodies)
    assert 1 <= len({body["pid"] for body in bodies}) <= 2
    assert os.getpid() not in {body["pid"] for body in bodies}


def test_the_function_sees_its_environment_and_a_lambda_context(echo_api: str) -> None:
    """Given the template's environment / When the function runs /
    Then it reads its variables, the request id and its remaining time; cookies come back."""
    reply = http_call(echo_api, "GET", "/hello")

    body = reply.json
    assert body["greeting"] == "hello"
    assert body["request_id"] == reply.headers["apigw-requestid"]
    assert 0 < body["remaining_ms"] <= 1000
    assert reply.cookies == ["a=1", "b=2"]


def test_a_base64_body_is_decoded(echo_api: str) -> None:
    """Given a function answering isBase64Encoded / When it is called / Then the client gets
    the raw bytes."""
    assert http_call(echo_api, "GET", "/binary").raw == bytes([0, 1, 2])


def test_an_exception_in_the_function_never_leaks_into_the_response(echo_api: str) -> None:
    """Given a function that raises / When it is called / Then 500 internal_error, with no
    trace or message of it."""
    reply = http_call(echo_api, "GET", "/raise")

    assert_error_envelope(reply, 500, "internal_error")
    assert b"secret detail" not in reply.raw


def test_a_crashed_worker_is_replaced(echo_api: str) -> None:
    """Given a function that kills its process / When it is called and then called again /
    Then the first call gets 500 internal_error and the next is served by a fresh worker."""
    crashed = http_call(echo_api, "GET", "/crash")
    after = [http_call(echo_api, "GET", "/hello") for _ in range(3)]

    assert_error_envelope(crashed, 500, "internal_error")
    assert all(reply.status == 200 for reply in after)


def test_a_function_over_its_timeout_is_stopped(echo_api: str) -> None:
    """Given a 1 s Timeout in the template / When the function sleeps 5 s /
    Then the caller gets 500 after about 1 s and the API keeps serving."""
    started = time.monotonic()
    reply = http_call(echo_api, "GET", "/sleep", query="seconds=5")
    elapsed = time.monotonic() - started

    assert_error_envelope(reply, 500, "internal_error")
    assert elapsed < 4
    assert http_call(echo_api, "GET", "/hello").status == 200


def test_workers_zero_runs_in_process_and_restores_the_environment(echo_code: Path) -> None:
    """Given workers=0 / When a request is served / Then it ran in this process with the
    function's environment, which is gone again once the API stops."""
    assert "GREETING" not in os.environ

    with LocalApi(echo_template(echo_code), {}, port=0, workers=0) as api:
        body = http_call(api.base_url, "GET", "/hello").json

    assert body["pid"] == os.getpid()
    assert body["greeting"] == "hello"
    assert "GREETING" not in os.environ
