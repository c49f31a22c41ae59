"""What a member balance remembers besides points: tier buckets, tier, lapse date, next review,
when the member was last active and the custom actions it earned for today.

Every posting moves this state forward from the stored one (a tier rises at once); what time
alone changes (a tier falling as months leave the window, a balance lapsing, a notice
falling due) is applied by the scheduled review at `review_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pydantic import ConfigDict, Field

from pointsnet.clock import UtcTime
from pointsnet.ledger import tiers
from pointsnet.model import Model
from pointsnet.programs.policy import ProgramPolicy


class AccountLifecycle(Model):
    model_config = ConfigDict(frozen=True)

    earned: dict[str, int] = Field(
        default_factory=dict, description="Points earned per month of the tier window"
    )
    tier: str | None = None
    lapses_at: UtcTime | None = Field(
        default=None, description="When the balance expires for inactivity"
    )
    lapse_noticed: bool = Field(
        default=False, description="points.expiring was recorded for this lapses_at"
    )
    review_at: UtcTime | None = Field(
        default=None, description="When the scheduled review must look at the account"
    )
    active_at: UtcTime | None = Field(
        default=None, description="The member's last earn, capture, hold, burn or exchange"
    )
    # Earns per custom action on one UTC day (`actions_on`): `max_per_day` counts them, and
    # keeping them on the balance makes the count exact under the balance's version.
    actions_on: str | None = None
    actions: dict[str, int] = Field(default_factory=dict)
    inactive_noticed: bool = Field(
        default=False, description="member.inactive was recorded since the last activity"
    )

    def actions_today(self, action: str, now: datetime) -> int:
        return self.actions.get(action, 0) if self.actions_on == _day(now) else 0


@dataclass(frozen=True)
class TierMove:
    from_tier: str
    to_tier: str
    direction: str  # "up" or "down"
    points_earned: int
    window_start: date


@dataclass(frozen=True)
class Reviewed:
    state: AccountLifecycle
    tier_move: TierMove | None
    lapse_notice: bool
    inactive_notice: bool = False


def after_posting(
    before: AccountLifecycle,
    policy: ProgramPolicy,
    now: datetime,
    *,
    earned: tuple[str, int] | None,
    activity: bool,
    available_after: int,
    action: str | None = None,
    inactive_days: int | None = None,
) -> tuple[AccountLifecycle, TierMove | None]:
    """The state after a posting: `earned` is (month, points) it adds to the tier window,
    `action` the custom action it earned for."""
    buckets: dict[str, int] = {}
    if policy.tiers:
        buckets = (
            tiers.add_earned(before.earned, earned[0], earned[1], now)
            if earned
            else tiers.prune(before.earned, now)
        )
    tier, move = _rank(before.tier, policy, buckets, now)
    lapses_at, noticed = before.lapses_at, before.lapse_noticed
    if policy.expiry is None or not policy.lapses:
        lapses_at, noticed = None, False
    elif activity:
        renewed = policy.expiry.lapse_after(now)
        if renewed != lapses_at:
            lapses_at, noticed = renewed, False
    if lapses_at is not None and lapses_at <= now and available_after == 0:
        lapses_at, noticed = None, False
    state = before.model_copy(
        update={
            "earned": buckets,
            "tier": tier,
            "lapses_at": lapses_at,
            "lapse_noticed": noticed,
            "active_at": now if activity else before.active_at,
            "inactive_noticed": False if activity else before.inactive_noticed,
            **_counted(before, action, now),
        }
    )
    reviewed = _with_review(state, policy, now, inactive_days)
    # A posting never puts the review later: moving the balance's ByDue key on every earn
    # would cost two index writes each; a review that comes early finds nothing due and
    # sets the next one, at most once per gap (a member's inactivity, a lapse renewed).
    if before.review_at is not None and (
        reviewed.review_at is None or before.review_at < reviewed.review_at
    ):
        reviewed = reviewed.model_copy(update={"review_at": before.review_at})
    return reviewed, move


def _counted(before: AccountLifecycle, action: str | None, now: datetime) -> dict[str, object]:
    if action is None:
        return {}
    today = _day(now)
    counts = dict(before.actions) if before.actions_on == today else {}
    counts[action] = counts.get(action, 0) + 1
    return {"actions_on": today, "actions": counts}


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def on_review(
    before: AccountLifecycle,
    policy: ProgramPolicy,
    now: datetime,
    available: int,
    inactive_days: int | None = None,
) -> Reviewed:
    """The state after time alone has passed (no posting): falls, notices, cleared lapses."""
    buckets = tiers.prune(before.earned, now) if policy.tiers else {}
    tier, move = _rank(before.tier, policy, buckets, now)
    lapses_at, noticed = before.lapses_at, before.lapse_noticed
    if policy.expiry is None or not policy.lapses:
        lapses_at, noticed = None, False
    notice = False
    if lapses_at is not None and policy.expiry is not None and not noticed:
        notice_at = policy.expiry.notice_at(lapses_at)
        if notice_at is not None and notice_at <= now:
            # Marked even with nothing to announce, so the review does not fall due again.
            notice, noticed = available > 0 and now < lapses_at, True
    if lapses_at is not None and lapses_at <= now and available == 0:
        lapses_at, noticed = None, False
    inactive_at = _inactive_at(before, inactive_days)
    inactive = inactive_at is not None and inactive_at <= now
    state = before.model_copy(
        update={
            "earned": buckets,
            "tier": tier,
            "lapses_at": lapses_at,
            "lapse_noticed": noticed,
            "inactive_noticed": before.inactive_noticed or inactive,
        }
    )
    return Reviewed(
        state=_with_review(state, policy, now, inactive_days),
        tier_move=move,
        lapse_notice=notice,
        inactive_notice=inactive,
    )


def _inactive_at(state: AccountLifecycle, inactive_days: int | None) -> datetime | None:
    """When the member becomes inactive, if the program watches and it is not noticed yet."""
    if inactive_days is None or state.active_at is None or state.inactive_noticed:
        return None
    return state.active_at + timedelta(days=inactive_days)


def _rank(
    recorded: str | None, policy: ProgramPolicy, buckets: dict[str, int], now: datetime
) -> tuple[str | None, TierMove | None]:
    if not policy.tiers:
        return None, None
    points = tiers.points_earned(buckets, now)
    reached = tiers.tier_for(policy.tiers, points).name
    names = [tier.name for tier in policy.tiers]
    # Every member starts in the first tier: reaching another is a change worth announcing.
    was = recorded if recorded in names else names[0]
    if reached == was:
        return reached, None
    direction = "up" if names.index(reached) > names.index(was) else "down"
    return reached, TierMove(was, reached, direction, points, tiers.window_start(now))


def _with_review(
    state: AccountLifecycle, policy: ProgramPolicy, now: datetime, inactive_days: int | None
) -> AccountLifecycle:
    due: list[datetime] = []
    if (inactive_at := _inactive_at(state, inactive_days)) is not None:
        due.append(inactive_at)
    if state.lapses_at is not None:
        notice_at = policy.expiry.notice_at(state.lapses_at) if policy.expiry else None
        if notice_at is not None and not state.lapse_noticed and notice_at < state.lapses_at:
            due.append(notice_at)
        due.append(state.lapses_at)
    if state.tier is not None and state.tier != policy.base_tier:
        drop = tiers.next_drop(state.earned, now)
        if drop is not None:
            due.append(drop)
    return state.model_copy(update={"review_at": min(due) if due else None})
