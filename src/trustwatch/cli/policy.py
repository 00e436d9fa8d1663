"""``trustwatch policy``: check a policy file, and test it on labelled examples."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.pipeline_setup import checked_policy
from trustwatch.cli.render import clean, error_console, output_console
from trustwatch.decisions.policy import duration_text, load_policy

if TYPE_CHECKING:
    from trustwatch.evaluation.policy_examples import PolicyTestReport

__all__ = ["policy"]

console = output_console()
errors = error_console()
_SHOWN_BAD_LINES = 10
#: The status of ``policy test`` when an example's expectation fails, as a
#: test runner's: the policy was read and run, and it did not do what was asked.
_EXPECTATIONS_FAILED = 1


@click.group()
def policy() -> None:
    """Work with policy files."""


@policy.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def policy_check(path: Path) -> None:
    """Check a policy file and list its rules.

    Every fault of every rule is reported at once, with the status 3: a
    condition that does not compile or can never be true or false, and a
    signal kind no detector raises (named in signals, or read by the
    condition as signals["KIND"] or "KIND" in signals), which run only warns
    of.
    """
    from trustwatch.detectors.registry import known_signal_kinds

    checked = load_policy(path, known_signal_kinds())
    console.print(
        f"{clean(checked.ref)} ({checked.digest}): {len(checked.rules)} rules"
    )
    for rule in checked.rules:
        kinds = ", ".join(clean(k) for k in sorted(rule.signals)) or "any signal"
        until = f", expires after {duration_text(rule.expires)}" if rule.expires else ""
        when = f" when {clean(' '.join(rule.when.source.split()))}" if rule.when else ""
        console.print(
            f"  {clean(rule.id)} ({rule.mode}): {kinds} >= {rule.min_score}{when} -> "
            f"{rule.action} on {rule.target}{until}"
        )


@policy.command("test")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--examples",
    "examples_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labelled examples, JSON Lines: event, signals (a list of "
    '{"kind": K, "score": S}, kinds as detectors raise them), expect.decision / '
    "expect.rules / expect.not_rules, label. In place of event, the event's "
    "fields beside those keys: at least account; type (login unless given), "
    "ts, event_id and a login's success are filled in when left out; any "
    "other field of the type (ip, file_id, an mfa_changed change) as given, "
    "and a field the type lacks makes the line bad.",
)
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
def policy_test(path: Path, examples_path: Path, as_json: bool) -> int:
    """Run the policy at PATH on labelled examples and check what they expect.

    Prints pass or fail per example with what differed, and per rule its
    hits, precision and recall against the labels. Exits 1 when an
    expectation fails; lines that cannot be read are reported, skipped, and
    make it exit 2 when every expectation held (a misspelt key must not
    pass a check unnoticed).
    """
    from trustwatch.evaluation.policy_examples import read_examples, run_examples

    checked = checked_policy(path)
    report = run_examples(checked, read_examples(examples_path))
    if not report.results and not report.bad_lines:
        errors.print(
            f"error: {clean(str(examples_path))} holds no examples; hint: one JSON "
            "object per line, with an event (or account) and signals"
        )
        return int(ExitCode.BAD_INPUT)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        _print_results(report)
    for score in report.rules:
        failed = score.condition_errors
        if failed:
            errors.print(
                f"warning: rule {clean(score.rule_id)}: its condition failed on "
                f"{failed:,} example{'' if failed == 1 else 's'} of "
                f"{len(report.results):,}, and did not match where it failed; "
                "hint: a misspelt field, or one some events lack (has() tests "
                "for it)"
            )
    for bad in report.bad_lines[:_SHOWN_BAD_LINES]:
        errors.print(f"warning: line {bad.line} skipped: {clean(bad.reason)}")
    if len(report.bad_lines) > _SHOWN_BAD_LINES:
        errors.print(f"warning: {len(report.bad_lines):,} lines skipped in all")
    if not report.results and report.bad_lines:
        errors.print("error: no example could be read")
        return int(ExitCode.BAD_INPUT)
    if report.failed:
        return _EXPECTATIONS_FAILED
    if report.bad_lines:
        errors.print(
            f"error: {len(report.bad_lines):,} lines of "
            f"{clean(str(examples_path))} could not be read"
        )
        return int(ExitCode.BAD_INPUT)
    return int(ExitCode.OK)


def _print_results(report: PolicyTestReport) -> None:
    """Print per-example outcomes and the per-rule table."""
    for result in report.results:
        if result.passed:
            console.print(f"line {result.line}: pass ({result.decision})")
        else:
            console.print(
                f"line {result.line}: FAIL: {clean('; '.join(result.failures))}"
            )
    table = Table(title=f"rules of {clean(report.policy)}", title_justify="left")
    for column in ("rule", "mode", "hits", "precision", "recall", "errors"):
        table.add_column(
            column, justify="left" if column in ("rule", "mode") else "right"
        )
    for score in report.rules:
        table.add_row(
            clean(score.rule_id),
            score.mode,
            f"{score.hits:,}",
            _ratio(score.precision),
            _ratio(score.recall),
            f"{score.condition_errors:,}",
        )
    console.print(table)
    console.print(
        f"{len(report.results) - report.failed:,} passed, {report.failed:,} failed, "
        f"{len(report.bad_lines):,} lines skipped"
    )


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
