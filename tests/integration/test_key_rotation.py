"""Key rotation and the revocation bound: a revoked key is refused within KEY_CACHE_SECONDS."""

from __future__ import annotations

import re
from pathlib import Path

from pointsnet.api.partner import create_partner_app
from pointsnet.auth.keys import KeyResolver
from pointsnet.partners.models import IssuedKey
from pointsnet.settings import Settings, get_settings
from pointsnet.store.directory_store import DirectoryStore
from pointsnet.store.key_secrets import KeySecrets
from tests.helpers import TEMPLATE, DemoNetwork, LambdaContextStub, SignedCaller

REPO_ROOT = Path(__file__).resolve().parents[2]


class ManualClock:
    """A monotonic clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rotation_keeps_both_keys_working_until_the_old_one_is_revoked(
    network: DemoNetwork, admin: SignedCaller
) -> None:
    # Given a partner function whose key cache runs on a clock the test moves
    settings = get_settings()
    bound = settings.key_cache_seconds
    clock = ManualClock()
    resolver = KeyResolver(
        DirectoryStore(settings.directory_table),
        KeySecrets(settings.key_secret_prefix),
        cache_seconds=bound,
        monotonic=clock,
    )
    app = create_partner_app(keys=lambda: resolver)

    def partner(key: IssuedKey) -> SignedCaller:
        return SignedCaller(lambda event, _: app.resolve(event, LambdaContextStub()), key)

    # And starlodge's first key plus a second one issued for the rotation
    key_1 = partner(network.starlodge)
    issued = admin.call("POST", "/v1/partners/starlodge/keys", {"role": "partner"})
    key_2 = partner(IssuedKey.model_validate(issued.body))

    # When both are used during the rotation; Then both work
    assert key_1.earn("guest-1", 10).status == 201
    assert key_2.earn("guest-1", 10).status == 201

    # When key 1 is revoked
    revoked = admin.call("DELETE", f"/v1/partners/starlodge/keys/{network.starlodge.key_id}")
    assert (revoked.status, revoked.body["status"]) == (200, "revoked")

    # Then a function that cached key 1 may still accept it, but only before the bound
    clock.now += bound - 0.001
    assert key_1.earn("guest-1", 1).status == 201
    # And from the bound on, key 1 is refused as unknown_key
    clock.now += 0.001
    refused = key_1.earn("guest-1", 1)
    assert (refused.status, refused.code) == (401, "unknown_key")
    # And key 2 still works, before and after its own cache entry expires
    assert key_2.earn("guest-1", 1).status == 201
    clock.now += bound
    assert key_2.get("/v1/members/guest-1").body["balance"]["available"] == 22


def test_a_key_no_function_has_cached_is_refused_at_once(
    network: DemoNetwork, admin: SignedCaller
) -> None:
    # Given a partner function whose key cache is cold
    settings = get_settings()
    resolver = KeyResolver(
        DirectoryStore(settings.directory_table),
        KeySecrets(settings.key_secret_prefix),
        cache_seconds=settings.key_cache_seconds,
        monotonic=ManualClock(),
    )
    app = create_partner_app(keys=lambda: resolver)
    # When starlodge's key is revoked and then first used
    admin.call("DELETE", f"/v1/partners/starlodge/keys/{network.starlodge.key_id}")
    reply = SignedCaller(
        lambda event, _: app.resolve(event, LambdaContextStub()), network.starlodge
    ).get("/v1/members/guest-1")
    # Then it is refused as unknown at once, with no wait for the cache bound
    assert (reply.status, reply.code) == (401, "unknown_key")


def test_the_documented_bound_is_the_deployed_one() -> None:
    # Given the template's KeyCacheSeconds default and the settings' own default
    deployed = TEMPLATE["Parameters"]["KeyCacheSeconds"]["Default"]
    assert Settings.model_fields["key_cache_seconds"].default == deployed
    # When docs/operating.md is read for the revocation bound
    # Then docs/operating.md states that same number of seconds as the revocation bound
    operating = (REPO_ROOT / "docs" / "operating.md").read_text(encoding="utf-8")
    stated = re.search(r"refused within (\d+) seconds", operating)
    assert stated is not None, "docs/operating.md must state the revocation bound"
    assert int(stated.group(1)) == deployed
