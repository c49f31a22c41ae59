"""The `pointsnet` command line, driven through main() with an injected client."""

from __future__ import annotations

import argparse
import io
import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pointsnet import cli
from pointsnet.cli import CommandOutput, Commands, GlobalOptions, main, render_table
from pointsnet.client import ApiResponse, PointsNetClient, PointsNetError
from pointsnet.credentials import CredentialsError, resolve_credentials


@dataclass
class Call:
    method: str
    path: str
    query: Any
    json_body: Any
    idempotency_key: str | None


class RecordingClient(PointsNetClient):
    """The real typed methods over a `request` that records calls and answers from a script."""

    def __init__(self) -> None:
        super().__init__("http://pointsnet.invalid/Prod", "k-test", "secret")
        self.calls: list[Call] = []
        self.answers: deque[Any] = deque()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Any = None,
        json_body: Any = None,
        idempotency_key: str | None = None,
        signed: bool = True,
    ) -> ApiResponse:
        self.calls.append(Call(method, path, query, json_body, idempotency_key))
        answer = self.answers.popleft() if self.answers else {}
        if isinstance(answer, PointsNetError):
            raise answer
        return ApiResponse(status=200, headers={}, body=answer)


class Harness:
    def __init__(self) -> None:
        self.client = RecordingClient()
        self.options: list[GlobalOptions] = []

    def factory(self, options: GlobalOptions) -> PointsNetClient:
        self.options.append(options)
        return self.client

    def run(self, *argv: str) -> int:
        return main(list(argv), client_factory=self.factory)


POSTED = {
    "transaction": {
        "transaction_id": "tx-1",
        "type": "earn",
        "program": "STAR",
        "points": 100,
        "partner_id": "starlodge",
        "member_id": "m-1",
        "reference": "order-1",
        "status": "posted",
        "postings": [
            {"account": "program:STAR:issued", "points": -100},
            {"account": "member:starlodge:m-1", "points": 100},
        ],
    },
    "balance": {"program": "STAR", "available": 1100, "pending": 0},
}


@pytest.fixture
def harness() -> Harness:
    return Harness()


def test_given_earn_arguments_when_run_then_they_map_to_the_earn_request(harness: Harness):
    """Given every earn option, when run, then the POST body and idempotency key follow them."""
    # Given the API's answer to an earn
    harness.client.answers.append(POSTED)

    # When earn runs with every option
    code = harness.run(
        "earn",
        "m-1",
        "100",
        "--reference",
        "order-1",
        "--program",
        "RIDE",
        "--description",
        "Stay",
        "--pending",
        "--idempotency-key",
        "idem-1",
    )

    # Then each option is in the earn request
    assert code == 0
    assert harness.client.calls == [
        Call(
            "POST",
            "/v1/members/m-1/earn",
            None,
            {
                "points": 100,
                "reference": "order-1",
                "program": "RIDE",
                "description": "Stay",
                "pending": True,
            },
            "idem-1",
        )
    ]


def test_given_a_minimal_earn_when_run_then_optional_fields_are_left_out(harness: Harness):
    """Given only member, points and reference, then no optional field or key is sent."""
    # Given the API's answer to an earn
    harness.client.answers.append(POSTED)

    # When earn runs with only member, points and reference
    assert harness.run("earn", "m-1", "5", "--reference", "r-1") == 0

    # Then the body holds those two fields and no idempotency key is sent
    (call,) = harness.client.calls
    assert call.json_body == {"points": 5, "reference": "r-1"}
    assert call.idempotency_key is None


