"""``trustwatch intel``: sync threat-intel feeds and inspect what they gave.

``intel sync`` fetches the feeds of a TOML feed list that are due into an
SQLite database (see :mod:`trustwatch.intel.sync`); ``intel list``, ``intel
show`` and ``intel match`` read that database. Nothing given to ``show`` or
``match`` is fetched or resolved: values are only normalised and looked up.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click
import msgspec
from rich.table import Table

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.render import clean, error_console, output_console
from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import InvalidIndicatorError
from trustwatch.intel.allowlists import AllowList
from trustwatch.intel.feedlist import load_feed_list
from trustwatch.intel.indicators import HASH_TYPES, INDICATOR_TYPES, normalize_indicator
from trustwatch.intel.store import IndicatorStore, IntelMatch
from trustwatch.intel.sync import (
    IntelDatabase,
    StoredIndicator,
    SyncReport,
    sync_feeds,
)
from trustwatch.runtime.embedded import IntelLoad

__all__ = ["intel_from_db", "intel_group", "match_value"]

console = output_console()
errors = error_console()

_existing_db = click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The intel database written by `trustwatch intel sync`.",
)
_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group("intel")
def intel_group() -> None:
    """Sync threat-intel feeds and look at the synced indicators."""


@intel_group.command("sync")
@click.option(
    "--feeds",
    "feeds_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The TOML feed list (one [[feeds]] table per feed).",
)
@click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The intel database (created when missing).",
)
@click.option("--force", is_flag=True, help="Fetch even the feeds not yet due.")
@click.option(
    "--only", multiple=True, help="Sync only the feed with this name; repeatable."
)
@_json
def intel_sync(
    feeds_path: Path, db_path: Path, force: bool, only: Sequence[str], as_json: bool
) -> None:
    """Fetch the feeds that are due and report what changed.

    The exit status is non-zero when any feed failed.
    """
    feedlist = load_feed_list(feeds_path)
    with IntelDatabase(db_path) as db:
        report = sync_feeds(
            feedlist, db, now=datetime.now(UTC), force=force, only=only or None
        )
    if as_json:
        sys.stdout.write(report.to_json().decode() + "\n")
    else:
        console.print(_sync_table(report))
        for feed in report.feeds:
            for example in feed.reject_examples:
                console.print(
                    f"  {clean(feed.feed)} rejected {clean(example.location)} "
                    f"({clean(example.reason)}): {clean(example.message)}"
                )
        for failed in report.failed:
            errors.print(f"feed {clean(failed.feed)} failed: {clean(failed.reason)}")
    if report.failed:
        raise click.exceptions.Exit(int(ExitCode.DEPENDENCY_FAILED))


def _sync_table(report: SyncReport) -> Table:
    """Return the per-feed table of a sync."""
    table = Table(title=f"intel sync at {report.at:%Y-%m-%d %H:%M:%S} UTC")
    for column in ("feed", "status", "added", "updated", "removed", "expired"):
        table.add_column(
            column, justify="left" if column in ("feed", "status") else "right"
        )
    for column in ("revoked", "rejected", "total"):
        table.add_column(column, justify="right")
    table.add_column("rejects by reason")
    for feed in report.feeds:
        reasons = ", ".join(
            f"{clean(reason)} {count}"
            for reason, count in sorted(feed.rejected_by_reason.items())
        )
        table.add_row(
            clean(feed.feed),
            feed.status,
            *(
                f"{n:,}"
                for n in (
                    feed.added,
                    feed.updated,
                    feed.removed,
                    feed.expired,
                    feed.revoked,
                    feed.rejected,
                    feed.total,
                )
            ),
            reasons,
        )
    return table


@intel_group.command("list")
@_existing_db
@click.option("--feed", help="Only this feed's records.")
@click.option(
    "--type", "kind", type=click.Choice(INDICATOR_TYPES), help="Only this type."
)
@click.option("--limit", default=50, show_default=True, help="At most this many.")
@_json
def intel_list(
    db_path: Path, feed: str | None, kind: str | None, limit: int, as_json: bool
) -> None:
    """List synced indicators, by feed, type and value."""
    with IntelDatabase(db_path) as db:
        records = db.records(feed=feed, type=kind, limit=max(limit, 0))
    if as_json:
        sys.stdout.write(msgspec.json.encode(records).decode() + "\n")
        return
    table = Table(title=f"intel records in {clean(db_path)}")
    for column in ("feed", "type", "value", "threat", "confidence", "expires"):
        table.add_column(column)
    now = datetime.now(UTC)
    for record in records:
        indicator = record.indicator
        table.add_row(
            clean(indicator.feed),
            indicator.type,
            clean(indicator.value),
            clean(indicator.threat or ""),
            str(indicator.confidence),
            _expiry(record, now),
        )
    console.print(table)


def _expiry(record: StoredIndicator, now: datetime) -> str:
    """Describe when a record expires."""
    expires = record.indicator.expires_at
    if expires is None:
        return "never"
    return f"{expires:%Y-%m-%d %H:%M}" + ("" if record.is_live(now) else " (expired)")


@intel_group.command("show")
@click.argument("value")
@_existing_db
@_json
def intel_show(value: str, db_path: Path, as_json: bool) -> None:
    """Show every record of VALUE (any feed), with its provenance."""
    with IntelDatabase(db_path) as db:
        records = db.lookup(value)
    if as_json:
        sys.stdout.write(msgspec.json.encode(records).decode() + "\n")
        return
    if not records:
        console.print(f"{clean(value)}: no record")
        return
    now = datetime.now(UTC)
    for record in records:
        indicator = record.indicator
        console.print(
            f"{indicator.type} {clean(indicator.value)}  feed {clean(indicator.feed)}"
            f"  record {clean(indicator.reference or '-')}"
        )
        console.print(
            f"  threat {clean(indicator.threat or '-')}, confidence "
            f"{indicator.confidence}, tags {clean(', '.join(indicator.tags) or '-')}"
        )
        console.print(
            f"  first seen {_when(indicator.first_seen)}, last seen "
            f"{_when(indicator.last_seen)}, expires {_expiry(record, now)}"
        )
        console.print(
            f"  synced first {_when(record.first_synced)}, last "
            f"{_when(record.last_synced)}"
        )


def _when(value: datetime | None) -> str:
    """Format an optional time."""
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


@intel_group.command("match")
@click.argument("values", nargs=-1, required=True)
@_existing_db
@click.option(
    "--allowlist",
    "allowlist_paths",
    multiple=True,
    metavar="PATH",
    help="MISP warninglist files, folders or globs: indicators they hold "
    "never match; repeat for more.",
)
@_json
def intel_match(
    values: Sequence[str],
    db_path: Path,
    allowlist_paths: Sequence[str],
    as_json: bool,
) -> None:
    """Match URLs, hosts, IP addresses or hashes against the synced indicators.

    Each value is normalised (defanged forms are read) and looked up; nothing
    is fetched or resolved.
    """
    allowlist = AllowList.from_paths(allowlist_paths) if allowlist_paths else None
    with IntelDatabase(db_path) as db:
        store = db.store(allowlist=allowlist)
    results = {value: match_value(store, value) for value in values}
    if as_json:
        payload = {
            value: [_match_json(match) for match in matches]
            for value, matches in results.items()
        }
        sys.stdout.write(msgspec.json.encode(payload).decode() + "\n")
        return
    for value, matches in results.items():
        if not matches:
            console.print(f"{clean(value)}: no match")
            continue
        for match in matches:
            indicator = match.indicator
            console.print(
                f"{clean(value)}: {match.matched_on} match on {indicator.type} "
                f"{clean(indicator.value)}"
            )
            for source in indicator.provenance():
                console.print(
                    f"  feed {clean(source.feed)} record "
                    f"{clean(source.reference or '-')} confidence {source.confidence}"
                )


def _match_json(match: IntelMatch) -> dict[str, object]:
    """Return one match as JSON-ready data, with per-feed provenance."""
    indicator = match.indicator
    return {
        "matched_on": match.matched_on,
        "observed": match.observed,
        "type": indicator.type,
        "value": indicator.value,
        "threat": indicator.threat,
        "tags": list(indicator.tags),
        "sources": [
            {
                "feed": source.feed,
                "reference": source.reference,
                "confidence": source.confidence,
            }
            for source in indicator.provenance()
        ],
    }


def match_value(store: IndicatorStore, value: str) -> list[IntelMatch]:
    """Match one value as written: a URL, host, IP address or hash.

    A value that is no indicator, or a network, matches nothing.
    """
    try:
        kind, normal = normalize_indicator(value)
    except InvalidIndicatorError:
        return []
    if kind in HASH_TYPES:
        return store.match_hash(normal)
    if kind == "url":
        try:
            return store.match_url(parse_url(value.strip()))
        except ValueError:
            return []
    if kind == "ip":
        return store.match_ip(normal)
    if kind == "domain":
        return store.match_host(normal)
    return []


def intel_from_db(
    path: Path, loaded: IntelLoad | None = None, allowlist: AllowList | None = None
) -> IntelLoad:
    """Add the live indicators of an intel database to ``loaded`` (or a new load).

    Indicators ``allowlist`` holds are left out, as are those the allow-list
    of ``loaded``'s store holds.
    """
    with IntelDatabase(path) as db:
        synced = db.store(allowlist=allowlist)
    if loaded is None:
        loaded = IntelLoad(synced)
    else:
        loaded.store.add_many(synced)
        loaded.store.add_patterns(synced.patterns)
    loaded.loaded[f"intel-db {path}"] = len(synced)
    return loaded
