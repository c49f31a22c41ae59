"""Credential resolution: environment, then profile, then the local development file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from pointsnet.credentials import (
    Credentials,
    CredentialsError,
    find_local_file,
    resolve_credentials,
)

LOCAL_DOCUMENT = {
    "base_url": "http://127.0.0.1:3000",
    "keys": [
        {
            "partner_id": "starlodge",
            "program": "STAR",
            "role": "partner",
            "key_id": "k-star",
            "secret": "s-star",
        },
        {
            "partner_id": "rideco",
            "program": "RIDE",
            "role": "partner",
            "key_id": "k-ride",
            "secret": "s-ride",
        },
        {"partner_id": "network", "role": "finance", "key_id": "k-fin", "secret": "s-fin"},
        {"partner_id": "network", "role": "admin", "key_id": "k-adm", "secret": "s-adm"},
    ],
}

CONFIG_TEXT = """\
[default]
base_url = https://api.example.com/Prod
key_id = k-default
secret = s-default%not-interpolated
partner_id = starlodge
role = partner
program = STAR

[profile staging]
base_url = https://staging.example.com/Stage
key_id = k-staging
secret = s-staging

[profile broken]
base_url = https://x.example.com
"""

FULL_ENV = {
    "POINTSNET_BASE_URL": "https://env.example.com",
    "POINTSNET_KEY_ID": "k-env",
    "POINTSNET_SECRET": "s-env",
}


@pytest.fixture
def local_file(tmp_path: Path) -> Path:
    path = tmp_path / ".pointsnet" / "local.json"
    path.parent.mkdir()
    path.write_text(json.dumps(LOCAL_DOCUMENT), encoding="utf-8")
    return path


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config"
    path.write_text(CONFIG_TEXT, encoding="utf-8")
    return path


@pytest.fixture
def missing_config(tmp_path: Path) -> Path:
    return tmp_path / "no-such-config"


def test_given_all_env_vars_when_resolving_then_the_environment_wins(
    local_file: Path, config_file: Path
):
    """Given the three env vars and both files, when resolving, then the env vars are used."""
    env = {**FULL_ENV, "POINTSNET_PARTNER_ID": "rideco"}

    credentials = resolve_credentials(env=env, local_file=local_file, config_file=config_file)

    assert credentials.base_url == "https://env.example.com"
    assert credentials.key_id == "k-env"
    assert credentials.secret.get_secret_value() == "s-env"
    assert credentials.partner_id == "rideco"


def test_given_only_some_env_vars_when_resolving_then_the_default_profile_is_used(
    local_file: Path, config_file: Path
):
    """Given a partial environment, when resolving, then it is skipped for [default]."""
    env = {"POINTSNET_BASE_URL": "https://env.example.com"}

    credentials = resolve_credentials(env=env, local_file=local_file, config_file=config_file)

    assert credentials.key_id == "k-default"
    assert credentials.secret.get_secret_value() == "s-default%not-interpolated"
    assert (credentials.partner_id, credentials.role, credentials.program) == (
        "starlodge",
        "partner",
        "STAR",
    )


def test_given_a_profile_argument_when_env_vars_are_set_then_the_profile_wins(
    local_file: Path, config_file: Path
):
    """Given env credentials and an explicit profile, when resolving, then the profile is used."""
    credentials = resolve_credentials(
        profile="staging", env=FULL_ENV, local_file=local_file, config_file=config_file
    )

    assert credentials.base_url == "https://staging.example.com/Stage"
    assert credentials.key_id == "k-staging"
    assert credentials.partner_id is None


def test_given_pointsnet_profile_in_env_when_resolving_then_that_profile_is_used(
    local_file: Path, config_file: Path
):
    """Given POINTSNET_PROFILE and no credential env vars, then the named profile is used."""
    credentials = resolve_credentials(
        env={"POINTSNET_PROFILE": "staging"}, local_file=local_file, config_file=config_file
    )

    assert credentials.key_id == "k-staging"


def test_given_an_unknown_profile_when_resolving_then_the_error_lists_known_profiles(
    local_file: Path, config_file: Path
):
    """Given a profile name not in the file, then CredentialsError names the file and profiles."""
    with pytest.raises(CredentialsError) as excinfo:
        resolve_credentials(profile="nope", env={}, local_file=local_file, config_file=config_file)

    message = str(excinfo.value)
    assert "'nope'" in message
    assert str(config_file) in message
    assert "default, staging" in message


def test_given_a_profile_missing_fields_when_resolving_then_the_error_names_them(
    config_file: Path,
):
    """Given a profile without key_id and secret, then CredentialsError says which are missing."""
    with pytest.raises(CredentialsError, match="lacks key_id, secret"):
        resolve_credentials(profile="broken", env={}, config_file=config_file)


def test_given_a_named_profile_and_no_config_file_when_resolving_then_it_fails_loudly(
    missing_config: Path, local_file: Path
):
    """Given --profile but no config file, then it errors rather than using the local file."""
    with pytest.raises(CredentialsError, match="does not exist"):
        resolve_credentials(
            profile="staging", env={}, local_file=local_file, config_file=missing_config
        )


def test_given_no_env_and_no_config_when_resolving_then_starlodge_partner_key_is_the_default(
    missing_config: Path, local_file: Path
):
    """Given only the local file, when resolving, then the first partner-role key is used."""
    credentials = resolve_credentials(env={}, local_file=local_file, config_file=missing_config)

    assert credentials == Credentials(
        base_url="http://127.0.0.1:3000",
        key_id="k-star",
        secret=SecretStr("s-star"),
        partner_id="starlodge",
        role="partner",
        program="STAR",
    )


@pytest.mark.parametrize(
    ("partner", "role", "key_id"),
    [
        ("rideco", None, "k-ride"),
        ("network", "admin", "k-adm"),
        ("network", None, "k-fin"),
        (None, "finance", "k-fin"),
        (None, "admin", "k-adm"),
    ],
)
def test_given_partner_or_role_when_resolving_from_the_local_file_then_that_key_is_chosen(
    missing_config: Path, local_file: Path, partner: str | None, role: str | None, key_id: str
):
    """Given a partner and/or role selector, then the first local key matching both is used."""
    credentials = resolve_credentials(
        partner=partner, role=role, env={}, local_file=local_file, config_file=missing_config
    )

    assert credentials.key_id == key_id


def test_given_a_partner_selector_that_the_default_profile_does_not_fit_then_local_is_used(
    local_file: Path, config_file: Path
):
    """Given [default] for starlodge and --partner rideco, then the rideco local key is used."""
    credentials = resolve_credentials(
        partner="rideco", env=FULL_ENV, local_file=local_file, config_file=config_file
    )

    assert credentials.key_id == "k-ride"


def test_given_no_matching_key_when_resolving_then_the_error_names_everything_looked_at(
    missing_config: Path, local_file: Path
):
    """Given nothing that fits, then CredentialsError lists env, config and local file keys."""
    with pytest.raises(CredentialsError) as excinfo:
        resolve_credentials(
            partner="cafeco", env={}, local_file=local_file, config_file=missing_config
        )

    message = str(excinfo.value)
    assert "POINTSNET_BASE_URL, POINTSNET_KEY_ID, POINTSNET_SECRET not set" in message
    assert f"{missing_config}: not found" in message
    assert "no key for partner cafeco" in message
    assert "starlodge/partner, rideco/partner, network/finance, network/admin" in message
    assert "s-star" not in message


def test_given_a_missing_local_file_when_resolving_then_the_error_names_that_path(
    missing_config: Path, tmp_path: Path
):
    """Given an explicit local file path that does not exist, then the error names it."""
    absent = tmp_path / "absent.json"

    with pytest.raises(CredentialsError, match=r"absent\.json: not found"):
        resolve_credentials(env={}, local_file=absent, config_file=missing_config)


@pytest.mark.parametrize("content", ["not json", "[]", '{"base_url": "x"}', '{"keys": []}'])
def test_given_a_malformed_local_file_when_resolving_then_a_credentials_error_is_raised(
    missing_config: Path, tmp_path: Path, content: str
):
    """Given a local file that is not the documented shape, then CredentialsError says so."""
    path = tmp_path / "local.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CredentialsError, match=r"local\.json"):
        resolve_credentials(env={}, local_file=path, config_file=missing_config)


def test_given_a_nested_directory_when_finding_the_local_file_then_it_walks_up(
    local_file: Path, tmp_path: Path
):
    """Given a working directory deep below the repo root, then the root's local.json is found."""
    nested = tmp_path / "a" / "b" / "c"
    nested.mkdir(parents=True)

    assert find_local_file(nested) == local_file.resolve()


def test_given_no_local_file_above_when_finding_then_none(tmp_path: Path):
    """Given a tree with no .pointsnet/local.json, then find_local_file returns None."""
    assert find_local_file(tmp_path) is None


def test_given_credentials_when_printed_then_the_secret_is_hidden():
    """Given credentials, when printed or repr'd, then the secret's value does not appear."""
    credentials = Credentials(
        base_url="http://x",
        key_id="k",
        secret=SecretStr("top-secret-value"),
    )

    assert "top-secret-value" not in str(credentials)
    assert "top-secret-value" not in repr(credentials)
    assert credentials.secret.get_secret_value() == "top-secret-value"