def test_given_earn_with_table_output_when_run_then_an_aligned_table_is_printed(
    harness: Harness, capsys: pytest.CaptureFixture[str]
):
    """Given the default output, when earning, then the transaction and balance are a table."""
    # Given the API's answer to an earn
    harness.client.answers.append(POSTED)

    # When earn runs with the default output
    harness.run("earn", "m-1", "100", "--reference", "order-1")

    # Then the transaction, signed, and the member's balance are printed as an aligned table
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "transaction_id  type  member_id  program  points  reference  status  available  pending",
        "--------------  ----  ---------  -------  ------  ---------  ------  ---------  -------",
        "tx-1            earn  m-1        STAR       +100  order-1    posted       1100        0",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["--output", "json", "burn", "m-1", "40", "--reference", "order-2"],
        ["burn", "m-1", "40", "--reference", "order-2", "-o", "json"],
    ],
)
def test_given_json_output_before_or_after_the_command_when_run_then_api_json_is_printed(
    harness: Harness, capsys: pytest.CaptureFixture[str], argv: list[str]
):
    """Given --output json on either side of the command, then the API's JSON is pretty-printed."""
    # Given the API's answer to a burn
    harness.client.answers.append(POSTED)

    # When burn runs with --output json before or after the command name
    assert harness.run(*argv) == 0

    # Then the API's JSON is pretty-printed, and the burn was requested
    out = capsys.readouterr().out
    assert json.loads(out) == POSTED
    assert out.startswith('{\n  "transaction": {')
    assert harness.client.calls[0].path == "/v1/members/m-1/burn"
    assert harness.client.calls[0].json_body == {"points": 40, "reference": "order-2"}


def test_given_balance_when_run_then_member_is_fetched_and_tier_shown_if_present(
    harness: Harness, capsys: pytest.CaptureFixture[str]
):
    """Given a member with a tier, then balance prints member, program, balance and tier."""
    # Given a member with a tier
    harness.client.answers.append(
        {
            "member_id": "m-1",
            "program": "STAR",
            "balance": {"program": "STAR", "available": 1100, "pending": 50},
            "tier": "gold",
            "links": [],
        }
    )

    # When balance runs for them
    assert harness.run("balance", "m-1") == 0

    # Then the member is fetched and printed with their tier
    assert harness.client.calls[0].method == "GET"
    assert harness.client.calls[0].path == "/v1/members/m-1"
    assert capsys.readouterr().out.splitlines() == [
        "member_id  program  available  pending  tier",
        "---------  -------  ---------  -------  ----",
        "m-1        STAR          1100       50  gold",
    ]


def test_given_history_with_a_limit_when_a_next_page_exists_then_the_footer_says_how_to_go_on(
    harness: Harness, capsys: pytest.CaptureFixture[str]
):
    """Given --limit 1 and a next_cursor, then one page is listed and the cursor is printed."""
    # Given a page of one transaction, with a next cursor
    harness.client.answers.append(
        {
            "items": [
                {
                    "transaction_id": "tx-2",
                    "type": "burn",
                    "program": "STAR",
                    "points": -40,
                    "reference": "order-2",
                    "status": "posted",
                    "created_at": "2026-01-01T00:00:00Z",
                }
            ],
            "next_cursor": "c-2",
        }
    )

    # When history runs with --limit 1
    assert harness.run("history", "m-1", "--limit", "1") == 0

    # Then one page is asked for and listed, and the footer gives the next page's command
    (call,) = harness.client.calls
    assert (call.method, call.path, call.query) == (
        "GET",
        "/v1/members/m-1/transactions",
        {"limit": 1, "cursor": None},
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "created_at",
        "transaction_id",
        "type",
        "program",
        "points",
        "reference",
        "status",
    ]
    assert lines[2].split() == [
        "2026-01-01T00:00:00Z",
        "tx-2",
        "burn",
        "STAR",
        "-40",
        "order-2",
        "posted",
    ]
    assert lines[-1] == "more: pointsnet history m-1 --cursor c-2"


def test_given_history_all_when_run_then_every_page_is_followed_into_one_json_list(
    harness: Harness, capsys: pytest.CaptureFixture[str]
):
    """Given --all and two pages, then both are fetched and printed as one `items` list."""
    # Given two pages of history
    harness.client.answers.extend(
        [
            {"items": [{"transaction_id": "tx-2"}], "next_cursor": "c-2"},
            {"items": [{"transaction_id": "tx-1"}], "next_cursor": None},
        ]
    )

    # When history runs with --all, as JSON
    assert harness.run("-o", "json", "history", "m-1", "--all", "--limit", "1") == 0

    # Then both pages are fetched and printed as one list
    assert [call.query for call in harness.client.calls] == [
        {"limit": 1, "cursor": None},
        {"limit": 1, "cursor": "c-2"},
    ]
    assert json.loads(capsys.readouterr().out) == {
        "items": [{"transaction_id": "tx-2"}, {"transaction_id": "tx-1"}],
        "next_cursor": None,
    }


