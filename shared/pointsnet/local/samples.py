"""The sample events of `events/`, re-signed now so that a function accepts them.

A signed sample carries a signature that went stale 300 s after it was made. This prints a
sample with fresh signature headers, signed with a key of `.pointsnet/local.json` (the file
`make run` writes, found as the CLI finds it) picked by the sample's function: the partner
key of `starlodge` for `partner_api`, the `admin` key for `admin_api`, the `finance` key for
`finance_api`. Samples without signature headers (schedules, the stream, health) print as
they are.

    python -m pointsnet.local.samples earn | sam local invoke PartnerApiFunction -e -
    python -m pointsnet.local.samples partner_api/earn --partner rideco
    python -m pointsnet.local.samples --list
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pointsnet import signing
from pointsnet.credentials import (
    LOCAL_FILE_RELATIVE_PATH,
    Credentials,
    CredentialsError,
    find_local_file,
    resolve_credentials,
)
from pointsnet.local.template import REPO_ROOT, functions, load_template

SAMPLES_DIR = REPO_ROOT / "events"
DEFAULT_PARTNER = "starlodge"
# The role whose key signs the samples of each HTTP API function's code folder.
ROLE_BY_FOLDER = {
    "partner_api": "partner",
    "admin_api": "admin",
    "finance_api": "finance",
    "programs_api": "partner",
}
SIGNATURE_HEADERS = tuple(
    name.lower()
    for name in (signing.KEY_ID_HEADER, signing.TIMESTAMP_HEADER, signing.SIGNATURE_HEADER)
)
EXIT_OK = 0
EXIT_USAGE = 2


class SampleError(Exception):
    """No such sample, or no key to sign it with; the message says which."""


@dataclass(frozen=True)
class Sample:
    """One file of `events/`: `name` is `<function code folder>/<file stem>`."""

    name: str
    path: Path

    @property
    def folder(self) -> str:
        return self.name.partition("/")[0]

    def load(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        return event


@dataclass(frozen=True)
class KeyChoice:
    """Which key signs a sample: a role, and a partner when it matters."""

    role: str
    partner_id: str | None = None


def all_samples(directory: Path = SAMPLES_DIR) -> list[Sample]:
    """Every sample, sorted by name."""
    return [
        Sample(name=path.relative_to(directory).with_suffix("").as_posix(), path=path)
        for path in sorted(directory.glob("*/*.json"))
    ]


def find_sample(name: str, directory: Path = SAMPLES_DIR) -> Sample:
    """A sample by its full name (`partner_api/earn`) or, when unambiguous, its stem (`earn`)."""
    wanted = name.removesuffix(".json")
    samples = all_samples(directory)
    found = [sample for sample in samples if wanted in (sample.name, sample.path.stem)]
    exact = [sample for sample in found if sample.name == wanted]
    if exact or len(found) == 1:
        return (exact or found)[0]
    if found:
        raise SampleError(f"{name!r} is ambiguous: {', '.join(sample.name for sample in found)}")
    known = ", ".join(sample.name for sample in samples) or "none"
    raise SampleError(f"no sample {name!r} in {directory} (samples: {known})")


def is_signed(event: dict[str, Any]) -> bool:
    """Whether the event is an HTTP request carrying the signature headers."""
    headers = event.get("headers")
    return isinstance(headers, dict) and signing.SIGNATURE_HEADER.lower() in headers


def key_choice(sample: Sample, partner: str | None = None, role: str | None = None) -> KeyChoice:
    """The key a sample is signed with: its function's role, or what was asked for."""
    chosen_role = role or ROLE_BY_FOLDER.get(sample.folder)
    if chosen_role is None:
        raise SampleError(f"no default key for the samples of {sample.folder}: pass --role")
    default_partner = DEFAULT_PARTNER if chosen_role == "partner" else None
    return KeyChoice(role=chosen_role, partner_id=partner or default_partner)


