"""``trustwatch backtest``: replay history through a new policy and the current one."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.options import (
    Timestamp,
    event_reading_options,
    geo_options,
    model_options,
)
from trustwatch.cli.pipeline_setup import (
    build_detectors,
    build_geo,
    checked_policy,
    load_intel_sources,
)
from trustwatch.cli.render import clean, error_console, output_console
from trustwatch.errors import ConfigError

if TYPE_CHECKING:
    from trustwatch.evaluation.backtest import (
        BacktestReport,
        LabelSources,
        PolicyOutcome,
    )

__all__ = ["backtest"]

console = output_console()
errors = error_console()
_LISTED_ACCOUNTS = 20


@click.command()
@click.argument("events", nargs=-1, required=True)
@click.option(
    "--policy",
    "policy_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The policy to try.",
)
@click.option(
    "--against",
    "against_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The policy to compare with; the shipped default otherwise.",
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='Account labels: JSON Lines {"account": ..., "label": 0|1} or CSV '
    "account,label (as `trustwatch rings train` reads).",
)
@click.option(
    "--review-db",
    help="Also (or instead) take account labels from this review store (a file "
    "or postgresql://), as `trustwatch train accounts` does; it wins on conflict.",
)
@click.option(
    "--review-schema",
    default="trustwatch",
    show_default=True,
    help="PostgreSQL schema of the review tables.",
)
@click.option(
    "--as-of",
    type=Timestamp(),
    help="Use only review labels given at or before this time (UTC if no zone).",
)
@click.option("--since", type=Timestamp(), help="Replay events from this time on.")
@click.option("--until", type=Timestamp(), help="Replay events before this time.")
@event_reading_options
@click.option(
    "--intel",
    "intel_paths",
    multiple=True,
    help="A threat-intel file, directory or glob, as in `trustwatch run`.",
)
@click.option(
    "--intel-format",
    default="auto",
    show_default=True,
    help="Format of the intel files (auto sniffs each).",
)
@click.option(
    "--add-detector",
    "extra_detectors",
    multiple=True,
    metavar="NAME",
    help="Also run this registered detector, as in `trustwatch run`.",
)
@model_options
@geo_options
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
def backtest(
    events: Sequence[str],
    policy_path: Path,
    against_path: Path | None,
    labels_path: Path | None,
    review_db: str | None,
    review_schema: str,
    as_of: datetime | None,
    since: datetime | None,
    until: datetime | None,
    event_format: str,
    source_tz: str | None,
    intel_paths: Sequence[str],
    intel_format: str,
    extra_detectors: Sequence[str],
    graph_model: Path | None,
    url_model: Path | None,
    maxmind_country: Path | None,
    maxmind_asn: Path | None,
    no_geo: bool,
    as_json: bool,
) -> None:
    """Replay EVENTS (files, folders, globs, dt= partitions, -) through two policies.

    The detectors run once; each event is decided under --policy and under
    --against. Events are read as `trustwatch run` reads them: one identical
    to one of the last 50,000 read is a repeat, counted and skipped. Per
    rule: events and accounts hit, precision and recall against the labels
    (--labels, the analysts' labels in --review-db, or both); then the
    accounts each policy alone acts on, and the verdicts per decision before
    and after.
    """
    from trustwatch.evaluation.backtest import backtest as run_backtest
    from trustwatch.evaluation.backtest import history_events

    if since is not None and until is not None and since >= until:
        raise ConfigError("--since must come before --until")
    new = checked_policy(policy_path)
    current = checked_policy(against_path)
    labels, sources = _labels(labels_path, review_db, review_schema, as_of)
    intel = load_intel_sources(intel_paths, intel_format, None, ())
    detectors = build_detectors(
        intel, None, extra_detectors, graph_model, url_model=url_model
    )
    geo = build_geo(maxmind_country, maxmind_asn, no_geo)
    history = history_events(
        events, since=since, until=until, format=event_format, source_tz=source_tz
    )
    report = run_backtest(
        history,
        detectors,
        new,
        current,
        labels,
        since=since,
        until=until,
        geo=geo,
        label_sources=sources,
    )
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        _print_report(report)
    if report.dead_letters:
        reasons = ", ".join(
            f"{clean(reason)} {n:,}"
            for reason, n in report.dead_letter_reasons.most_common()
        )
        errors.print(
            f"warning: {report.dead_letters:,} records could not be read or "
            f"decided ({reasons}); hint: `trustwatch run` over the same files "
            "stores each with its reason"
        )
    if report.events == 0 and report.dead_letters and not report.skipped_outside_window:
        errors.print("error: no record could be replayed")
        raise click.exceptions.Exit(int(ExitCode.BAD_INPUT))


def _labels(
    labels_path: Path | None,
    review_db: str | None,
    review_schema: str,
    as_of: datetime | None,
) -> tuple[dict[str, bool], LabelSources]:
    """Read the labels from the file, the review store, or both."""
    from trustwatch.evaluation.backtest import backtest_labels
    from trustwatch.graph.account_training import read_labels
    from trustwatch.review.store import open_review_store

    if labels_path is None and not review_db:
        raise ConfigError(
            "backtest needs account labels; hint: pass --labels FILE, "
            "--review-db REVIEW (the labels analysts gave), or both"
        )
    if as_of is not None and not review_db:
        raise ConfigError("--as-of applies to review labels; hint: add --review-db")
    file_labels = None
    left_out: dict[str, int] = {}
    if labels_path is not None:
        read = read_labels(labels_path)
        left_out = dict(read.rejected)
        if read.rejected_rows:
            shown = ", ".join(f"{n:,} {clean(r)}" for r, n in read.rejected.items())
            examples = "; ".join(f"row {n}: {clean(r)}" for n, r in read.samples)
            errors.print(
                f"warning: {read.rejected_rows:,} label rows left out: {shown} "
                f"(e.g. {examples})"
            )
        file_labels = read.labels
    if not review_db:
        labels, sources = backtest_labels(file_labels, None)
        return labels, replace(sources, file_rows_left_out=left_out)
    with open_review_store(review_db, schema=review_schema, existing=True) as review:
        labels, sources = backtest_labels(file_labels, review, as_of=as_of)
    sources = replace(sources, file_rows_left_out=left_out)
    if not labels:
        errors.print(
            "warning: the review store holds no account labels"
            + (" given by then" if as_of else "")
            + "; precision and recall are left empty"
        )
    return labels, sources


def _print_report(report: BacktestReport) -> None:
    """Print both policies' rule tables and their difference."""
    outside, repeats = report.skipped_outside_window, report.repeats
    console.print(
        f"{report.events:,} events replayed, {report.events_with_signals:,} with "
        f"signals"
        + (f", {outside:,} outside the window" if outside else "")
        + (f", {repeats:,} repeated events skipped" if repeats else "")
        + "; "
        f"{report.dead_letters:,} dead letters; "
        f"{report.labelled_accounts:,} labelled accounts "
        f"({report.abusive_accounts:,} abusive"
        + (
            f"; {report.labelled_unseen:,} more in no replayed event, not scored"
            if report.labelled_unseen
            else ""
        )
        + ")"
    )
    _print_label_sources(report.label_sources)
    for title, outcome in (("new", report.new), ("current", report.current)):
        console.print(_rule_table(f"{title}: {outcome.policy}", outcome))
    changes = Table(title="verdicts per decision", title_justify="left")
    for column in ("decision", "current", "new", "change"):
        changes.add_column(column, justify="left" if column == "decision" else "right")
    for kind, (before, after) in report.decision_changes().items():
        changes.add_row(kind, f"{before:,}", f"{after:,}", f"{after - before:+,}")
    console.print(changes)
    for label, accounts in (
        ("accounts newly hit", report.newly_hit),
        ("accounts no longer hit", report.no_longer_hit),
    ):
        shown = ", ".join(clean(a) for a in accounts[:_LISTED_ACCOUNTS])
        more = (
            f" (+{len(accounts) - _LISTED_ACCOUNTS:,} more)"
            if len(accounts) > _LISTED_ACCOUNTS
            else ""
        )
        console.print(
            f"{label}: {len(accounts):,}" + (f": {shown}{more}" if shown else "")
        )


def _print_label_sources(sources: LabelSources | None) -> None:
    """Say how many labels came from the review store, and the conflicts."""
    if sources is None or sources.review_accounts is None:
        return
    when = f" given by {sources.as_of.isoformat()}" if sources.as_of else ""
    console.print(
        f"review labels{when}: {sources.review_used:,} used "
        f"({sources.review_overridden:,} overridden by a later one, "
        f"{sources.review_after_as_of:,} given later left out) over "
        f"{sources.review_accounts:,} accounts; {sources.file_labels:,} from "
        "--labels"
    )
    if sources.conflicts:
        examples = ", ".join(clean(a[:60]) for a in sources.conflicts[:5])
        console.print(
            f"{len(sources.conflicts):,} accounts labelled differently in --labels "
            f"and the review store; the review label was kept (e.g. {examples})"
        )


def _rule_table(title: str, outcome: PolicyOutcome) -> Table:
    table = Table(title=clean(title), title_justify="left")
    columns = ("rule", "mode", "action", "events", "accounts", "precision", "recall")
    for column in (*columns, "errors"):
        table.add_column(column, justify="left" if column in columns[:3] else "right")
    for rule in outcome.rules.values():
        table.add_row(
            clean(rule.rule_id),
            rule.mode,
            rule.action,
            f"{rule.events_hit:,}",
            f"{rule.accounts_hit:,}",
            _ratio(rule.precision),
            _ratio(rule.recall),
            f"{rule.condition_errors:,}",
        )
    return table


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