def test_given_history_all_and_cursor_when_parsed_then_it_is_a_usage_error(
    harness: Harness, capsys: pytest.CaptureFixture[str]
):
    """Given both --all and --cursor, then argparse refuses with exit code 2 and no call."""
    # Given both --all and --cursor
    # When history runs with them
    # Then argparse refuses with exit code 2, and nothing is called
    assert harness.run("history", "m-1", "--all", "--cursor", "c") == 2
    assert harness.client.calls == []
    assert "not allowed with" in capsys.readouterr().err


def test_given_reverse_options_when_run_then_they_map_to_the_reverse_request(harness: Harness):
    """Given --points and --reason, then reverse posts them for that transaction."""
    # Given the API's answer to a reversal
    harness.client.answers.append({"transaction_id": "tx-9", "type": "reversal"})

    # When reverse runs with --points and --reason
    assert harness.run("reverse", "tx-1", "--points", "5", "--reason", "refund") == 0

    # Then they are posted for that transaction
    (call,) = harness.client.calls
    assert (call.method, call.path, call.json_body) == (
        "POST",
        "/v1/transactions/tx-1/reverse",
        {"points": 5, "reason": "refund"},
    )


def test_given_global_options_when_run_then_the_factory_receives_them(harness: Harness):
    """Given --profile, --partner and --role, then the client factory is asked with them."""
    # Given global options on both sides of the command name
    # When balance runs
    harness.run("--profile", "p", "--partner", "rideco", "balance", "m-1", "--role", "partner")

    # Then the client factory receives every one of them
    assert harness.options == [
        GlobalOptions(profile="p", partner="rideco", role="partner", output="table")
    ]


def test_given_an_api_error_when_run_then_it_is_printed_to_stderr_and_exit_code_is_1(
    harness: Harness, capsys: pytest.CaptureFixture[str]
):
    """Given a 409 insufficient_points, then stderr has code, message and request id."""
    # Given an API that refuses the burn
    harness.client.answers.append(
        PointsNetError(409, "insufficient_points", "available 10, asked 40", "req-7")
    )

    # When the burn runs
    code = harness.run("burn", "m-1", "40", "--reference", "order-2")

    # Then the error goes to stderr, nothing to stdout, and the exit code is 1
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert captured.err == "error: insufficient_points: available 10, asked 40 (request req-7)\n"


def test_given_a_credentials_error_when_run_then_exit_code_is_2(
    capsys: pytest.CaptureFixture[str],
):
    """Given no usable credentials, then the message goes to stderr and the exit code is 2."""

    # Given a client factory that finds no credentials
    def no_credentials(options: GlobalOptions) -> PointsNetClient:
        raise CredentialsError("no PointsNet credentials found")

    # When a command runs
    code = main(["balance", "m-1"], client_factory=no_credentials)

    # Then the exit code is 2 and stderr says why
    assert code == 2
    assert capsys.readouterr().err == "error: no PointsNet credentials found\n"


@pytest.mark.parametrize(
    ("argv", "code"),
    [([], 2), (["--help"], 0), (["earn", "m-1", "ten", "--reference", "r"], 2), (["nope"], 2)],
)
def test_given_no_or_bad_arguments_when_run_then_usage_exit_codes_are_returned(
    harness: Harness, argv: list[str], code: int
):
    """Given no command, --help, a non-integer or an unknown command, then no call is made."""
    # Given arguments that name no command to run
    # When they are run
    # Then the usage exit code is returned, and nothing is called
    assert harness.run(*argv) == code
    assert harness.client.calls == []


def test_given_the_default_factory_when_partner_is_given_then_the_local_key_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Given a repo with .pointsnet/local.json and no env or profile, when --partner rideco,
    then the default factory builds a client with rideco's key and base URL."""
    # Given a local.json with two partners' keys, no credentials in the environment
    # or a profile, and a working directory below the repository's root
    local = tmp_path / ".pointsnet" / "local.json"
    local.parent.mkdir()
    local.write_text(
        json.dumps(
            {
                "base_url": "http://127.0.0.1:3999",
                "keys": [
                    {"partner_id": "starlodge", "role": "partner", "key_id": "k-s", "secret": "s"},
                    {"partner_id": "rideco", "role": "partner", "key_id": "k-r", "secret": "r"},
                ],
            }
        ),
        encoding="utf-8",
    )
    for name in ("POINTSNET_BASE_URL", "POINTSNET_KEY_ID", "POINTSNET_SECRET", "POINTSNET_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POINTSNET_CONFIG_FILE", str(tmp_path / "no-config"))
    nested = tmp_path / "functions" / "partner_api"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)

    # When the default factory is asked for rideco's client
    client = cli.default_client_factory(GlobalOptions(partner="rideco"))

    # Then the client has rideco's key and the local base URL
    assert (client.base_url, client.key_id) == ("http://127.0.0.1:3999", "k-r")


