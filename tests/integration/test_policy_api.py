"""Program policy through the admin API: set, shown, validated, and applied to postings."""

from __future__ import annotations

from tests.helpers import DemoNetwork, Handler, SignedCaller

POLICY = {
    "expiry": {"kind": "after_earning", "months": 24, "notice_days": 14},
    "tiers": [{"name": "member", "min_points": 0}, {"name": "gold", "min_points": 500}],
    "hold_timeout_days": 7,
}


def test_an_operator_sets_a_programs_policy_and_postings_follow_it(
    admin: SignedCaller, starlodge: SignedCaller
) -> None:
    # Given a program that has never had a policy: nothing expires, no tiers, 30-day holds
    shown = admin.get("/v1/partners/starlodge/policy")
    assert shown.status == 200, shown.body
    assert (shown.body["expiry"], shown.body["tiers"], shown.body["hold_timeout_days"]) == (
        None,
        [],
        30,
    )
    # When the operator sets expiry, tiers and a hold timeout
    reply = admin.call("PUT", "/v1/partners/starlodge/policy", POLICY)
    # Then the policy is stored, with who set it and when
    assert reply.status == 200, reply.body
    assert reply.body["expiry"] == POLICY["expiry"]
    assert reply.body["updated_by"] == "network"
    assert admin.get("/v1/partners/starlodge/policy").body["tiers"] == POLICY["tiers"]
    # And the partner's postings follow it
    earned = starlodge.earn("guest-1", 600).body["transaction"]
    member = starlodge.get("/v1/members/guest-1").body
    assert member["tier"] == "gold"
    # (points expire at the end of the month 24 months after the month they were earned)
    [lot] = member["expiring"]
    earned_month = int(earned["created_at"][:4]) * 12 + int(earned["created_at"][5:7])
    expiry_month = int(lot["expires_at"][:4]) * 12 + int(lot["expires_at"][5:7])
    assert (lot["points"], expiry_month - earned_month, lot["expires_at"][8:10]) == (600, 25, "01")
    held = starlodge.earn("guest-1", 5, pending=True).body["transaction"]
    assert held["expires_at"][:10] > held["created_at"][:10]


def test_a_bad_policy_is_a_validation_error(admin: SignedCaller) -> None:
    # Given tiers that do not start at zero, and an expiry of a kind that does not exist
    # When the operator sets either as starlodge's policy
    reply = admin.call(
        "PUT",
        "/v1/partners/starlodge/policy",
        {"tiers": [{"name": "silver", "min_points": 100}]},
    )
    # Then each is a validation error
    assert (reply.status, reply.code) == (422, "validation_error")
    unknown = admin.call("PUT", "/v1/partners/starlodge/policy", {"expiry": {"kind": "yearly"}})
    assert (unknown.status, unknown.code) == (422, "validation_error")


def test_only_an_operator_sets_a_policy_and_only_for_a_program(
    admin: SignedCaller, network: DemoNetwork, admin_handler: Handler
) -> None:
    # Given starlodge's partner key on the admin API
    # When starlodge sets its own policy
    partner_key = SignedCaller(admin_handler, network.starlodge)
    forbidden = partner_key.call("PUT", "/v1/partners/starlodge/policy", POLICY)
    # Then it is forbidden
    assert (forbidden.status, forbidden.code) == (403, "forbidden")
    # And when the operator sets one for no partner, or for the network, which has no program
    missing = admin.call("PUT", "/v1/partners/nobody/policy", POLICY)
    no_program = admin.call("PUT", "/v1/partners/network/policy", POLICY)
    # Then both are not found
    assert (missing.status, missing.code) == (404, "not_found")
    assert (no_program.status, no_program.code) == (404, "not_found")
