"""Where a client finds its base URL and API key.

Looked up in this order, the first that fits wins:

1. the environment: `POINTSNET_BASE_URL`, `POINTSNET_KEY_ID` and `POINTSNET_SECRET`, all set
   (optional `POINTSNET_PARTNER_ID`, `POINTSNET_ROLE`, `POINTSNET_PROGRAM`);
2. a profile of the INI file `~/.pointsnet/config` (or `POINTSNET_CONFIG_FILE`): the one named
   by the `profile` argument or `POINTSNET_PROFILE`, else `[default]` if there is one;
3. the local development file `.pointsnet/local.json` written by `make run`, found by walking
   up from the current directory.

As with the AWS CLI, an explicit `profile` argument beats the credential variables in the
environment. `partner` and `role` are selectors: a source that declares another partner or
role (or, for the first two, declares none) does not fit and the next one is tried. With no
selector, the local file's key is the one of `local_role` (the `partner` key by default).

`save_profile` writes a profile the way `pointsnet configure` does: `[default]` or
`[profile NAME]` sections, the file readable by its owner only.
"""

from __future__ import annotations

import configparser
import io
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, SecretStr, ValidationError

from pointsnet.model import Model

ENV_BASE_URL = "POINTSNET_BASE_URL"
ENV_KEY_ID = "POINTSNET_KEY_ID"
ENV_SECRET = "POINTSNET_SECRET"
ENV_PARTNER_ID = "POINTSNET_PARTNER_ID"
ENV_ROLE = "POINTSNET_ROLE"
ENV_PROGRAM = "POINTSNET_PROGRAM"
ENV_PROFILE = "POINTSNET_PROFILE"
ENV_CONFIG_FILE = "POINTSNET_CONFIG_FILE"

LOCAL_FILE_RELATIVE_PATH = Path(".pointsnet") / "local.json"
DEFAULT_PROFILE = "default"
DEFAULT_LOCAL_ROLE = "partner"

_REQUIRED_FIELDS = ("base_url", "key_id", "secret")
_OPTIONAL_FIELDS = ("partner_id", "role", "program")


class CredentialsError(Exception):
    """No credentials fit the request; the message says what was looked at."""


class Credentials(Model):
    """A base URL and one API key. The secret is a `SecretStr`, so it never prints."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    base_url: str
    key_id: str
    secret: SecretStr
    partner_id: str | None = None
    role: str | None = None
    program: str | None = None


def default_config_file(env: Mapping[str, str] = os.environ) -> Path:
    """The profiles file: `POINTSNET_CONFIG_FILE` if set, else `~/.pointsnet/config`."""
    override = env.get(ENV_CONFIG_FILE)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".pointsnet" / "config"


def find_local_file(start: Path | None = None) -> Path | None:
    """The nearest `.pointsnet/local.json` in `start` (default: cwd) or one of its parents."""
    directory = (start or Path.cwd()).resolve()
    for candidate_dir in (directory, *directory.parents):
        candidate = candidate_dir / LOCAL_FILE_RELATIVE_PATH
        if candidate.is_file():
            return candidate
    return None


def resolve_credentials(
    profile: str | None = None,
    partner: str | None = None,
    role: str | None = None,
    env: Mapping[str, str] = os.environ,
    local_file: Path | None = None,
    config_file: Path | None = None,
    local_role: str | None = None,
) -> Credentials:
    """The credentials to use, by the precedence in this module's docstring.

    Raises `CredentialsError` naming every place looked at when none fits.
    """
    looked_at: list[str] = []

    if profile is None:
        from_env = _from_environment(env, partner, role, looked_at)
        if from_env is not None:
            return from_env

    profile_file = config_file or default_config_file(env)
    named_profile = profile or env.get(ENV_PROFILE) or None
    from_profile = _from_profile(profile_file, named_profile, partner, role, looked_at)
    if from_profile is not None:
        return from_profile

    return _from_local_file(local_file, partner, role, looked_at, local_role)


def read_profile(
    profile: str | None = None, config_file: Path | None = None, env: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The values of one profile (`[default]` when None); empty when it does not exist yet."""
    path = config_file or default_config_file(env)
    parser = _read_config(path) if path.is_file() else configparser.ConfigParser()
    section = _section_name(profile)
    if not parser.has_section(section):
        return {}
    return {key: parser.get(section, key) for key in parser.options(section)}


def save_profile(
    profile: str | None,
    values: Mapping[str, str | None],
    config_file: Path | None = None,
    env: Mapping[str, str] = os.environ,
) -> Path:
    """Write one profile, keeping the file's other profiles; returns the file's path.

    Empty values are left out. The folder is made readable by its owner only, like
    `~/.aws`, and the file is replaced whole so a crash never leaves half a profile.
    """
    path = config_file or default_config_file(env)
    parser = _read_config(path) if path.is_file() else configparser.ConfigParser(interpolation=None)
    section = _section_name(profile)
    if parser.has_section(section):
        parser.remove_section(section)
    parser.add_section(section)
    for key in (*_REQUIRED_FIELDS, *_OPTIONAL_FIELDS):
        value = values.get(key)
        if value:
            parser.set(section, key, value)
    text = io.StringIO()
    parser.write(text)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text.getvalue())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _section_name(profile: str | None) -> str:
    return DEFAULT_PROFILE if profile in (None, DEFAULT_PROFILE) else f"profile {profile}"


def _read_config(config_file: Path) -> configparser.ConfigParser:
    # No interpolation: a secret may well contain a '%'.
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(config_file, encoding="utf-8")
    except configparser.Error as exc:
        raise CredentialsError(f"{config_file} is not a valid INI file: {exc}") from exc
    return parser