def test_given_a_new_registrar_when_building_the_parser_then_it_joins_without_other_changes(
    harness: Harness, capsys: pytest.CaptureFixture[str]
):
    """Given an extra command registrar, then it parses with the global options like the rest."""

    # Given a registrar for a `sample` command
    def run_sample(client: PointsNetClient, args: argparse.Namespace) -> CommandOutput:
        return CommandOutput(
            data={"from": args.source}, rows=[{"from": args.source}], columns=["from"]
        )

    def add_sample(commands: Commands) -> None:
        parser = commands.add("sample", run_sample, "Show a rate.")
        parser.add_argument("source")

    # When the parser is built with it, and parses the command with global options
    parser = cli.build_parser([*cli.COMMANDS, add_sample])
    args = parser.parse_args(["sample", "STAR", "-o", "json", "--partner", "rideco"])

    # Then the command's own and the global options are parsed, and its handler runs
    assert (args.source, args.output, args.partner, args.profile) == (
        "STAR",
        "json",
        "rideco",
        None,
    )
    assert args.handler(harness.client, args).data == {"from": "STAR"}


def test_given_rows_of_mixed_values_when_rendering_then_columns_align_and_numbers_right_align():
    """Given strings, ints, None, bools and nested paths, then the table aligns every column."""
    # Given rows of strings, ints, None, bools and nested values
    rows = [
        {"id": "a", "n": 5, "ok": True, "balance": {"available": 10}},
        {"id": "longer-id", "n": 12345, "ok": None, "balance": {}},
    ]

    # When they are rendered as a table
    table = render_table(rows, ["id", "n", "ok", ("available", "balance.available")])

    # Then every column aligns, numbers to the right, and missing cells are blank
    assert table == (
        "id             n  ok    available\n"
        "---------  -----  ----  ---------\n"
        "a              5  true         10\n"
        "longer-id  12345\n"
    )


def test_given_no_rows_when_rendering_then_headers_and_none_are_printed():
    """Given an empty list, then the header is still printed, followed by (none)."""
    # Given no rows
    # When they are rendered
    # Then the header is printed, then (none)
    assert render_table([], ["id", "points"]) == "id  points\n--  ------\n(none)\n"


# -- admin commands ------------------------------------------------------------------------------

PARTNER = {
    "partner_id": "beancafe",
    "name": "Bean Cafe",
    "program": "BEAN",
    "point_value": "0.004",
    "currency": "USD",
    "created_at": "2026-01-01T00:00:00Z",
}
KEY = {
    "key_id": "pnk_1",
    "partner_id": "beancafe",
    "role": "partner",
    "status": "active",
    "created_at": "2026-01-01T00:00:00Z",
}


def test_given_partners_create_when_run_then_it_posts_the_partner_with_an_admin_key(
    harness: Harness, capsys: pytest.CaptureFixture[str]
):
    """Given the admin command, then the body maps the options and the admin key is asked for."""
    # Given the API's answer to a new partner
    harness.client.answers.append(PARTNER)

    # When the operator creates the partner
    code = harness.run(
        "partners",
        "create",
        "beancafe",
        "--name",
        "Bean Cafe",
        "--program",
        "BEAN",
        "--point-value",
        "0.004",
        "--idempotency-key",
        "onboard-1",
    )

    # Then the options are posted with the admin key, and the partner is printed
    assert code == 0
    (call,) = harness.client.calls
    assert (call.method, call.path, call.idempotency_key) == ("POST", "/v1/partners", "onboard-1")
    assert call.json_body == {
        "partner_id": "beancafe",
        "name": "Bean Cafe",
        "program": "BEAN",
        "point_value": "0.004",
    }
    assert harness.options[0].local_role == "admin"
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "partner_id",
        "name",
        "program",
        "point_value",
        "currency",
        "created_at",
    ]
    assert out[2].split() == [
        "beancafe",
        "Bean",
        "Cafe",
        "BEAN",
        "0.004",
        "USD",
        PARTNER["created_at"],
    ]


