"""``trustwatch intel``: sync threat-intel feeds and inspect what they gave.

``intel sync`` fetches the feeds of a TOML feed list that are due into an
SQLite database (see :mod:`trustwatch.intel.sync`); ``intel list``, ``intel
show`` and ``intel match`` read that database. Nothing given to ``show`` or
``match`` is fetched or resolved: values are only normalised and looked up.

Exit status: ``intel sync`` exits 4 when a feed failed or another sync holds
the database; ``intel match`` exits 1 when no value matched; a ``--db`` that
is missing or not an intel database, or a feed list with no feeds, exits 3.
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
from trustwatch.errors import ConfigError, InvalidIndicatorError, StorageError
from trustwatch.intel.allowlists import AllowList
from trustwatch.intel.feedlist import load_feed_list
from trustwatch.intel.indicators import (
    HASH_TYPES,
    INDICATOR_TYPES,
    Indicator,
    normalize_indicator,
)
from trustwatch.intel.store import IndicatorStore, IntelMatch
from trustwatch.intel.sync import (
    IntelDatabase,
    StoredIndicator,
    SyncReport,
    sync_feeds,
    sync_lock,
)
from trustwatch.runtime.embedded import IntelLoad, _drop_allowlisted

__all__ = ["intel_from_db", "intel_group", "match_value"]

console = output_console()
errors = error_console()

#: ``intel match`` exit status when no value matched (as ``grep`` does).
NO_MATCH_EXIT = 1

_existing_db = click.option(
    "--db",
    "db_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The intel database written by `trustwatch intel sync`.",
)


def _open_existing(db_path: Path) -> IntelDatabase:
    """Open an intel database that must already exist.

    Raises
    ------
    ConfigError
        When the path is no file or not an intel database.
    """
    if not db_path.is_file():
        raise ConfigError(
            f"intel database {db_path} does not exist or is not a file; hint: "
            "run `trustwatch intel sync --feeds FEEDS --db PATH` first, or check "
            "the path"
        )
    try:
        return IntelDatabase(db_path)
    except StorageError as exc:
        raise ConfigError(
            f"{db_path} is not an intel database ({exc}); hint: pass the file "
            "written by `trustwatch intel sync`"
        ) from exc


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
@click.option(
    "--force",
    is_flag=True,
    help="Fetch even the feeds not yet due, unconditionally (no If-None-Match or "
    "If-Modified-Since).",
)
@click.option(
    "--accept-empty",
    is_flag=True,
    help="Apply a snapshot feed that came back empty, removing all its records "
    "(by default an empty snapshot fails the feed and removes nothing).",
)
@click.option(
    "--only", multiple=True, help="Sync only the feed with this name; repeatable."
)
@click.option(
    "--keep-unlisted",
    is_flag=True,
    help="Keep the feeds the database holds that the feed list no longer names "
    "(by default their records are dropped).",
)
@_json
def intel_sync(
    feeds_path: Path,
    db_path: Path,
    force: bool,
    accept_empty: bool,
    only: Sequence[str],
    keep_unlisted: bool,
    as_json: bool,
) -> None:
    """Fetch the feeds that are due and report what changed.

    Exit status 4 when any feed failed (or, skipped as not yet due, is
    still failing) or another sync holds the database, 3 for a bad feed list.
    """
    feedlist = load_feed_list(feeds_path)
    with sync_lock(db_path), IntelDatabase(db_path) as db:
        report = sync_feeds(
            feedlist,
            db,
            now=datetime.now(UTC),
            force=force,
            only=only or None,
            keep_unlisted=keep_unlisted,
            accept_empty=accept_empty,
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
        for feed in report.feeds:
            if feed.status == "dropped":
                console.print(f"feed {clean(feed.feed)} {clean(feed.reason or '')}")
            for warning in feed.warnings:
                errors.print(f"feed {clean(feed.feed)} warning: {clean(warning)}")
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
    for column in ("revoked", "rejected", "skipped", "total"):
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
                    feed.skipped,
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
    """List the feeds held, then synced indicators by feed, type and value."""
    with _open_existing(db_path) as db:
        records = db.records(feed=feed, type=kind, limit=max(limit, 0))
        summaries = db.feed_summaries()
    if as_json:
        sys.stdout.write(msgspec.json.encode(records).decode() + "\n")
        return
    feeds_table = Table(title=f"feeds in {clean(db_path)}")
    for column in ("feed", "records", "last status", "last success"):
        feeds_table.add_column(
            column, justify="right" if column == "records" else "left"
        )
    for name, count, point in summaries:
        feeds_table.add_row(
            clean(name),
            f"{count:,}",
            clean((point.last_status if point else None) or "-"),
            _when(point.last_success if point else None),
        )
    console.print(feeds_table)
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
    with _open_existing(db_path) as db:
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
        if indicator.valid_from is not None and indicator.valid_from > now:
            console.print(
                "  not yet valid: matches from "
                f"{_when(indicator.valid_from.astimezone(UTC))} UTC"
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
    "never match (they are shown as allow-listed); repeat for more.",
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
    is fetched or resolved. An indicator an --allowlist holds does not match:
    it is reported as allow-listed, naming the list (in JSON, each match has
    ``allow_listed``: the list's name, or null).

    Exit status 0 when any value matched, 1 when none did (allow-listed
    indicators do not count), 3 when --db is not an intel database.
    """
    allowlist = AllowList.from_paths(allowlist_paths) if allowlist_paths else None
    with _open_existing(db_path) as db:
        store = db.store()
    results = {value: match_value(store, value) for value in values}
    for value in values:
        try:
            normalize_indicator(value)
        except InvalidIndicatorError as exc:
            errors.print(
                f"warning: {clean(value)} is no URL, host, IP address or hash, so "
                f"it can match nothing ({clean(str(exc))})"
            )
    listed_by = {
        value: [_listed(allowlist, match.indicator) for match in matches]
        for value, matches in results.items()
    }
    matched = any(name is None for names in listed_by.values() for name in names)
    if as_json:
        payload = {
            value: [
                _match_json(match, listed)
                for match, listed in zip(matches, listed_by[value], strict=True)
            ]
            for value, matches in results.items()
        }
        sys.stdout.write(msgspec.json.encode(payload).decode() + "\n")
    else:
        for value, matches in results.items():
            _print_matches(value, matches, listed_by[value], allowlist)
    if not matched:
        raise click.exceptions.Exit(NO_MATCH_EXIT)


