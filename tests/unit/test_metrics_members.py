"""Member sets: exact while small, HyperLogLog sketches beyond, and what counts, unions and
overlaps of them give."""

from __future__ import annotations

import pytest

from pointsnet.metrics.members import (
    EXACT_LIMIT,
    REGISTERS,
    ExactMembers,
    SketchMembers,
    decode,
    encode,
    member_hash,
    members_of,
    overlap,
    union,
)

# Over 2.5 standard errors (1.04 / sqrt(4096) = 1.6 %).
TOLERANCE = 0.04


def hashes(first: int, last: int, cohort: str = "a") -> list[int]:
    """The hashes of members first..last-1 of a cohort."""
    return [member_hash(f"member:starlodge:{cohort}-{number}") for number in range(first, last)]


def test_a_member_is_the_8_byte_blake2b_of_its_account() -> None:
    # Given a member account
    account = "member:starlodge:guest-42"
    # When it is hashed twice, and another account once
    # Then the hash is stable, 64 bits, and another account's differs
    assert member_hash(account) == member_hash(account)
    assert 0 <= member_hash(account) < 2**64
    assert member_hash(account) != member_hash("member:starlodge:guest-43")


def test_a_small_day_is_exact_and_round_trips_as_sorted_packed_hashes() -> None:
    # Given a day of 1,000 distinct members, one of them seen twice
    day = hashes(0, 1000) + hashes(0, 1)
    # When it becomes a member set and is encoded and decoded
    members = members_of(day)
    data = encode(members)
    # Then it is exact, counts 1,000, takes 8 bytes a member, and decodes to itself
    assert isinstance(members, ExactMembers) and not members.estimated
    assert members.count() == 1000
    assert len(data) == 1 + 8 * 1000
    assert decode(data) == members


def test_a_day_over_the_limit_is_a_sketch_of_4096_one_byte_registers() -> None:
    # Given a day of one member more than the exact limit
    day = hashes(0, EXACT_LIMIT + 1)
    # When it becomes a member set and is encoded
    members = members_of(day)
    # Then it is a sketch, 4 KB, estimated within 4 % (2.5 standard errors), and decodes to
    # itself
    assert isinstance(members, SketchMembers) and members.estimated
    assert len(encode(members)) == 1 + REGISTERS
    assert decode(encode(members)) == members
    assert abs(members.count() - (EXACT_LIMIT + 1)) <= TOLERANCE * EXACT_LIMIT
    # And a day at the limit is still exact
    assert isinstance(members_of(day[:EXACT_LIMIT]), ExactMembers)


@pytest.mark.parametrize("size", [0, 10, 1_000, 30_000, 100_000, 300_000])
def test_a_sketch_counts_within_a_few_percent(size: int) -> None:
    # Given `size` distinct members (a sketch is made only of more than 20,000: the standard
    # estimator's bias between 2.5 and 5 x 4,096 registers is below that)
    # When a sketch of them is counted
    estimate = SketchMembers.of(hashes(0, size)).count()
    # Then the estimate is within 4 % (exact for tiny sets, by linear counting)
    assert abs(estimate - size) <= TOLERANCE * size


def test_a_union_of_exact_days_is_exact_and_counts_each_member_once() -> None:
    # Given three days of members that overlap
    days = [members_of(hashes(0, 500)), members_of(hashes(250, 750)), members_of(hashes(0, 10))]
    # When they are united
    members = union(days)
    # Then the union is exact: members 0..749, each once
    assert isinstance(members, ExactMembers)
    assert members.count() == 750


def test_a_union_with_a_sketch_is_a_sketch_of_every_member() -> None:
    # Given an exact day of 5,000 members and a sketched day of 30,000, 2,000 of them shared
    days = [members_of(hashes(0, 5_000)), members_of(hashes(3_000, 33_000))]
    assert isinstance(days[1], SketchMembers)
    # When they are united, in either order
    forward, backward = union(days), union(reversed(days))
    # Then both are the same sketch, estimating 33,000 within 4 %
    assert isinstance(forward, SketchMembers) and forward == backward
    assert abs(forward.count() - 33_000) <= TOLERANCE * 33_000


def test_an_exact_union_over_its_limit_becomes_a_sketch() -> None:
    # Given exact days whose union is over the union's limit
    days = [members_of(hashes(0, 600)), members_of(hashes(600, 1_200))]
    # When they are united under a limit of 1,000
    members = union(days, limit=1_000)
    # Then the union is a sketch estimating 1,200 (by linear counting, at this size)
    assert isinstance(members, SketchMembers)
    assert abs(members.count() - 1_200) <= TOLERANCE * 1_200


def test_the_overlap_of_exact_sets_is_exact() -> None:
    # Given members 0..999 in one period and 600..1,599 in the next
    first, second = members_of(hashes(0, 1_000)), members_of(hashes(600, 1_600))
    # When their overlap is counted
    # Then it is the 400 members in both
    assert overlap(first, second) == 400


def test_the_overlap_of_sketches_of_100k_members_is_within_a_few_percent() -> None:
    # Given 100,000 members in one period and 100,000 in the next, 50,000 of them in both
    first = SketchMembers.of(hashes(0, 100_000, "b"))
    second = SketchMembers.of(hashes(50_000, 150_000, "b"))
    # When their overlap is estimated by inclusion-exclusion
    both = overlap(first, second)
    # Then it is within 3 % of the periods' 100,000 members (so retention within 0.03)
    assert abs(both - 50_000) <= 0.03 * 100_000
    # And with one side exact the estimate is as good
    exact_first = ExactMembers(frozenset(hashes(0, 100_000, "b")))
    assert abs(overlap(exact_first, second) - 50_000) <= 0.03 * 100_000


def test_an_overlap_estimate_stays_within_what_is_possible() -> None:
    # Given two sketched periods with no member in common
    first = SketchMembers.of(hashes(0, 30_000, "c"))
    second = SketchMembers.of(hashes(0, 30_000, "d"))
    # When their overlap is estimated
    both = overlap(first, second)
    # Then it is never negative nor more than the smaller set, and near 0
    assert 0 <= both <= min(first.count(), second.count())
    assert both <= 0.05 * 30_000


def test_anything_else_is_not_a_member_set() -> None:
    # Given bytes that are no encoding of a member set
    # When they are decoded
    # Then they are refused
    for data in (b"", b"X123", b"E1234567", b"H" + bytes(10)):
        with pytest.raises(ValueError):
            decode(data)