def test_given_partners_list_with_json_output_when_run_then_the_items_are_printed(
    harness: Harness, capsys: pytest.CaptureFixture[str]
):
    # Given the API's list of partners
    harness.client.answers.append({"items": [PARTNER]})

    # When the operator lists them as JSON
    assert harness.run("partners", "list", "-o", "json") == 0

    # Then the items are printed as the API answered them
    assert json.loads(capsys.readouterr().out) == {"items": [PARTNER]}
    assert (harness.client.calls[0].method, harness.client.calls[0].path) == ("GET", "/v1/partners")


def test_given_keys_issue_when_run_then_the_secret_is_shown_once_with_a_warning(
    harness: Harness, capsys: pytest.CaptureFixture[str]
):
    # Given the API's answer to a new finance key, its secret included
    harness.client.answers.append(KEY | {"role": "finance", "secret": "pns_shown_once"})

    # When the operator issues it
    assert harness.run("keys", "issue", "network", "--key-role", "finance") == 0

    # Then the role is posted, and the secret is printed with a warning that it is shown once
    (call,) = harness.client.calls
    assert (call.method, call.path, call.json_body) == (
        "POST",
        "/v1/partners/network/keys",
        {"role": "finance"},
    )
    out = capsys.readouterr().out
    assert "pns_shown_once" in out
    assert out.rstrip().endswith("Store the secret now: it is not shown again.")


def test_given_keys_list_and_revoke_when_run_then_get_and_delete_are_called(
    harness: Harness, capsys: pytest.CaptureFixture[str]
):
    # Given a partner's keys, and the revoked key the API answers next
    harness.client.answers.extend(
        [{"items": [KEY]}, KEY | {"status": "revoked", "revoked_at": "2026-01-02T00:00:00Z"}]
    )

    # When the operator lists the keys, then revokes one
    assert harness.run("keys", "list", "beancafe") == 0
    assert harness.run("keys", "revoke", "beancafe", "pnk_1", "--output", "json") == 0

    # Then a GET and a DELETE are sent, and the list and the revoked key are printed
    assert [(call.method, call.path) for call in harness.client.calls] == [
        ("GET", "/v1/partners/beancafe/keys"),
        ("DELETE", "/v1/partners/beancafe/keys/pnk_1"),
    ]
    out = capsys.readouterr().out
    assert "pnk_1   beancafe    partner  active" in out
    assert '"status": "revoked"' in out


def test_given_a_group_without_a_subcommand_when_run_then_its_usage_is_printed(
    harness: Harness, capsys: pytest.CaptureFixture[str]
):
    # Given a command group, `keys`
    # When it runs without a subcommand
    # Then its usage, naming its subcommands, is printed, and nothing is called
    assert harness.run("keys") == 2
    assert "issue" in capsys.readouterr().err
    assert harness.client.calls == []


