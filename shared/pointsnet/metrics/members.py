"""Sets of members, exact while small and a HyperLogLog sketch beyond: counts, unions and the
overlap that retention needs, at a bounded size per stored day.

A member is the 8-byte BLAKE2b hash of its member account. A day with at most `EXACT_LIMIT`
distinct members keeps their hashes, sorted and packed (8 bytes each, 160 KB at the limit);
above it, a sketch of `REGISTERS` one-byte registers (p = 12, 4 KB, a standard error of
1.04 / sqrt(4096) = 1.6 %). Counting, union and overlap are exact while every set involved is
exact; once one is a sketch, they are estimates, and `estimated` says so.

A union of exact days stays exact up to `UNION_EXACT_LIMIT` members (a Python set of that many
hashes is some 45 MB); beyond it, it becomes a sketch too.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

P: Final = 12
REGISTERS: Final = 1 << P  # 4096
EXACT_LIMIT: Final = 20_000
UNION_EXACT_LIMIT: Final = 500_000
HASH_BYTES: Final = 8
_RANK_BITS: Final = 64 - P
_RANK_MASK: Final = (1 << _RANK_BITS) - 1
# The encodings' first byte.
_EXACT_TAG: Final = b"E"
_SKETCH_TAG: Final = b"H"


def member_hash(account: str) -> int:
    """A member account's 64-bit hash: BLAKE2b with an 8-byte digest, read big-endian."""
    return int.from_bytes(hashlib.blake2b(account.encode(), digest_size=HASH_BYTES).digest(), "big")


@dataclass(frozen=True)
class ExactMembers:
    """Every member's hash."""

    hashes: frozenset[int]

    @property
    def estimated(self) -> bool:
        return False

    def count(self) -> int:
        return len(self.hashes)

    def sketch(self) -> SketchMembers:
        return SketchMembers.of(self.hashes)


@dataclass(frozen=True)
class SketchMembers:
    """A HyperLogLog sketch: register j holds the highest rank seen among hashes whose top
    P bits are j (rank: the position of the first 1 bit in the other 52, from 1)."""

    registers: bytes

    @classmethod
    def of(cls, hashes: Iterable[int]) -> SketchMembers:
        registers = bytearray(REGISTERS)
        for value in hashes:
            index = value >> _RANK_BITS
            rest = value & _RANK_MASK
            rank = _RANK_BITS - rest.bit_length() + 1
            if rank > registers[index]:
                registers[index] = rank
        return cls(bytes(registers))

    @property
    def estimated(self) -> bool:
        return True

    def count(self) -> int:
        """The standard estimate, alpha_m m^2 / sum 2^-M[j], with linear counting
        (m ln(m / V), V the empty registers) where it is at most 2.5 m and a register is empty.
        64-bit hashes need no large-range correction."""
        m = REGISTERS
        alpha = 0.7213 / (1 + 1.079 / m)
        raw = alpha * m * m / sum(2.0**-register for register in self.registers)
        empty = self.registers.count(0)
        if raw <= 2.5 * m and empty:
            return round(m * math.log(m / empty))
        return round(raw)

    def sketch(self) -> SketchMembers:
        return self

    def merged(self, other: SketchMembers) -> SketchMembers:
        """The union: the larger register of each pair."""
        return SketchMembers(
            bytes(
                max(mine, theirs)
                for mine, theirs in zip(self.registers, other.registers, strict=True)
            )
        )


MemberSet = ExactMembers | SketchMembers
EMPTY: Final = ExactMembers(frozenset())


def members_of(hashes: Iterable[int], limit: int = EXACT_LIMIT) -> MemberSet:
    """A day's members: exact up to `limit`, a sketch above it."""
    unique = frozenset(hashes)
    return ExactMembers(unique) if len(unique) <= limit else SketchMembers.of(unique)


def union(sets: Iterable[MemberSet], limit: int = UNION_EXACT_LIMIT) -> MemberSet:
    """Exact while every set is and the union has at most `limit` members; else a sketch."""
    exact: set[int] = set()
    sketch: SketchMembers | None = None
    for members in sets:
        if isinstance(members, ExactMembers) and sketch is None:
            exact |= members.hashes
            if len(exact) > limit:
                sketch, exact = SketchMembers.of(exact), set()
            continue
        if sketch is None:
            sketch, exact = SketchMembers.of(exact), set()
        sketch = sketch.merged(members.sketch())
    return sketch if sketch is not None else ExactMembers(frozenset(exact))


def overlap(first: MemberSet, second: MemberSet) -> int:
    """Members in both: exact for two exact sets; else by inclusion-exclusion on sketches,
    |A| + |B| - |A u B|, each side's exact count used where it is known, kept within
    0..min(|A|, |B|)."""
    if isinstance(first, ExactMembers) and isinstance(second, ExactMembers):
        return len(first.hashes & second.hashes)
    both = first.sketch().merged(second.sketch()).count()
    found = first.count() + second.count() - both
    return max(0, min(found, first.count(), second.count()))


def encode(members: MemberSet) -> bytes:
    """`E` and the sorted 8-byte hashes, or `H` and the 4096 registers."""
    if isinstance(members, SketchMembers):
        return _SKETCH_TAG + members.registers
    ordered = sorted(members.hashes)
    return _EXACT_TAG + struct.pack(f">{len(ordered)}Q", *ordered)


def decode(data: bytes) -> MemberSet:
    tag, body = data[:1], data[1:]
    if tag == _SKETCH_TAG and len(body) == REGISTERS:
        return SketchMembers(bytes(body))
    if tag == _EXACT_TAG and len(body) % HASH_BYTES == 0:
        return ExactMembers(frozenset(struct.unpack(f">{len(body) // HASH_BYTES}Q", body)))
    raise ValueError("not an encoded member set")
