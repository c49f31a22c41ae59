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
    # Given the three env vars (and a partner id), a config file and a local file
    env = {**FULL_ENV, "POINTSNET_PARTNER_ID": "rideco"}

    # When credentials are resolved
    credentials = resolve_credentials(env=env, local_file=local_file, config_file=config_file)

    # Then the env vars are used
    assert credentials.base_url == "https://env.example.com"
    assert credentials.key_id == "k-env"
    assert credentials.secret.get_secret_value() == "s-env"
    assert credentials.partner_id == "rideco"


def test_given_only_some_env_vars_when_resolving_then_the_default_profile_is_used(
    local_file: Path, config_file: Path
):
    # Given only one of the three env vars
    env = {"POINTSNET_BASE_URL": "https://env.example.com"}

    # When credentials are resolved
    credentials = resolve_credentials(env=env, local_file=local_file, config_file=config_file)

    # Then the partial environment is skipped for [default], its `%` taken literally
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
    # Given env credentials and an explicit profile
    # When credentials are resolved
    credentials = resolve_credentials(
        profile="staging", env=FULL_ENV, local_file=local_file, config_file=config_file
    )

    # Then the profile is used
    assert credentials.base_url == "https://staging.example.com/Stage"
    assert credentials.key_id == "k-staging"
    assert credentials.partner_id is None


def test_given_pointsnet_profile_in_env_when_resolving_then_that_profile_is_used(
    local_file: Path, config_file: Path
):
    # Given POINTSNET_PROFILE and no credential env vars
    # When credentials are resolved
    credentials = resolve_credentials(
        env={"POINTSNET_PROFILE": "staging"}, local_file=local_file, config_file=config_file
    )

    # Then the named profile is used
    assert credentials.key_id == "k-staging"


def test_given_an_unknown_profile_when_resolving_then_the_error_lists_known_profiles(
    local_file: Path, config_file: Path
):
    # Given a profile name not in the config file
    # When credentials are resolved
    with pytest.raises(CredentialsError) as excinfo:
        resolve_credentials(profile="nope", env={}, local_file=local_file, config_file=config_file)

    # Then CredentialsError names the profile, the file and the profiles it has
    message = str(excinfo.value)
    assert "'nope'" in message
    assert str(config_file) in message
    assert "default, staging" in message


def test_given_a_profile_missing_fields_when_resolving_then_the_error_names_them(
    config_file: Path,
):
    # Given a profile without key_id and secret
    # When it is resolved; Then CredentialsError says which are missing
    with pytest.raises(CredentialsError, match="lacks key_id, secret"):
        resolve_credentials(profile="broken", env={}, config_file=config_file)


def test_given_a_named_profile_and_no_config_file_when_resolving_then_it_fails_loudly(
    missing_config: Path, local_file: Path
):
    # Given a named profile but no config file, and a local file
    # When it is resolved; Then it errors rather than using the local file
    with pytest.raises(CredentialsError, match="does not exist"):
        resolve_credentials(
            profile="staging", env={}, local_file=local_file, config_file=missing_config
        )


def test_given_no_env_and_no_config_when_resolving_then_starlodge_partner_key_is_the_default(
    missing_config: Path, local_file: Path
):
    # Given only the local file
    # When credentials are resolved
    credentials = resolve_credentials(env={}, local_file=local_file, config_file=missing_config)

    # Then its first partner-role key is used
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
    # Given only the local file, and a partner and/or role selector
    # When credentials are resolved
    credentials = resolve_credentials(
        partner=partner, role=role, env={}, local_file=local_file, config_file=missing_config
    )

    # Then the first local key matching both is used
    assert credentials.key_id == key_id


def test_given_a_partner_selector_that_the_default_profile_does_not_fit_then_local_is_used(
    local_file: Path, config_file: Path
):
    # Given [default] for starlodge and env credentials with no partner
    # When credentials are resolved for partner rideco
    credentials = resolve_credentials(
        partner="rideco", env=FULL_ENV, local_file=local_file, config_file=config_file
    )

    # Then the rideco local key is used
    assert credentials.key_id == "k-ride"


def test_given_no_matching_key_when_resolving_then_the_error_names_everything_looked_at(
    missing_config: Path, local_file: Path
):
    # Given no env vars, no config file and no local key for partner cafeco
    # When credentials are resolved for cafeco
    with pytest.raises(CredentialsError) as excinfo:
        resolve_credentials(
            partner="cafeco", env={}, local_file=local_file, config_file=missing_config
        )

    # Then CredentialsError lists env, config and local file keys, and shows no secret
    message = str(excinfo.value)
    assert "POINTSNET_BASE_URL, POINTSNET_KEY_ID, POINTSNET_SECRET not set" in message
    assert f"{missing_config}: not found" in message
    assert "no key for partner cafeco" in message
    assert "starlodge/partner, rideco/partner, network/finance, network/admin" in message
    assert "s-star" not in message


def test_given_a_missing_local_file_when_resolving_then_the_error_names_that_path(
    missing_config: Path, tmp_path: Path
):
    # Given an explicit local file path that does not exist
    absent = tmp_path / "absent.json"

    # When credentials are resolved; Then the error names that path
    with pytest.raises(CredentialsError, match=r"absent\.json: not found"):
        resolve_credentials(env={}, local_file=absent, config_file=missing_config)


@pytest.mark.parametrize("content", ["not json", "[]", '{"base_url": "x"}', '{"keys": []}'])
def test_given_a_malformed_local_file_when_resolving_then_a_credentials_error_is_raised(
    missing_config: Path, tmp_path: Path, content: str
):
    # Given a local file that is not the documented shape
    path = tmp_path / "local.json"
    path.write_text(content, encoding="utf-8")

    # When credentials are resolved; Then CredentialsError names the file
    with pytest.raises(CredentialsError, match=r"local\.json"):
        resolve_credentials(env={}, local_file=path, config_file=missing_config)


def test_given_a_nested_directory_when_finding_the_local_file_then_it_walks_up(
    local_file: Path, tmp_path: Path
):
    # Given a working directory deep below the folder holding .pointsnet/local.json
    nested = tmp_path / "a" / "b" / "c"
    nested.mkdir(parents=True)

    # When the local file is looked for from there; Then the one above is found
    assert find_local_file(nested) == local_file.resolve()


def test_given_no_local_file_above_when_finding_then_nothing_is_found(tmp_path: Path):
    # Given a tree with no .pointsnet/local.json
    # When the local file is looked for; Then find_local_file returns None
    assert find_local_file(tmp_path) is None


def test_given_credentials_when_printed_then_the_secret_is_hidden():
    # Given credentials with a secret
    credentials = Credentials(
        base_url="http://x",
        key_id="k",
        secret=SecretStr("top-secret-value"),
    )

    # When they are printed or repr'd; Then the secret's value does not appear, yet is kept
    assert "top-secret-value" not in str(credentials)
    assert "top-secret-value" not in repr(credentials)
    assert credentials.secret.get_secret_value() == "top-secret-value"
