"""Terminal rendering of verdicts, summaries and explanations.

Everything shown here can come from an attacker: account names, URLs, file
names, feed names. The consoles therefore never read markup, and
:func:`clean` turns control and format characters (terminal escapes, bidi
overrides, zero-width marks) into visible ``\\x1b``-style escapes before
anything reaches the terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from trustwatch.cli.logs import StderrConsole
from trustwatch.decisions.model import Action, Verdict, acts_on
from trustwatch.runtime.embedded import RunSummary
from trustwatch.text import visible_text

__all__ = [
    "clean",
    "error_console",
    "explain_tree",
    "output_console",
    "score_text",
    "summary_table",
    "verdict_table",
]


def clean(value: object) -> str:
    """Return ``value`` as text with every unprintable character escaped.

    The rules are :func:`trustwatch.text.visible_text`'s, shared with the web
    console.
    """
    return visible_text(value)


def output_console() -> Console:
    """Return the console for results: no markup, wide when piped."""
    width = None if sys.stdout.isatty() else 160
    return Console(markup=False, highlight=False, emoji=False, width=width)


def error_console() -> Console:
    """Return the console for errors and progress, on standard error.

    Lines are never wrapped: an error message stays one line a log collector
    or ``grep`` can read, whatever the width of the terminal. Under
    ``--log-format json`` each message is one JSON object instead (see
    :class:`~trustwatch.cli.logs.StderrConsole`).
    """
    return StderrConsole(
        stderr=True, markup=False, highlight=False, emoji=False, soft_wrap=True
    )


def summary_table(summary: RunSummary, title: str = "Run") -> Table:
    """Return a table of a run's counts."""
    table = Table(title=clean(title), show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("events", f"{summary.events:,}")
    table.add_row("events/s", f"{summary.events_per_second:,.0f}")
    table.add_row("verdicts (new)", f"{summary.verdicts:,} ({summary.new_verdicts:,})")
    table.add_row("actions (new)", f"{summary.actions:,} ({summary.new_actions:,})")
    table.add_row(
        "dead letters (new)",
        f"{summary.dead_letters:,} ({summary.new_dead_letters:,})",
    )
    if summary.late_events:
        table.add_row("late events (window passed)", f"{summary.late_events:,}")
    if summary.out_of_line:
        table.add_row("events dated a day off the others", f"{summary.out_of_line:,}")
    if summary.repeats:
        table.add_row("repeated events (skipped)", f"{summary.repeats:,}")
    for rule_id, failures in sorted(summary.rule_errors.items()):
        table.add_row(f"rule {clean(rule_id)}: condition failed", f"{failures:,}")
    if summary.files_asked is not None:
        table.add_row(
            "uploaded files not in the content folder",
            f"{summary.files_missing:,} of {summary.files_asked:,}",
        )
    if summary.rings:
        table.add_row("risky rings (see `trustwatch rings`)", f"{summary.rings:,}")
    for decision, n in summary.decisions.most_common():
        table.add_row(f"  decision {decision}", f"{n:,}")
    for kind, n in summary.signal_kinds.most_common():
        table.add_row(f"  signal {clean(kind)}", f"{n:,}")
    for path, n in summary.intel.items():
        table.add_row(f"  intel {clean(path)}", f"{n:,}")
    return table


def verdict_table(verdicts: Sequence[Verdict]) -> Table:
    """Return a table listing verdicts, one row each."""
    table = Table(title_justify="left")
    columns = ("time (UTC)", "verdict", "event", "decision", "score", "signals", "who")
    for column in columns:
        table.add_column(column, overflow="fold")
    for v in verdicts:
        who = " ".join(clean(x) for x in (v.account or "", v.ip or "") if x)
        kinds = ", ".join(sorted({clean(s.kind) for s in v.signals}))
        table.add_row(
            v.ts.strftime("%Y-%m-%d %H:%M:%S"),
            v.verdict_id,
            clean(v.event_type),
            v.decision,
            score_text(v.score),
            kinds,
            who,
        )
    return table


#: Decimals a score is shown with: enough for the shipped thresholds (0.9995).
_SCORE_DECIMALS = 4


def score_text(score: float) -> str:
    """Write a score so that it falls on the same side of a threshold as itself.

    The score is cut, not rounded, to :data:`_SCORE_DECIMALS` decimals and
    written with at least two: ``0.99939`` is ``"0.9993"`` (below a 0.9995
    threshold, as it is), never ``"1.00"``; ``0.5`` is ``"0.50"``.
    """
    try:
        exact = Decimal(repr(float(score)))
    except (InvalidOperation, ValueError):
        return str(score)
    if not exact.is_finite():
        return str(score)
    cut = exact.quantize(Decimal(1).scaleb(-_SCORE_DECIMALS), rounding=ROUND_FLOOR)
    whole, _, decimals = f"{cut:f}".partition(".")
    return f"{whole}.{decimals.rstrip('0').ljust(2, '0')}"


def explain_tree(verdict: Verdict, actions: Sequence[Action]) -> Tree:
    """Return a tree that explains one verdict: signals, reasons, rules, actions."""
    title = Text.assemble(
        (verdict.verdict_id, "bold"),
        f" {verdict.decision} (score {score_text(verdict.score)}) on "
        f"{clean(verdict.event_type)} {clean(verdict.event_id)}",
    )
    tree = Tree(title)
    tree.add(f"at {verdict.ts.isoformat()}, policy {clean(verdict.policy)}")
    signals = tree.add("signals")
    for s in verdict.signals:
        node = signals.add(
            f"{clean(s.kind)} {score_text(s.score)} on {clean(s.entity_type)} "
            f"{clean(s.entity)} ({clean(s.detector)} v{clean(s.detector_version)})"
        )
        for reason in s.reasons:
            node.add(clean(reason))
        for ind in s.indicators:
            ref = f", record {clean(ind.reference)}" if ind.reference else ""
            feeds = ", ".join(clean(f) for f in ind.feeds)
            node.add(
                f"indicator {clean(ind.type)} {clean(ind.value)} from {feeds}"
                f" (confidence {ind.confidence}{ref})"
            )
    rules = tree.add("rules")
    for hit in verdict.rules:
        if not acts_on(hit.action, hit.target_type):
            held = (
                f"; {hit.action} cannot act on a {clean(hit.target_type)}: "
                "nothing to act on"
            )
        elif not hit.target:
            held = f"; the event names no {clean(hit.target_type)}: nothing to act on"
        elif hit.in_force:
            held = "; already in force, no new action"
        else:
            held = ""
        rules.add(
            f"{clean(hit.rule_id)}: {hit.action} {clean(hit.target_type)} "
            f"{clean(hit.target)} ({hit.mode}{held}) on {clean(hit.signal_kind)} "
            f"{score_text(hit.score)}"
        )
    acts = tree.add("actions")
    for a in actions:
        until = f" until {a.expires_at.isoformat()}" if a.expires_at else ""
        # the rules' actions are listed above; a person's is named
        by = "" if a.actor.startswith("policy:") else f" by {clean(a.actor)}"
        acts.add(
            f"{a.action_id} {a.type} {clean(a.target_type)} {clean(a.target)} "
            f"({a.mode}){until}{by}"
        )
    return tree
