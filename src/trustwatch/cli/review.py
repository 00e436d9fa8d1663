"""Commands that read the store: alerts, explanations, dead letters, dev data."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import click
import msgspec
from rich.table import Table

from trustwatch.cli.options import Timestamp, checked_sqlite_store, db_option
from trustwatch.cli.render import (
    clean,
    error_console,
    explain_tree,
    output_console,
    verdict_table,
)
from trustwatch.decisions.model import ACTION_SEVERITY
from trustwatch.errors import ConfigError
from trustwatch.storage.sqlite import SqliteStore, VerdictQuery

__all__ = ["alerts", "dead_letters", "devdata", "one_signal_kind"]

console = output_console()
errors = error_console()


def open_store(db: Path) -> SqliteStore:
    """Open an existing store for reading, or fail with a hint."""
    if not db.is_file():
        raise ConfigError(f"no store at {db}; hint: run `trustwatch run` or pass --db")
    return SqliteStore(db, readonly=True)


def one_signal_kind(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    """Check a ``--kind`` option: one signal kind, which holds no spaces."""
    if value is not None and (not value or any(c.isspace() for c in value)):
        raise click.BadParameter(
            "give one signal kind, such as brute_force (kinds hold no spaces)",
            ctx=ctx,
            param=param,
        )
    return value


def _write_json_lines(records: Sequence[object]) -> None:
    encode = msgspec.json.Encoder().encode
    for record in records:
        sys.stdout.write(encode(record).decode() + "\n")


@click.group(invoke_without_command=True)
@click.option(
    "--decision",
    type=click.Choice(list(ACTION_SEVERITY)),
    help="Only this decision.",
)
@click.option("--account", help="Only verdicts on this account.")
@click.option("--ip", help="Only verdicts on events from this address.")
@click.option(
    "--kind",
    callback=one_signal_kind,
    help="Only verdicts with a signal of this kind.",
)
@click.option("--since", type=Timestamp(), help="Only from this time (UTC if no zone).")
@click.option(
    "--until",
    type=Timestamp(),
    help="Only before this time (a filter: page on with --after).",
)
@click.option(
    "--after",
    metavar="VERDICT_ID",
    help="Only the verdicts listed after this one: the next page, when given "
    "the last verdict id a page listed.",
)
@click.option(
    "--all", "include_allow", is_flag=True, help="Include verdicts decided allow."
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Most verdicts to list, newest first.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines instead of a table.")
@db_option
@click.pass_context
def alerts(
    ctx: click.Context,
    decision: str | None,
    account: str | None,
    ip: str | None,
    kind: str | None,
    since: datetime | None,
    until: datetime | None,
    after: str | None,
    include_allow: bool,
    limit: int,
    as_json: bool,
    db: Path,
) -> None:
    """List stored verdicts, newest first; `alerts explain ID` explains one.

    Verdicts of one time are listed by verdict id, highest first; --after
    the last id of a page lists the next page, none skipped or repeated.
    """
    ctx.obj = db
    if ctx.invoked_subcommand is not None:
        return
    if since is not None and until is not None and since >= until:
        raise ConfigError(
            "--since must come before --until; hint: --since is the first "
            "time listed, --until the end (not included)"
        )
    query = VerdictQuery(
        decision=decision,
        min_decision=not include_allow and decision is None,
        account=account,
        ip=ip,
        kind=kind,
        since=since,
        until=until,
        after=after,
        limit=limit,
    )
    if kind is not None:
        from trustwatch.detectors import known_signal_kinds

        known = known_signal_kinds()
        if kind not in known:
            errors.print(
                f"warning: no registered detector raises {clean(kind)!r}; "
                f"hint: kinds such as {', '.join(sorted(known)[:6])}..."
            )
    with open_store(db) as store:
        found = list(store.verdicts(query))
        hidden = not found and query.min_decision and _any_allowed(store, query)
    if as_json:
        _write_json_lines(found)
        return
    console.print(verdict_table(found))
    if hidden:
        errors.print(
            "note: verdicts decided allow match but are not listed (signals no "
            "enforced rule acts on, shadow rules' hits among them); --all "
            "lists them"
        )
    if len(found) == limit:
        shown = f"the newest {limit:,}" if after is None else f"{limit:,} more"
        errors.print(
            f"{shown} shown; more may match (next page: --after "
            f"{clean(found[-1].verdict_id)}; --limit for more, --since/--until "
            "for a window)"
        )


def _any_allowed(store: SqliteStore, query: VerdictQuery) -> bool:
    """Whether a verdict decided allow matches ``query``'s other filters."""
    allowed = dataclasses.replace(query, decision="allow", min_decision=False, limit=1)
    return any(True for _ in store.verdicts(allowed))


