"""Onboarding over HTTP on the local network: docs/signing.md's script, the SDK and the CLI."""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pointsnet import cli
from pointsnet.client import PointsNetClient, PointsNetError
from pointsnet.local.runtime import LocalNetwork, local_network

REPO_ROOT = Path(__file__).resolve().parents[2]
SIGNING_DOC = REPO_ROOT / "docs" / "signing.md"


def doc_block(name: str) -> str:
    """The fenced block that follows `<!-- test: NAME -->` in docs/signing.md."""
    text = SIGNING_DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- test: {name} -->\n```\w+\n(.*?)```", text, re.S)
    assert found, f"docs/signing.md has no block marked {name}"
    return found.group(1)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like the repository after `make run`: .pointsnet/local.json in it."""
    return tmp_path_factory.mktemp("repo")


@pytest.fixture(scope="module")
def network(workspace: Path) -> Iterator[LocalNetwork]:
    """Given a local network of its own, so these tests' members meet no one else's."""
    with local_network(
        port=0, workers=1, credentials_path=workspace / ".pointsnet" / "local.json"
    ) as running:
        yield running


def run_script(script: str, cwd: Path, env: dict[str, str]) -> str:
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("POINTSNET_", "AWS_"))
    }
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def as_get_of_member(script: str) -> str:
    """The shell example changed as docs/signing.md says for a GET: no body, no key."""
    changes = (
        ("METHOD=POST", "METHOD=GET"),
        ("REQUEST_PATH=/v1/members/guest-42/earn", "REQUEST_PATH=/v1/members/guest-42"),
        ("""BODY='{"points": 100, "reference": "stay-1"}'""", "BODY=''"),
        ("IDEMPOTENCY_KEY=earn-stay-1", "IDEMPOTENCY_KEY=''"),
        ('  -H "Idempotency-Key: $IDEMPOTENCY_KEY" \\\n', ""),
        ('  --data-binary "$BODY"', ""),
    )
    for old, new in changes:
        assert old in script, f"the shell example no longer has {old!r}"
        script = script.replace(old, new)
    return script


def status_line(output: str) -> str:
    return output.splitlines()[0].strip()


def response_body(output: str) -> Any:
    """The JSON after curl -i's headers (text mode has turned CRLF into LF)."""
    return json.loads(output.split("\n\n", 1)[1])


# docs/signing.md


def test_the_worked_example_block_prints_the_contract_signature(tmp_path: Path) -> None:
    # Given the worked example in docs/signing.md
    # When its script is run as a partner would run it
    printed = run_script(doc_block("worked-example"), tmp_path, {})
    # Then it prints the signature the contract gives for that example
    assert printed.strip() == "v1=3d16da4d5410c5db84247aa36990d2eecc6f810bd441501f28f840eba8d2df8e"


def test_the_v2_worked_example_block_prints_the_contract_signature(tmp_path: Path) -> None:
    # Given the v2 block with Idempotency-Key order-1-attempt-7; When run; Then the contract's v2
    printed = run_script(doc_block("worked-example-v2"), tmp_path, {})
    assert printed.strip() == "v2=5d43f93a77c7b99d5ce553e2399e5f0374a69a972d57c0c7ce6e96df790f6d7c"


def test_the_shell_example_earns_with_the_key_make_run_wrote(
    network: LocalNetwork, workspace: Path
) -> None:
    # Given docs/signing.md's script, as written, run where .pointsnet/local.json is
    script = doc_block("shell-example")
    # When it is run
    first = run_script(script, workspace, {})
    # Then the earn is created
    assert status_line(first).startswith("HTTP/1.1 201"), first
    body = response_body(first)
    assert body["balance"]["available"] == 100
    # And running it again replays that answer and posts nothing more
    again = run_script(script, workspace, {})
    assert status_line(again).startswith("HTTP/1.1 201"), again
    assert "idempotent-replayed: true" in again.lower()
    member = network.client("starlodge").get_member("guest-42")
    assert member["balance"]["available"] == 100


def test_the_shell_example_takes_its_key_from_the_environment(
    network: LocalNetwork, tmp_path: Path
) -> None:
    # Given a new partner's key in POINTSNET_* variables and no credentials file around
    admin = network.client("network", "admin")
    admin.create_partner("envcafe", "Env Cafe", "ENVC", "0.001")
    key = admin.issue_key("envcafe")
    env = {
        "POINTSNET_BASE_URL": network.base_url,
        "POINTSNET_KEY_ID": key["key_id"],
        "POINTSNET_SECRET": key["secret"],
    }
    # And the partner made v2-only, so only a v2 signature can pass
    admin.set_signing("envcafe", 2)
    # When the script runs; Then the earn is created at that partner
    output = run_script(doc_block("shell-example"), tmp_path, env)
    assert status_line(output).startswith("HTTP/1.1 201"), output
    assert response_body(output)["transaction"]["program"] == "ENVC"
    # And the script's GET variant (no Idempotency-Key: an empty seventh line) reads it back
    listing = as_get_of_member(doc_block("shell-example"))
    read = run_script(listing, tmp_path, env)
    assert status_line(read).startswith("HTTP/1.1 200"), read
    assert response_body(read)["balance"]["available"] == 100


# the SDK: a lost response is retried with the same Idempotency-Key


@dataclass
class Forwarded:
    method: str
    path: str
    idempotency_key: str | None
    status: int
    dropped: bool


