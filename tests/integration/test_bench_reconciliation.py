"""The reconciliation benchmark's counts on a small seeded day (its timings are not checked).

It runs moto's server in a child process, as `make bench` does, so it needs no `aws` fixture.
"""

from __future__ import annotations

from bench.reconciliation import _measure

ENTRIES = 400


def test_a_reconciliation_run_reads_every_seeded_entry_and_obligation() -> None:
    # Given a day of 400 entries over 300 members, written straight into the tables
    # When the benchmark reconciles it (it raises if the run read other than the entries and
    # obligations it seeded)
    figures = _measure(ENTRIES)
    # Then 40 obligations were seeded and read: every tenth entry (0, 10, ..., 390) is a
    # cross-partner earn. No burn displaces one: a burn needs a member's second entry
    # (numbers 300 and up) and a multiple of 7; of the multiples of 70 only 350 is that high,
    # and its member (slot 50) holds 10 + 50 = 60 points against the 10 + 350 % 90 = 90 it
    # would burn
    assert (figures.entries, figures.obligations) == (400, 40)
    # And every member touched has its balance checked: 400 entries reach all 300 members
    assert figures.accounts == 300
    # And every check passes, in pages read through the SDK, with memory traced
    assert figures.checks_ok
    assert figures.pages > 0
    assert figures.aws_calls > 0
    assert figures.peak_bytes > 0