@alerts.command()
@click.argument("verdict_id")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=checked_sqlite_store,
    help="The store, if not given before `explain`.",
)
@click.pass_obj
def explain(group_db: Path, verdict_id: str, db: Path | None) -> None:
    """Explain VERDICT_ID (or an event id): signals, reasons, intel, rules."""
    path = db or group_db
    with open_store(path) as store:
        verdict = store.verdict(verdict_id)
        if verdict is None:
            raise ConfigError(f"no verdict {clean(verdict_id)!r} in {path}")
        others = []
        if verdict.verdict_id != verdict_id:  # found by its event id
            others = [
                v
                for v in store.verdict_ids_of_event(verdict_id)
                if v != verdict.verdict_id
            ]
        console.print(explain_tree(verdict, store.actions_for(verdict.verdict_id)))
    if others:
        errors.print(
            f"note: event {clean(verdict_id)!r} has other verdicts (decided under "
            "another policy, or the event id came again with other content): "
            f"{', '.join(others)}; explain each by its verdict id"
        )


@click.command("dead-letters")
@click.option("--reason", help="Only this reason (malformed_json, schema...).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--raw", is_flag=True, help="Show each record as it was read.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines, raw included.")
@db_option
def dead_letters(
    reason: str | None, limit: int, raw: bool, as_json: bool, db: Path
) -> None:
    """List records that could not be read, in reading order, with the reason."""
    with open_store(db) as store:
        letters = store.dead_letters(limit, reason=reason)
        by_reason = store.dead_letter_reasons() if reason else {}
        total = by_reason.get(reason, 0) if reason else store.counts()["dead_letters"]
        reasons = by_reason if reason and not letters else {}
    if reasons:
        held = ", ".join(f"{clean(r)} ({n:,})" for r, n in reasons.items())
        errors.print(
            f"warning: no dead letter has reason {clean(reason)!r}; the store "
            f"holds {held}"
        )
    if as_json:
        _write_json_lines(list(letters))
        return
    for letter in letters:
        console.print(
            f"{clean(letter.source)} {clean(letter.location)} {letter.reason}: "
            f"{clean(letter.message)}"
        )
        if raw:
            console.print(f"    {clean(letter.raw)}")
    which = f" with reason {clean(reason)!r}" if reason else ""
    console.print(f"{len(letters):,} shown of {total:,} dead letters{which}")


@click.group()
def devdata() -> None:
    """Event streams built from real third-party data."""


@devdata.command("build")
@click.argument(
    "datasets", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=7, show_default=True)
def devdata_build(datasets: Path, out: Path, seed: int) -> None:
    """Build an event stream from DATASETS (../shared/datasets) into OUT."""
    from trustwatch.devdata import build_dev_stream

    built = build_dev_stream(datasets, out, seed=seed)
    console.print(f"{built.events:,} events -> {clean(built.events_path)}")
    console.print(f"answer key -> {clean(built.truth_path)}")
    if built.dead_letters:
        console.print(f"{built.dead_letters:,} source records could not be read")
    for source, n in sorted(built.sources.items()):
        console.print(f"  {source}: {n:,}")
    for name, n in sorted(built.counts.items()):
        console.print(f"  {name}: {n:,}")


@devdata.command("evaluate")
@click.argument("stream", type=click.Path(exists=True, file_okay=False, path_type=Path))
@db_option
def devdata_evaluate(stream: Path, db: Path) -> None:
    """Score a run over the dev stream in STREAM against its answer key."""
    from trustwatch.devdata import evaluate_dev_run

    with open_store(db) as store:
        rows = evaluate_dev_run(stream, store.iter_verdicts())
    table = Table(title=f"{clean(stream)} scored against its answer key")
    for column in ("group", "total", "acted on", "share", "measures"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for row in rows:
        table.add_row(
            row.group,
            f"{row.total:,}",
            f"{row.acted:,}",
            f"{row.rate:.1%}",
            row.measure,
        )
    console.print(table)