def local_key(choice: KeyChoice, credentials_file: Path | None = None) -> Credentials:
    """The key of `.pointsnet/local.json` (or `credentials_file`) that fits `choice`."""
    path = credentials_file or find_local_file()
    if path is None:
        raise SampleError(
            f"no {LOCAL_FILE_RELATIVE_PATH} in {Path.cwd()} or its parents: "
            "run `make run` first, or pass --credentials"
        )
    try:
        # Only that file: no credential variables, no profiles file.
        return resolve_credentials(
            partner=choice.partner_id,
            role=choice.role,
            env={},
            local_file=path,
            config_file=Path(os.devnull),
        )
    except CredentialsError as exc:
        # Its message also lists the sources skipped on purpose: keep what it says of the file.
        about_file = [line.strip(" -") for line in str(exc).splitlines() if str(path) in line]
        raise SampleError("; ".join(about_file) or str(exc)) from exc


def body_bytes(event: dict[str, Any]) -> bytes:
    """The raw request body an HTTP API event carries."""
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else str(body).encode("utf-8")


def resign(event: dict[str, Any], key_id: str, secret: str, now: float) -> dict[str, Any]:
    """A copy of an HTTP API event signed at `now` with this key, as a client would sign it."""
    signed = copy.deepcopy(event)
    context = signed["requestContext"]
    headers = {
        name: value
        for name, value in signed.get("headers", {}).items()
        if name.lower() not in SIGNATURE_HEADERS
    }
    fresh = signing.sign_request(
        secret,
        key_id,
        context["http"]["method"],
        signed["rawPath"],
        signed.get("rawQueryString", ""),
        body_bytes(signed),
        int(now),
        idempotency_key=next(
            (value for name, value in headers.items() if name.lower() == "idempotency-key"), None
        ),
        version=signing.LATEST_VERSION,
    )
    signed["headers"] = headers | {name.lower(): value for name, value in fresh.items()}
    context["requestId"] = str(uuid.uuid4())
    context["time"] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
    context["timeEpoch"] = int(now * 1000)
    return signed


def fresh_event(
    sample: Sample,
    partner: str | None = None,
    role: str | None = None,
    credentials_file: Path | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The sample's event, re-signed with its local key when it is a signed request."""
    event = sample.load()
    if not is_signed(event):
        return event
    key = local_key(key_choice(sample, partner, role), credentials_file)
    moment = time.time() if now is None else now
    return resign(event, key.key_id, key.secret.get_secret_value(), moment)


def sample_text(
    sample: Sample,
    partner: str | None = None,
    role: str | None = None,
    credentials_file: Path | None = None,
) -> str:
    """What the command prints: the re-signed event, or an unsigned sample's file as it is."""
    if not is_signed(sample.load()):
        return sample.path.read_text(encoding="utf-8").rstrip("\n")
    return json.dumps(fresh_event(sample, partner, role, credentials_file), indent=2)


def listing(samples: Sequence[Sample]) -> list[str]:
    """One line per sample: its name and the function (logical id) it is for."""
    by_folder = {
        spec.code_dir.name: spec.logical_id for spec in functions(load_template()).values()
    }
    width = max((len(sample.name) for sample in samples), default=0)
    return [
        f"{sample.name:<{width}}  {by_folder.get(sample.folder, '(no such function)')}"
        for sample in samples
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pointsnet.local.samples",
        description="Print a sample event of events/, re-signed now with a local key.",
    )
    parser.add_argument("name", nargs="?", help="a sample: partner_api/earn, or just earn")
    parser.add_argument("--list", action="store_true", help="list the samples and exit")
    parser.add_argument(
        "--partner", help=f"the partner whose key signs (default {DEFAULT_PARTNER})"
    )
    parser.add_argument("--role", help="the role whose key signs (default: the function's)")
    parser.add_argument(
        "--credentials",
        type=Path,
        help=f"the credentials file (default: the nearest {LOCAL_FILE_RELATIVE_PATH})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(listing(all_samples())))
        return EXIT_OK
    if not args.name:
        parser.print_usage(sys.stderr)
        print("a sample name or --list is needed", file=sys.stderr)
        return EXIT_USAGE
    try:
        text = sample_text(find_sample(args.name), args.partner, args.role, args.credentials)
    except SampleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(text)
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
