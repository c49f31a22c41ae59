"""Earns priced by the program's earning rules: spend, categories, campaigns, tiers, actions,
comebacks and referrals, through the partner API on the test's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.points_life import Life, ledger_check, life, set_policy, set_rules

__all__ = ["life"]

PER_DOLLAR = {"rule_id": "base", "type": "per_amount", "points": 1, "per": "1.00"}


def spend(life: Life, member: str, amount: str, *items: dict[str, Any], **extra: Any) -> Any:
    body: dict[str, Any] = {"amount": amount, "reference": "order-1"} | extra
    if items:
        body["items"] = list(items)
    return life.starlodge.call("POST", f"/v1/members/{member}/earn", body)


def act(life: Life, member: str, action: str, key: str | None = None) -> Any:
    body = {"action": action, "reference": f"{action}-{key or 'x'}"}
    return life.starlodge.call(
        "POST", f"/v1/members/{member}/earn", body, idempotency_key=key or "auto"
    )


def item(sku: str, category: str | None, amount: str, quantity: int = 1) -> dict[str, Any]:
    return {"sku": sku, "category": category, "quantity": quantity, "amount": amount}


def test_a_spend_earns_by_its_items_and_records_each_rules_share(life: Life) -> None:
    # Given 1 point per 1.00, 5 points per 2.00 of coffee, and 1.5x on coffee
    set_rules(
        "STAR",
        PER_DOLLAR,
        {
            "rule_id": "coffee",
            "type": "per_amount",
            "points": 5,
            "per": "2.00",
            "category": "coffee",
        },
        {"rule_id": "coffee-boost", "type": "multiplier", "factor": "1.5", "category": "coffee"},
    )
    # When a member spends 42.50: 12.50 of coffee and 30.00 of a room
    reply = spend(
        life, "guest-1", "42.50", item("latte", "coffee", "12.50"), item("room", None, "30.00")
    )
    # Then base gives floor(12.50) = 12 boosted to floor(18.0) = 18 on the coffee, and 30 on
    # the room; coffee gives floor(12.50 x 5 / 2) = 31 boosted to floor(46.5) = 46
    # base 12 + 30 = 42, coffee 31, the boost (18 - 12) + (46 - 31) = 21: 94 points
    assert reply.status == 201, reply.body
    transaction = reply.body["transaction"]
    assert transaction["points"] == 94
    assert transaction["amount"] == "42.50"
    assert transaction["rules_version"] == 1
    assert transaction["rules"] == [
        {"rule_id": "base", "points": 42},
        {"rule_id": "coffee", "points": 31},
        {"rule_id": "coffee-boost", "points": 21},
    ]
    assert reply.body["balance"]["available"] == 94
    assert ledger_check().ok


def test_a_replayed_earn_answers_as_the_first_though_the_rules_changed(life: Life) -> None:
    # Given 1 point per 1.00, and a member who spent 10.00 under it
    set_rules("STAR", PER_DOLLAR)
    body = {"amount": "10.00", "reference": "order-9"}
    first = life.starlodge.call("POST", "/v1/members/guest-1/earn", body, idempotency_key="k-9")
    # When the rules change to 3 points per 1.00 and the same request is sent again
    set_rules("STAR", PER_DOLLAR | {"points": 3})
    again = life.starlodge.call("POST", "/v1/members/guest-1/earn", body, idempotency_key="k-9")
    # Then it answers the first response, and nothing more was posted
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.body == first.body
    assert first.body["transaction"]["points"] == 10
    assert life.available(life.starlodge, "guest-1") == 10


def test_rules_that_give_nothing_refuse_the_earn_and_post_nothing(life: Life) -> None:
    # Given 1 point per 5.00 of coffee only
    set_rules(
        "STAR",
        {
            "rule_id": "coffee",
            "type": "per_amount",
            "points": 1,
            "per": "5.00",
            "category": "coffee",
        },
    )
    # When a member spends 20.00 on a room, and 4.99 on coffee
    room = spend(life, "guest-1", "20.00", item("room", "rooms", "20.00"))
    coffee = spend(life, "guest-1", "4.99", item("latte", "coffee", "4.99"))
    # Then both are 422 validation_error (floor(4.99 / 5.00) = 0) and nothing was posted
    assert (room.status, room.code) == (422, "validation_error")
    assert (coffee.status, coffee.code) == (422, "validation_error")
    history = life.starlodge.get("/v1/members/guest-1/transactions")
    assert (history.status, history.code) == (404, "not_found")  # no member without an entry


def test_an_amount_without_earning_rules_is_refused(life: Life) -> None:
    # Given a program with no earning rules; When a partner sends an amount
    reply = spend(life, "guest-1", "10.00")
    # Then it must send points instead
    assert (reply.status, reply.code) == (422, "validation_error")
    assert "no earning rules" in reply.body["error"]["message"]


def test_a_campaign_applies_from_its_start_and_not_at_its_end(life: Life) -> None:
    start = datetime(2025, 2, 1, tzinfo=UTC)
    end = datetime(2025, 2, 8, tzinfo=UTC)
    # Given double points from 2025-02-01 until 2025-02-08
    set_rules(
        "STAR",
        PER_DOLLAR,
        {
            "rule_id": "double-week",
            "type": "multiplier",
            "factor": "2",
            "active_from": start.isoformat(),
            "active_until": end.isoformat(),
        },
    )
    points = []
    # When the member spends 10.00 a microsecond before, at the start, and at the end
    for moment in (start - timedelta(microseconds=1), start, end):
        life.clock.at(moment)
        reply = spend(life, "guest-1", "10.00")
        points.append(reply.body["transaction"]["points"])
    # Then only the earn at the start is doubled
    assert points == [10, 20, 10]


def test_a_tier_rule_follows_the_members_tier(life: Life) -> None:
    # Given silver from 100 points, and 1 extra point per 1.00 for silver members
    set_policy(
        "starlodge",
        tiers=[{"name": "member", "min_points": 0}, {"name": "silver", "min_points": 100}],
    )
    set_rules(
        "STAR",
        PER_DOLLAR,
        {
            "rule_id": "silver-bonus",
            "type": "per_amount",
            "points": 1,
            "per": "1.00",
            "tiers": ["silver"],
        },
    )
    # When a member spends 100.00 (as a member) and then 10.00 (as silver)
    first = spend(life, "guest-1", "100.00").body["transaction"]
    second = spend(life, "guest-1", "10.00").body["transaction"]
    # Then the first gets the base only, the second the silver bonus too
    assert first["points"] == 100
    assert second["points"] == 20
    assert {share["rule_id"] for share in second["rules"]} == {"base", "silver-bonus"}


def test_an_action_gives_points_at_most_max_per_day_per_utc_day(life: Life) -> None:
    # Given 10 points for a review, at most 2 a day
    set_rules(
        "STAR",
        {"rule_id": "review", "type": "action", "action": "review", "points": 10, "max_per_day": 2},
    )
    # When a member writes three reviews just before UTC midnight, and one just after
    life.clock.at(datetime(2025, 1, 10, 23, 59, tzinfo=UTC))
    replies = [act(life, "guest-1", "review", key=f"r-{n}") for n in range(3)]
    life.clock.at(datetime(2025, 1, 11, 0, 0, tzinfo=UTC))
    after_midnight = act(life, "guest-1", "review", key="r-next-day")
    # Then the first two give 10 points each, the third gives none (refused), the next day's 10
    assert [reply.status for reply in replies] == [201, 201, 422]
    assert after_midnight.status == 201
    assert after_midnight.body["transaction"]["action"] == "review"
    assert life.available(life.starlodge, "guest-1") == 30


def test_a_comeback_bonus_comes_at_exactly_the_inactivity_gap(life: Life) -> None:
    # Given 1 point per 1.00 and 500 points for coming back after 60 days
    set_rules(
        "STAR",
        PER_DOLLAR,
        {"rule_id": "welcome-back", "type": "comeback", "inactive_days": 60, "points": 500},
    )
    # When a new member first spends (no bonus: it is new), then again 1 µs short of 60 days
    first_at = life.clock.at(datetime(2025, 1, 10, 12, tzinfo=UTC))
    new = spend(life, "guest-1", "10.00").body["transaction"]
    life.clock.at(first_at + timedelta(days=60) - timedelta(microseconds=1))
    short = spend(life, "guest-1", "10.00").body["transaction"]
    # And a second member spends, then again exactly 60 days later
    life.clock.at(first_at)
    spend(life, "guest-2", "10.00")
    life.clock.at(first_at + timedelta(days=60))
    back = spend(life, "guest-2", "10.00").body["transaction"]
    # Then only the earn after exactly 60 days gets the bonus
    assert (new["points"], short["points"], back["points"]) == (10, 10, 510)
    assert {"rule_id": "welcome-back", "points": 500} in back["rules"]


def test_a_referral_credits_both_members_once_on_the_first_earn(life: Life) -> None:
    # Given a referral rule: 200 points to the referrer, 100 to the referred
    set_rules(
        "STAR",
        PER_DOLLAR,
        {"rule_id": "friends", "type": "referral", "referrer_points": 200, "referred_points": 100},
    )
    life.starlodge.earn("guest-1", 5)
    # When guest-1 refers guest-2, and guest-2 earns twice
    referral = life.starlodge.call(
        "POST", "/v1/members/guest-1/referrals", {"referred_member_id": "guest-2"}
    )
    assert referral.status == 201, referral.body
    assert referral.body["status"] == "pending"
    spend(life, "guest-2", "10.00")
    spend(life, "guest-2", "10.00", reference="order-2")
    # Then guest-1 got 200 and guest-2 100 besides its 20, once, each its own transaction
    assert life.available(life.starlodge, "guest-1") == 205
    assert life.available(life.starlodge, "guest-2") == 120
    bonuses = [
        entry
        for member in ("guest-1", "guest-2")
        for entry in life.starlodge.get(f"/v1/members/{member}/transactions").body["items"]
        if entry.get("referral_id")
    ]
    assert sorted(bonus["points"] for bonus in bonuses) == [100, 200]
    assert {bonus["referral_id"] for bonus in bonuses} == {referral.body["referral_id"]}
    # And a bonus is reversible like an earn
    bonus = next(bonus for bonus in bonuses if bonus["points"] == 200)
    assert life.starlodge.reverse(bonus["transaction_id"]).status == 201
    assert life.available(life.starlodge, "guest-1") == 5
    assert ledger_check().ok


def test_a_member_is_referred_once_and_only_before_it_earns(life: Life) -> None:
    # Given a referral rule and a member with history
    set_rules(
        "STAR",
        {"rule_id": "friends", "type": "referral", "referrer_points": 2, "referred_points": 1},
    )
    life.starlodge.earn("guest-old", 5)

    def refer(referrer: str, referred: str, key: str = "auto") -> Any:
        return life.starlodge.call(
            "POST",
            f"/v1/members/{referrer}/referrals",
            {"referred_member_id": referred},
            idempotency_key=key,
        )

    # When guest-2 is referred by guest-1, then again by guest-3, and the first is retried
    first = refer("guest-1", "guest-2", key="ref-1")
    second = refer("guest-3", "guest-2")
    retried = refer("guest-1", "guest-2", key="ref-1")
    # Then the second is a conflict and the retry answers the first
    assert first.status == 201
    assert (second.status, second.code) == (409, "conflict")
    assert retried.status == 201 and retried.headers.get("Idempotent-Replayed") == "true"
    assert retried.body == first.body
    # And a member who has earned already, or oneself, cannot be referred
    assert refer("guest-1", "guest-old").code == "conflict"
    assert refer("guest-1", "guest-1").code == "validation_error"


def test_a_retried_first_earn_does_not_credit_the_referral_twice(life: Life) -> None:
    # Given a referral of guest-2 by guest-1
    set_rules(
        "STAR",
        PER_DOLLAR,
        {"rule_id": "friends", "type": "referral", "referrer_points": 200, "referred_points": 100},
    )
    life.starlodge.call("POST", "/v1/members/guest-1/referrals", {"referred_member_id": "guest-2"})
    # When guest-2's first earn is sent three times under one key
    body = {"amount": "10.00", "reference": "order-1"}
    for _ in range(3):
        life.starlodge.call("POST", "/v1/members/guest-2/earn", body, idempotency_key="first")
    # Then the bonuses were paid once
    assert life.available(life.starlodge, "guest-1") == 200
    assert life.available(life.starlodge, "guest-2") == 110


def test_member_inactive_is_published_once_when_the_gap_is_reached(life: Life) -> None:
    # Given a comeback rule after 30 days, and a member active on day 0
    set_rules(
        "STAR",
        PER_DOLLAR,
        {"rule_id": "welcome-back", "type": "comeback", "inactive_days": 30, "points": 50},
    )
    active_at = life.clock.at(datetime(2025, 1, 10, 12, tzinfo=UTC))
    spend(life, "guest-1", "10.00")
    # When the points sweep runs 1 µs short of 30 days, at 30 days, and a day later
    for moment in (
        active_at + timedelta(days=30, microseconds=-1),
        active_at + timedelta(days=30),
        active_at + timedelta(days=31),
    ):
        life.sweep("points", at=moment)
    life.events.publish()
    # Then member.inactive was published once, naming the last activity
    inactive = life.events.of_type("member.inactive")
    assert [event["data"] for event in inactive] == [
        {
            "program": "STAR",
            "member_id": "guest-1",
            "active_at": "2025-01-10T12:00:00.000000Z",
            "inactive_days": 30,
        }
    ]
    # And when the member comes back it gets its bonus and a new stretch starts
    life.clock.at(active_at + timedelta(days=40))
    assert spend(life, "guest-1", "10.00", reference="order-2").body["transaction"]["points"] == 60
    life.sweep("points", at=active_at + timedelta(days=70))
    life.events.publish()
    assert len(life.events.of_type("member.inactive")) == 2


def test_an_earn_by_amount_in_a_linked_program_is_priced_by_its_rules(life: Life) -> None:
    # Given STAR gives 2 points per 1.00, and rideco's rider-1 is linked to guest-1 at STAR
    set_rules("STAR", PER_DOLLAR | {"points": 2})
    proposal = life.rideco.call(
        "POST",
        "/v1/links",
        {"member_id": "rider-1", "partner_program": "STAR", "partner_member_id": "guest-1"},
    )
    life.starlodge.call("POST", f"/v1/links/{proposal.body['link_id']}/confirm")
    # When rideco earns STAR for a 12.40 ride
    body = {"amount": "12.40", "reference": "ride-1", "program": "STAR"}
    reply = life.rideco.call("POST", "/v1/members/rider-1/earn", body)
    # Then guest-1 gets floor(24.8) = 24 STAR, and rideco owes starlodge 24 x 0.0025
    assert reply.status == 201, reply.body
    transaction = life.starlodge.get(
        f"/v1/transactions/{reply.body['transaction']['transaction_id']}"
    )
    assert transaction.body["points"] == 24
    assert transaction.body["member_id"] == "guest-1"
    assert transaction.body["obligation"]["points"] == 24
    assert transaction.body["obligation"]["unit_price"] == "0.0025"


def test_a_hold_by_amount_holds_the_points_the_rules_give(life: Life) -> None:
    # Given 1 point per 1.00
    set_rules("STAR", PER_DOLLAR)
    # When a stay of 250.00 is earned as pending, and captured
    held = spend(life, "guest-1", "250.00", pending=True).body["transaction"]
    life.starlodge.call("POST", f"/v1/transactions/{held['transaction_id']}/capture")
    # Then 250 points were held and are now available
    assert (held["type"], held["points"], held["status"]) == ("hold", 250, "pending")
    assert life.available(life.starlodge, "guest-1") == 250