class LosingProxy:
    """Forwards to the API, and for the first `drop` POSTs hangs up instead of answering.

    The API has processed each dropped request: only its answer is lost on the way back.
    """

    def __init__(self, upstream: str, drop: int = 1) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.drop = drop
        self.forwarded: list[Forwarded] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> LosingProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        headers = {name: value for name, value in handler.headers.items() if name != "Host"}
        connection = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            connection.request(handler.command, handler.path, body=body, headers=headers)
            answer = connection.getresponse()
            payload = answer.read()
        finally:
            connection.close()
        dropped = handler.command == "POST" and self.drop > 0
        self.forwarded.append(
            Forwarded(
                handler.command,
                handler.path,
                handler.headers.get("Idempotency-Key"),
                answer.status,
                dropped,
            )
        )
        if dropped:
            self.drop -= 1
            handler.close_connection = True
            return
        handler.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy._forward(self)

            do_POST = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def through(proxy: LosingProxy, network: LocalNetwork, partner: str, role: str) -> PointsNetClient:
    key = network.key(partner, role)
    return PointsNetClient(proxy.base_url, key["key_id"], key["secret"], sleep=lambda _: None)


def test_an_earn_whose_response_is_lost_posts_exactly_once(network: LocalNetwork) -> None:
    with LosingProxy(network.base_url, drop=1) as proxy:
        # Given a partner whose first answer is lost after the API posted the earn
        client = through(proxy, network, "starlodge", "partner")
        # When the SDK earns
        answer = client.earn("lost-1", 250, "order-lost-1")
    # Then it retried once with the same Idempotency-Key and got the first answer back
    posts = [request for request in proxy.forwarded if request.method == "POST"]
    assert [(request.status, request.dropped) for request in posts] == [(201, True), (201, False)]
    assert posts[0].idempotency_key == posts[1].idempotency_key
    assert answer["balance"]["available"] == 250
    # And exactly one earn exists
    history = network.client("starlodge").list_transactions("lost-1")
    assert [item["points"] for item in history["items"]] == [250]


def test_a_partner_creation_whose_response_is_lost_creates_one_partner(
    network: LocalNetwork,
) -> None:
    # Given a proxy that loses the answer to the first POST, after the API has processed it
    with LosingProxy(network.base_url, drop=1) as proxy:
        # When the operator creates a partner through it, and the client retries
        admin = through(proxy, network, "network", "admin")
        created = admin.create_partner("lostcafe", "Lost Cafe", "LOST", "0.002")
    # Then the retry is answered with the partner, both attempts were 201,
    # and the network has the partner once
    assert created["partner_id"] == "lostcafe"
    assert [request.status for request in proxy.forwarded] == [201, 201]
    partners = [p["partner_id"] for p in network.client("network", "admin").list_partners()]
    assert partners.count("lostcafe") == 1


def test_a_key_issuance_whose_response_is_lost_is_not_shown_twice(network: LocalNetwork) -> None:
    # Given an issued key whose answer (with the secret) was lost
    before = network.client("network", "admin").list_keys("rideco")
    with LosingProxy(network.base_url, drop=1) as proxy:
        admin = through(proxy, network, "network", "admin")
        # When the SDK retries; Then the API refuses to show the secret again
        with pytest.raises(PointsNetError) as refused:
            admin.issue_key("rideco")
    assert (refused.value.status, refused.value.code) == (409, "conflict")
    # And exactly one key was issued, which the operator can see and revoke
    after = network.client("network", "admin").list_keys("rideco")
    (new_key,) = [key for key in after if key not in before]
    assert new_key["key_id"] in refused.value.message
    revoked = network.client("network", "admin").revoke_key("rideco", new_key["key_id"])
    assert revoked["status"] == "revoked"


# the CLI


def test_an_operator_onboards_a_partner_with_the_cli(
    network: LocalNetwork,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an `ops` profile configured with the admin key
    for name in ("POINTSNET_BASE_URL", "POINTSNET_KEY_ID", "POINTSNET_SECRET", "POINTSNET_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POINTSNET_CONFIG_FILE", str(tmp_path / "config"))
    admin_key = network.key("network", "admin")
    monkeypatch.setattr("sys.stdin", io.StringIO(admin_key["secret"] + "\n"))
    configure = [
        "configure",
        "--profile",
        "ops",
        "--base-url",
        network.base_url,
        "--key-id",
        admin_key["key_id"],
        "--partner-id",
        "network",
        "--key-role",
        "admin",
    ]
    assert cli.main(configure) == 0
    capsys.readouterr()

    def pointsnet(*argv: str) -> Any:
        assert cli.main(["--profile", "ops", *argv, "--output", "json"]) == 0
        return json.loads(capsys.readouterr().out)

    # When it adds a partner and issues its key
    pointsnet(
        "partners",
        "create",
        "clicafe",
        "--name",
        "CLI Cafe",
        "--program",
        "CLIC",
        "--point-value",
        "0.003",
    )
    issued = pointsnet("keys", "issue", "clicafe")
    # Then the partner is listed, and its key earns
    assert "clicafe" in [item["partner_id"] for item in pointsnet("partners", "list")["items"]]
    cafe = PointsNetClient(network.base_url, issued["key_id"], issued["secret"])
    assert cafe.earn("m-1", 5, "r-1")["balance"]["available"] == 5
    # And revoking it shows it revoked in the listing
    pointsnet("keys", "revoke", "clicafe", issued["key_id"])
    (listed,) = pointsnet("keys", "list", "clicafe")["items"]
    assert (listed["key_id"], listed["status"]) == (issued["key_id"], "revoked")