def test_given_the_default_factory_for_an_admin_command_then_the_local_admin_key_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Given a local.json with partner, finance and admin keys, and no other credentials
    local = tmp_path / ".pointsnet" / "local.json"
    local.parent.mkdir()
    local.write_text(
        json.dumps(
            {
                "base_url": "http://127.0.0.1:3999",
                "keys": [
                    {"partner_id": "starlodge", "role": "partner", "key_id": "k-s", "secret": "s"},
                    {"partner_id": "network", "role": "finance", "key_id": "k-f", "secret": "f"},
                    {"partner_id": "network", "role": "admin", "key_id": "k-a", "secret": "a"},
                ],
            }
        ),
        encoding="utf-8",
    )
    for name in ("POINTSNET_BASE_URL", "POINTSNET_KEY_ID", "POINTSNET_SECRET", "POINTSNET_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POINTSNET_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.chdir(tmp_path)

    # When the default factory is asked for an admin command's client, and another's
    admin = cli.default_client_factory(GlobalOptions(local_role="admin"))
    partner = cli.default_client_factory(GlobalOptions())

    # Then the admin command gets the admin key, the other the partner key
    assert (admin.key_id, partner.key_id) == ("k-a", "k-s")


# -- configure -----------------------------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home" / ".pointsnet" / "config"
    monkeypatch.setenv("POINTSNET_CONFIG_FILE", str(path))
    return path


def answer_prompts(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


def test_given_configure_answers_when_run_then_a_private_default_profile_is_written(
    harness: Harness,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    """Given the answers on a piped stdin, then ~/.pointsnet/config gets [default], 0600."""
    # Given the answers to the prompts on a piped stdin
    answer_prompts(monkeypatch, "https://api.example.com/Prod", "pnk_1", "pns_secret", "", "")

    # When configure runs
    code = harness.run("configure", "--output", "json")

    # Then a [default] profile readable by its owner only is written, and no secret printed
    assert code == 0
    assert harness.options == []  # configure needs no credentials and calls no API
    assert config_file.read_text(encoding="utf-8") == (
        "[default]\nbase_url = https://api.example.com/Prod\nkey_id = pnk_1\n"
        "secret = pns_secret\n\n"
    )
    assert config_file.stat().st_mode & 0o777 == 0o600
    assert config_file.parent.stat().st_mode & 0o777 == 0o700
    captured = capsys.readouterr()
    assert "pns_secret" not in captured.out
    assert json.loads(captured.out)["profile"] == "default"
    assert "API key secret [None]: " in captured.err


def test_given_a_named_profile_when_configured_then_others_are_kept_and_it_resolves(
    harness: Harness, config_file: Path, monkeypatch: pytest.MonkeyPatch
):
    """Given a default profile, when --profile staging is configured with flags, then both exist
    and the new one is what resolve_credentials finds."""
    # Given a default profile
    answer_prompts(monkeypatch, "https://api.example.com/Prod", "pnk_1", "pns_1", "", "")
    harness.run("configure")
    # When a staging profile is configured with flags, its secret answered at the prompt
    answer_prompts(monkeypatch, "pns_staging")
    harness.run(
        "configure",
        "--profile",
        "staging",
        "--base-url",
        "https://staging.example.com/Stage",
        "--key-id",
        "pnk_2",
        "--partner-id",
        "network",
        "--key-role",
        "admin",
    )

    # Then both profiles are in the file, and the staging one resolves to what was given
    text = config_file.read_text(encoding="utf-8")
    assert "[default]" in text and "[profile staging]" in text
    staging = resolve_credentials(profile="staging", env={}, config_file=config_file)
    assert (staging.base_url, staging.key_id, staging.secret.get_secret_value()) == (
        "https://staging.example.com/Stage",
        "pnk_2",
        "pns_staging",
    )
    assert (staging.partner_id, staging.role) == ("network", "admin")


def test_given_an_existing_profile_when_enter_is_pressed_then_current_values_are_kept(
    harness: Harness,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    # Given a default profile, and answers that change only the key id
    answer_prompts(monkeypatch, "https://api.example.com/Prod", "pnk_1", "pns_secret1234", "", "")
    harness.run("configure")
    answer_prompts(monkeypatch, "", "pnk_2", "", "", "")

    # When configure runs again
    harness.run("configure")

    # Then the key id changes, and every value answered with Enter is kept
    values = resolve_credentials(env={}, config_file=config_file)
    assert (values.base_url, values.key_id, values.secret.get_secret_value()) == (
        "https://api.example.com/Prod",
        "pnk_2",
        "pns_secret1234",
    )
    # And the secret prompt shows only its last four characters
    assert "API key secret [****1234]: " in capsys.readouterr().err


def test_given_no_secret_when_configuring_then_nothing_is_written_and_exit_code_is_2(
    harness: Harness,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    # Given no answers to the prompts, so no secret
    answer_prompts(monkeypatch)

    # When configure runs with only a base URL and a key id
    code = harness.run("configure", "--base-url", "https://api.example.com", "--key-id", "k")

    # Then it exits 2, saying the secret is missing, and writes nothing
    assert code == 2
    assert "needs secret" in capsys.readouterr().err
    assert not config_file.exists()


def test_given_a_bad_base_url_flag_when_configuring_then_it_is_refused_before_any_prompt(
    harness: Harness,
    config_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    # Given answers ready on stdin for every prompt
    answer_prompts(monkeypatch, "pnk_1", "pns_secret", "", "")
    # When configure runs with a base URL that is not http(s)
    code = harness.run("configure", "--base-url", "ftp://api.example.com")
    # Then it exits 2 saying why, before asking anything, and writes nothing
    err = capsys.readouterr().err
    assert code == 2
    assert "must start with https:// or http://, not 'ftp://api.example.com'" in err
    assert "API key id" not in err
    assert not config_file.exists()
