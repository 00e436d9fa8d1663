"""The ``trustwatch`` command line.

Deployment settings (the store, the policy, intel format, geolocation files)
also read ``TRUSTWATCH_*`` environment variables, shown in each ``--help``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.render import explain_tree, summary_table, verdict_table
from trustwatch.decisions.policy import Policy, default_policy, load_policy
from trustwatch.enrichment.geo import GeoResolver
from trustwatch.errors import (
    ConfigError,
    InvalidEventError,
    InvalidIndicatorError,
    PolicyError,
    StorageError,
    TrustwatchError,
)
from trustwatch.storage.sqlite import SqliteStore, VerdictQuery

__all__ = ["cli", "entry_point", "main"]

DEFAULT_DB = "trustwatch-data/trustwatch.sqlite"
F = TypeVar("F", bound=Callable[..., Any])

# piped output gets a wide, fixed width instead of rich's 80 columns
console = Console() if sys.stdout.isatty() else Console(width=160)
errors = Console(stderr=True)

_EXIT_FOR = {
    PolicyError: ExitCode.BAD_CONFIG,
    ConfigError: ExitCode.BAD_CONFIG,
    InvalidEventError: ExitCode.BAD_INPUT,
    InvalidIndicatorError: ExitCode.BAD_INPUT,
    StorageError: ExitCode.DEPENDENCY_FAILED,
}


def db_option(func: F) -> F:
    """Add the ``--db`` option shared by the commands that use the store."""
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_DB,
        show_default=True,
        envvar="TRUSTWATCH_DB",
        show_envvar=True,
        help="The embedded store (SQLite file).",
    )(func)


def geo_options(func: F) -> F:
    """Add the options that choose how source addresses are geolocated."""
    file = click.Path(exists=True, dir_okay=False, path_type=Path)
    func = click.option(
        "--no-geo", is_flag=True, help="Key networks by address prefix only."
    )(func)
    func = click.option(
        "--maxmind-asn",
        type=file,
        envvar="TRUSTWATCH_MAXMIND_ASN",
        show_envvar=True,
        help="A GeoLite2/GeoIP2 ASN file.",
    )(func)
    return click.option(
        "--maxmind-country",
        type=file,
        envvar="TRUSTWATCH_MAXMIND_COUNTRY",
        show_envvar=True,
        help="A GeoLite2/GeoIP2 country or city file (else the bundled data).",
    )(func)


def _geo(country: Path | None, asn: Path | None, off: bool) -> GeoResolver | None:
    from trustwatch.enrichment.geo import BundledGeo, MaxMindGeo

    if off:
        return None
    if country or asn:
        return MaxMindGeo(country, asn)
    return BundledGeo()


def _policy(path: Path | None) -> Policy:
    return load_policy(path) if path else default_policy()


@click.group()
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """trustwatch: find and stop abuse on a file-sharing platform."""
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@click.argument("events", nargs=-1, required=True)
@click.option("--intel", "intel_paths", multiple=True, help="A threat-intel file.")
@click.option(
    "--intel-format",
    default="auto",
    show_default=True,
    envvar="TRUSTWATCH_INTEL_FORMAT",
    show_envvar=True,
    help="Format of the intel files (auto sniffs each).",
)
@click.option(
    "--policy",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="TRUSTWATCH_POLICY",
    show_envvar=True,
    help="A policy file; the shipped default otherwise.",
)
@click.option("--enforce", is_flag=True, help="Mark actions for dispatch, not dry run.")
@geo_options
@db_option
def run(
    events: Sequence[str],
    intel_paths: Sequence[str],
    intel_format: str,
    policy: Path | None,
    enforce: bool,
    maxmind_country: Path | None,
    maxmind_asn: Path | None,
    no_geo: bool,
    db: Path,
) -> None:
    """Run the pipeline over EVENTS (files, directories or globs)."""
    from trustwatch.runtime.embedded import load_intel, run_embedded

    chosen = _policy(policy)
    geo = _geo(maxmind_country, maxmind_asn, no_geo)
    intel = load_intel(intel_paths, intel_format) if intel_paths else None
    with SqliteStore(db) as store, _progress("events") as advance:
        summary = run_embedded(
            events,
            store,
            intel=intel,
            policy=chosen,
            mode="enforce" if enforce else "dry_run",
            geo=geo,
            on_progress=advance,
        )
    console.print(summary_table(summary, title=f"trustwatch run → {db}"))


@cli.command()
@click.option("--accounts", default=2000, show_default=True, help="Simulated accounts.")
@click.option("--days", default=2.0, show_default=True, help="Simulated days.")
@click.option("--seed", default=7, show_default=True, help="Random seed.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("trustwatch-data/demo"),
    show_default=True,
    help="Where the generated events, intel and store go.",
)
def demo(accounts: int, days: float, seed: int, out: Path) -> None:
    """Simulate platform telemetry with attacks mixed in, and catch them."""
    from trustwatch.cli.demo import run_demo

    run_demo(console, out, accounts=accounts, days=days, seed=seed)


@cli.group(invoke_without_command=True)
@click.option("--decision", help="Only this decision (lock_account, challenge...).")
@click.option("--account", help="Only verdicts on this account.")
@click.option("--ip", help="Only verdicts on events from this address.")
@click.option("--kind", help="Only verdicts with a signal of this kind.")
@click.option("--since", type=click.DateTime(), help="Only verdicts from this time.")
@click.option(
    "--all",
    "include_allow",
    is_flag=True,
    help="Include verdicts whose decision is allow.",
)
@click.option("--limit", default=50, show_default=True)
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
    include_allow: bool,
    limit: int,
    as_json: bool,
    db: Path,
) -> None:
    """List stored verdicts, newest first; `alerts explain ID` explains one."""
    ctx.obj = db
    if ctx.invoked_subcommand is not None:
        return
    query = VerdictQuery(
        decision=decision,
        min_decision=not include_allow and decision is None,
        account=account,
        ip=ip,
        kind=kind,
        since=since.astimezone() if since else None,
        limit=limit,
    )
    with _open_store(db) as store:
        found = store.verdicts(query)
    if as_json:
        import msgspec

        for verdict in found:
            sys.stdout.write(msgspec.json.encode(verdict).decode() + "\n")
        return
    console.print(verdict_table(found))


@alerts.command()
@click.argument("verdict_id")
@click.pass_obj
def explain(db: Path, verdict_id: str) -> None:
    """Explain VERDICT_ID (or an event id): signals, reasons, intel, rules."""
    with _open_store(db) as store:
        verdict = store.verdict(verdict_id)
        if verdict is None:
            raise ConfigError(f"no verdict {verdict_id!r} in {db}")
        console.print(explain_tree(verdict, store.actions_for(verdict.verdict_id)))


@cli.command("dead-letters")
@click.option("--limit", default=50, show_default=True)
@db_option
def dead_letters(limit: int, db: Path) -> None:
    """List records that could not be read, with the reason."""
    with _open_store(db) as store:
        for letter in store.dead_letters(limit):
            console.print(
                f"{letter.source} {letter.location} [bold]{letter.reason}[/]: "
                f"{letter.message}",
                markup=True,
                highlight=False,
            )


@cli.command()
def schema() -> None:
    """Print the JSON Schema of trustwatch events."""
    from trustwatch.events.schema import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


@cli.command()
def detectors() -> None:
    """List the registered detectors."""
    from trustwatch.detectors import available

    for name, cls in available().items():
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        console.print(f"[bold]{name}[/] v{cls.version}: {doc}")


@cli.group()
def policy() -> None:
    """Work with policy files."""


@policy.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def policy_check(path: Path) -> None:
    """Check a policy file and list its rules."""
    checked = load_policy(path)
    console.print(f"{checked.ref}: {len(checked.rules)} rules")
    for rule in checked.rules:
        kinds = ", ".join(sorted(rule.signals))
        console.print(
            f"  {rule.id} [{rule.mode}]: {kinds} ≥ {rule.min_score} → {rule.action}"
        )


@cli.group()
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
    console.print(f"{built.events:,} events → {built.events_path}")
    console.print(f"answer key → {built.truth_path}")
    for source, n in sorted(built.sources.items()):
        console.print(f"  {source}: {n:,}")
    for name, n in sorted(built.counts.items()):
        console.print(f"  {name}: {n:,}")


@devdata.command("evaluate")
@click.argument("stream", type=click.Path(exists=True, file_okay=False, path_type=Path))
@db_option
def devdata_evaluate(stream: Path, db: Path) -> None:
    """Score a run over the dev stream in STREAM against its answer key."""
    from rich.table import Table

    from trustwatch.devdata import evaluate_dev_run

    with _open_store(db) as store:
        rows = evaluate_dev_run(stream, store.iter_verdicts())
    table = Table(title=f"{stream} scored against its answer key")
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


def _open_store(db: Path) -> SqliteStore:
    if not db.exists():
        raise ConfigError(f"no store at {db}; run `trustwatch run` or pass --db")
    return SqliteStore(db)


class _progress:
    """A progress display with a running count, as a context manager."""

    def __init__(self, label: str, total: int | None = None) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=errors,
            transient=True,
            disable=not errors.is_terminal,
        )
        self.task = self.progress.add_task(label, total=total)

    def __enter__(self) -> Callable[[int], None]:
        self.progress.start()
        return lambda done: self.progress.update(self.task, completed=done)

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        errors.print("aborted")
        return int(ExitCode.INTERNAL_ERROR)
    except click.ClickException as exc:
        exc.show()
        return int(ExitCode.BAD_INPUT)
    except TrustwatchError as exc:
        errors.print(f"[bold red]error:[/] {exc}", highlight=False)
        return int(_EXIT_FOR.get(type(exc), ExitCode.INTERNAL_ERROR))
    return int(ExitCode.OK)


def entry_point() -> None:
    """Console-script entry: exit with :func:`main`'s status."""
    raise SystemExit(main())


if __name__ == "__main__":
    entry_point()
