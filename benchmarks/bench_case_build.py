"""Measure building review cases from a decision store, and rebuilding them.

Run ``python benchmarks/bench_case_build.py [--verdicts N] [--accounts N]
[--postgres DSN]``.
It writes generated alerts (200,000 by default, spread over 5,000 accounts)
to a SQLite decision store in a temporary folder, then times
:func:`trustwatch.review.cases.build_cases` into an empty review store (every
alert new), a rebuild from the cursor with nothing new (what ``trustwatch
serve`` does every minute), a ``full=True`` rebuild (every alert read again,
none new), and a build after 1,000 new alerts; on SQLite and, when a DSN is
given, with the review store on PostgreSQL in a throwaway schema. Each time
is also given as a ratio to the baseline measured in the same run: reading
and decoding every stored verdict once (``SqliteStore.iter_verdicts``).

Measured on a 2-core development machine shared with other work, 200,000
alerts over 5,000 accounts, SQLite review store: rebuild from the cursor with
nothing new 0.001 s (3.3 s when every build read the whole store); build
after 1,000 new alerts 0.21 s; full rebuild 5.1 s; first build 19 s (7.3 s
in one step before: here every page of 20,000 alerts touches all 5,000 cases,
which are rewritten once per page so that a stopped build can resume).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trustwatch.decisions.model import Verdict
from trustwatch.detectors.base import Signal
from trustwatch.review.cases import build_cases
from trustwatch.review.store import PostgresReviewStore, SqliteReviewStore
from trustwatch.storage.sqlite import SqliteStore

_START = datetime(2026, 5, 1, tzinfo=UTC)


def alert(n: int, accounts: int) -> Verdict:
    """A challenge on one of ``accounts`` accounts, one second after the last."""
    account = f"acct-{n % accounts}"
    signal = Signal(
        detector="bench",
        detector_version="1",
        kind="brute_force",
        score=0.7,
        entity_type="account",
        entity=account,
        event_id=f"e{n}",
        reasons=("many failures",),
    )
    return Verdict(
        verdict_id=f"v{n:08d}",
        event_id=f"e{n}",
        event_type="login",
        ts=_START + timedelta(seconds=n),
        account=account,
        ip="198.51.100.7",
        decision="challenge",
        score=0.7,
        signals=(signal,),
        rules=(),
        policy="bench@1",
    )


_BASELINE: list[float] = []


def bare_read(path: Path) -> float:
    """Seconds to read and decode every stored verdict once: the baseline."""
    with SqliteStore(path, readonly=True) as decisions:
        started = time.perf_counter()
        for _ in decisions.iter_verdicts():
            pass
        return time.perf_counter() - started


def timed(
    label: str, decisions: SqliteStore, review: object, *, full: bool = False
) -> None:
    started = time.perf_counter()
    summary = build_cases(decisions, review, full=full)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    print(
        f"{label}: {elapsed:.3f} s, {elapsed / _BASELINE[0]:.4f}x the bare read "
        f"({summary.verdicts:,} alerts read, {summary.alerts:,} new, "
        f"{summary.cases_changed:,} cases changed)"
    )


def rebuilds(
    kind: str, path: Path, review: object, verdicts: int, accounts: int
) -> None:
    """Time a first build, rebuilds with nothing new, and one after new alerts."""
    with SqliteStore(path, readonly=True) as decisions:
        timed(f"{kind} build", decisions, review)
        timed(f"{kind} rebuild from the cursor", decisions, review)
        timed(f"{kind} full rebuild", decisions, review, full=True)
    with SqliteStore(path) as store:
        added = range(verdicts, verdicts + 1000)
        store.write_verdicts(alert(n, accounts) for n in added)
    with SqliteStore(path, readonly=True) as decisions:
        timed(f"{kind} build after 1,000 new alerts", decisions, review)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verdicts", type=int, default=200_000)
    parser.add_argument("--accounts", type=int, default=5_000)
    parser.add_argument(
        "--postgres", metavar="DSN", help="Also a PostgreSQL review store."
    )
    args = parser.parse_args()
    verdicts, accounts, dsn = args.verdicts, args.accounts, args.postgres
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "decisions.sqlite"
        with SqliteStore(path) as store:
            store.write_verdicts(alert(n, accounts) for n in range(verdicts))
        _BASELINE.append(bare_read(path))
        print(f"baseline: reading {verdicts:,} verdicts takes {_BASELINE[0]:.3f} s")
        with SqliteReviewStore(Path(folder) / "review.sqlite") as review:
            rebuilds("sqlite", path, review, verdicts, accounts)
        if dsn is None:
            return
        schema = f"tw_bench_{uuid.uuid4().hex[:8]}"
        with PostgresReviewStore(dsn, schema=schema, migrate=True) as review:
            try:
                rebuilds("postgres", path, review, verdicts + 1000, accounts)
            finally:
                with review._engine.begin() as db:
                    db.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
