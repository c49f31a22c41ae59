"""What a member balance remembers besides points: tier buckets, tier, lapse date, next review.

Every posting moves this state forward from the stored one (a tier rises at once); what time
alone changes (a tier falling as months leave the window, a balance lapsing, a notice
falling due) is applied by the scheduled review at `review_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from pointsnet.clock import UtcTime
from pointsnet.ledger import tiers
from pointsnet.programs.policy import ProgramPolicy


class AccountLifecycle(BaseModel):
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


def after_posting(
    before: AccountLifecycle,
    policy: ProgramPolicy,
    now: datetime,
    *,
    earned: tuple[str, int] | None,
    activity: bool,
    available_after: int,
) -> tuple[AccountLifecycle, TierMove | None]:
    """The state after a posting: `earned` is (month, points) it adds to the tier window."""
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
    state = AccountLifecycle(earned=buckets, tier=tier, lapses_at=lapses_at, lapse_noticed=noticed)
    return _with_review(state, policy, now), move


def on_review(
    before: AccountLifecycle, policy: ProgramPolicy, now: datetime, available: int
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
    state = AccountLifecycle(earned=buckets, tier=tier, lapses_at=lapses_at, lapse_noticed=noticed)
    return Reviewed(state=_with_review(state, policy, now), tier_move=move, lapse_notice=notice)


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


def _with_review(state: AccountLifecycle, policy: ProgramPolicy, now: datetime) -> AccountLifecycle:
    due: list[datetime] = []
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