def _from_environment(
    env: Mapping[str, str], partner: str | None, role: str | None, looked_at: list[str]
) -> Credentials | None:
    names = (ENV_BASE_URL, ENV_KEY_ID, ENV_SECRET)
    missing = [name for name in names if not env.get(name)]
    if missing:
        looked_at.append(f"environment: {', '.join(missing)} not set")
        return None
    credentials = Credentials(
        base_url=env[ENV_BASE_URL],
        key_id=env[ENV_KEY_ID],
        secret=SecretStr(env[ENV_SECRET]),
        partner_id=env.get(ENV_PARTNER_ID) or None,
        role=env.get(ENV_ROLE) or None,
        program=env.get(ENV_PROGRAM) or None,
    )
    mismatch = _selector_mismatch(credentials, partner, role)
    if mismatch:
        looked_at.append(f"environment: {mismatch}")
        return None
    return credentials


def _from_profile(
    config_file: Path,
    named_profile: str | None,
    partner: str | None,
    role: str | None,
    looked_at: list[str],
) -> Credentials | None:
    if not config_file.is_file():
        if named_profile is not None:
            raise CredentialsError(
                f"profile {named_profile!r} was asked for but {config_file} does not exist"
            )
        looked_at.append(f"{config_file}: not found")
        return None

    parser = _read_config(config_file)
    sections = _profile_sections(parser)
    wanted = named_profile or DEFAULT_PROFILE
    section = sections.get(wanted)
    if section is None:
        if named_profile is not None:
            known = ", ".join(sorted(sections)) or "none"
            raise CredentialsError(
                f"profile {named_profile!r} not found in {config_file} (profiles: {known})"
            )
        looked_at.append(f"{config_file}: no [default] profile")
        return None

    values = {key: parser.get(section, key) for key in parser.options(section)}
    missing = [key for key in _REQUIRED_FIELDS if not values.get(key)]
    if missing:
        raise CredentialsError(f"profile {wanted!r} in {config_file} lacks {', '.join(missing)}")
    credentials = Credentials(
        base_url=values["base_url"],
        key_id=values["key_id"],
        secret=SecretStr(values["secret"]),
        **{key: values.get(key) or None for key in _OPTIONAL_FIELDS},
    )
    mismatch = _selector_mismatch(credentials, partner, role)
    if mismatch:
        if named_profile is not None:
            raise CredentialsError(f"profile {wanted!r} in {config_file}: {mismatch}")
        looked_at.append(f"{config_file} profile {wanted!r}: {mismatch}")
        return None
    return credentials


def _profile_sections(parser: configparser.ConfigParser) -> dict[str, str]:
    """Profile name -> section name, for `[default]` and `[profile NAME]` sections."""
    sections: dict[str, str] = {}
    for section in parser.sections():
        if section == DEFAULT_PROFILE:
            sections.setdefault(DEFAULT_PROFILE, section)
        elif section.startswith("profile "):
            name = section.removeprefix("profile ").strip()
            if name:
                sections[name] = section
    return sections


def _from_local_file(
    local_file: Path | None,
    partner: str | None,
    role: str | None,
    looked_at: list[str],
    local_role: str | None = None,
) -> Credentials:
    path = local_file or find_local_file()
    if path is None:
        looked_at.append(f"no {LOCAL_FILE_RELATIVE_PATH} in {Path.cwd()} or its parents")
        raise _nothing_fits(looked_at)
    if not path.is_file():
        looked_at.append(f"{path}: not found")
        raise _nothing_fits(looked_at)

    document = _read_local_file(path)
    keys = [key for key in document["keys"] if isinstance(key, dict)]
    wanted_role = role or local_role or (None if partner else DEFAULT_LOCAL_ROLE)
    for key in keys:
        if partner is not None and key.get("partner_id") != partner:
            continue
        if wanted_role is not None and key.get("role") != wanted_role:
            continue
        try:
            return Credentials.model_validate({**key, "base_url": document["base_url"]})
        except ValidationError as exc:
            raise CredentialsError(f"{path}: a key entry is malformed: {exc}") from exc

    available = ", ".join(f"{key.get('partner_id')}/{key.get('role')}" for key in keys)
    wanted = [f"partner {partner}"] if partner else []
    wanted += [f"role {wanted_role}"] if wanted_role else []
    looked_at.append(f"{path}: no key for {' and '.join(wanted)} (keys: {available or 'none'})")
    raise _nothing_fits(looked_at)


def _read_local_file(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CredentialsError(f"{path} is not readable JSON: {exc}") from exc
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("base_url"), str)
        or not isinstance(document.get("keys"), list)
    ):
        raise CredentialsError(f"{path} must be an object with 'base_url' and a 'keys' list")
    return document


def _selector_mismatch(credentials: Credentials, partner: str | None, role: str | None) -> str:
    """Why `credentials` do not fit the partner/role asked for; empty when they do."""
    reasons = []
    if partner is not None and credentials.partner_id != partner:
        reasons.append(f"partner is {credentials.partner_id or 'not declared'}, not {partner}")
    if role is not None and credentials.role != role:
        reasons.append(f"role is {credentials.role or 'not declared'}, not {role}")
    return "; ".join(reasons)


def _nothing_fits(looked_at: list[str]) -> CredentialsError:
    details = "\n".join(f"  - {line}" for line in looked_at)
    return CredentialsError(
        "no PointsNet credentials found. Looked at:\n"
        f"{details}\n"
        f"Set {ENV_BASE_URL}, {ENV_KEY_ID} and {ENV_SECRET}, add a profile to "
        "~/.pointsnet/config, or run `make run` to write .pointsnet/local.json."
    )