def _listed(allowlist: AllowList | None, indicator: Indicator) -> str | None:
    """Return the name of the allow-list that holds ``indicator``, if any."""
    return None if allowlist is None else allowlist.reason(indicator)


def _value_listed(allowlist: AllowList | None, value: str) -> str | None:
    """Return the allow-list that holds a value as written, if any."""
    if allowlist is None:
        return None
    try:
        kind, normal = normalize_indicator(value)
    except InvalidIndicatorError:
        return None
    return allowlist.reason(Indicator(type=kind, value=normal, feed="-"))


def _print_matches(
    value: str,
    matches: list[IntelMatch],
    listed: list[str | None],
    allowlist: AllowList | None,
) -> None:
    """Print one value's matches, allow-listed ones as such."""
    if not matches:
        on_list = _value_listed(allowlist, value)
        if on_list is not None:
            console.print(
                f"{clean(value)}: no match (allow-listed by {clean(on_list)})"
            )
        else:
            console.print(f"{clean(value)}: no match")
        return
    for match, on_list in zip(matches, listed, strict=True):
        indicator = match.indicator
        if on_list is not None:
            console.print(
                f"{clean(value)}: allow-listed by {clean(on_list)}, not matched "
                f"({indicator.type} {clean(indicator.value)})"
            )
            continue
        console.print(
            f"{clean(value)}: {match.matched_on} match on {indicator.type} "
            f"{clean(indicator.value)}"
        )
        for source in indicator.provenance():
            console.print(
                f"  feed {clean(source.feed)} record "
                f"{clean(source.reference or '-')} confidence {source.confidence}"
            )


def _match_json(match: IntelMatch, allow_listed: str | None) -> dict[str, object]:
    """Return one match as JSON-ready data, with per-feed provenance."""
    indicator = match.indicator
    return {
        "allow_listed": allow_listed,
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

    URLs, addresses and host names are also matched against the STIX
    pattern indicators, as the pipeline's intel detector matches posted and
    linked URLs and source addresses. A value that is no indicator, or a
    network, matches nothing.
    """
    try:
        kind, normal = normalize_indicator(value)
    except InvalidIndicatorError:
        return []
    if kind in HASH_TYPES:
        return store.match_hash(normal)
    if kind == "url":
        try:
            return store.match_url(parse_url(value.strip()), patterns=True)
        except ValueError:
            return []
    if kind == "ip":
        path = "ipv6-addr:value" if ":" in normal else "ipv4-addr:value"
        return store.match_ip(normal) + _pattern_matches(store, {path: normal})
    if kind == "domain" and not normal.startswith("*."):
        observation = {"domain-name:value": normal}
        return store.match_host(normal) + _pattern_matches(store, observation)
    if kind == "domain":
        return store.match_host(normal)
    return []


def _pattern_matches(
    store: IndicatorStore, observation: dict[str, str]
) -> list[IntelMatch]:
    """The STIX pattern indicators an observation of one value matches."""
    if not len(store.patterns):
        return []
    return store.match_observation(observation, plain=False)


def intel_from_db(
    path: Path, loaded: IntelLoad | None = None, allowlist: AllowList | None = None
) -> IntelLoad:
    """Add the live indicators of an intel database to ``loaded`` (or a new load).

    Indicators ``allowlist`` holds are left out as they are for ``--intel``
    files: each becomes a dead letter with reason ``allow_listed`` naming the
    list, counted in :attr:`IntelLoad.allowlisted`. Those the allow-list of
    ``loaded``'s store holds are left out too.

    Raises
    ------
    ConfigError
        When ``path`` is missing or not an intel database.
    """
    with _open_existing(path) as db:
        indicators = db.live_indicators()
        patterns = db.live_patterns()
    if loaded is None:
        loaded = IntelLoad(IndicatorStore())
    source = f"intel-db {path}"
    if allowlist is not None:
        indicators = _drop_allowlisted(indicators, allowlist, source, loaded)
    loaded.store.add_many(indicators)
    loaded.store.add_patterns(patterns)
    loaded.loaded[source] = len(indicators) + len(patterns)
    return loaded
