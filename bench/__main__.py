"""`python -m bench`: print the benchmark table and save it as bench/results/latest.md."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from bench.report import latest_markdown, render_table
from bench.run import Options, run

RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"


def parse(argv: list[str]) -> tuple[Options, Path]:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--count-requests", type=int, default=defaults.count_requests)
    parser.add_argument("--timed-requests", type=int, default=defaults.timed_requests)
    parser.add_argument("--cold-runs", type=int, default=defaults.cold_runs)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--seconds", type=float, default=defaults.seconds)
    parser.add_argument("--no-local", action="store_true", help="skip the local stack figure")
    parser.add_argument(
        "--only-local",
        action="store_true",
        help="only the local network (make run) and rate limiter figures",
    )
    parser.add_argument(
        "--only-cold",
        action="store_true",
        help="only the cold start of every function against bare boto3",
    )
    parser.add_argument(
        "--only-reconciliation",
        action="store_true",
        help="only the reconciliation figures (reads per entry, the big day, projection, cost)",
    )
    parser.add_argument(
        "--only-programs",
        action="store_true",
        help="only the earning rules' figures (an earn by amount beside an earn by points) "
        "and the program metrics request's",
    )
    parser.add_argument(
        "--only-imports",
        action="store_true",
        help="only the imports' figures (rows per second through the local network, write "
        "units per row beside an earn's, the 2M-row projection)",
    )
    parser.add_argument(
        "--import-rows",
        type=_positive,
        default=defaults.import_rows,
        help="rows of the file imported through the local network (default: %(default)s)",
    )
    parser.add_argument(
        "--reconciliation-sizes",
        type=_sizes,
        default=defaults.reconciliation_sizes,
        help="older ledger entries under the day whose reads per entry are compared, "
        "comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--reconciliation-flat-day",
        type=_positive,
        default=defaults.reconciliation_flat_day,
        help="entries of the day reconciled on each of those ledgers (default: %(default)s)",
    )
    parser.add_argument(
        "--reconciliation-day-entries",
        type=_positive,
        default=defaults.reconciliation_day_entries,
        help="entries of the day reconciled a worker process per shard, as the state machine "
        "runs it (default: %(default)s; seeding takes minutes per 100k)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    options = Options(
        count_requests=args.count_requests,
        timed_requests=args.timed_requests,
        cold_runs=args.cold_runs,
        threads=args.threads,
        workers=args.workers,
        seconds=args.seconds,
        local=not args.no_local,
        only_local=args.only_local,
        only_cold=args.only_cold,
        only_reconciliation=args.only_reconciliation,
        only_programs=args.only_programs,
        only_imports=args.only_imports,
        import_rows=args.import_rows,
        reconciliation_sizes=args.reconciliation_sizes,
        reconciliation_flat_day=args.reconciliation_flat_day,
        reconciliation_day_entries=args.reconciliation_day_entries,
    )
    return options, args.output


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from exc
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def _positive(text: str) -> int:
    (size,) = _sizes(text)
    return size


def main(argv: list[str] | None = None) -> int:
    options, output = parse(sys.argv[1:] if argv is None else argv)
    # Read-only warm-up requests publish no metric; Powertools warns about each empty flush.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    rows, notes = run(options)
    table = render_table(rows)
    print(table)
    print()
    for note in notes:
        print(f"- {note}")
    command = "python -m bench" + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(latest_markdown(table, notes, command), encoding="utf-8")
    print(f"\n(saved to {output})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
