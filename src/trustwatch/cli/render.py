"""Terminal rendering of verdicts, summaries and explanations."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from trustwatch.decisions.model import Action, Verdict
from trustwatch.runtime.embedded import RunSummary

__all__ = ["explain_tree", "summary_table", "verdict_table"]


def summary_table(summary: RunSummary, title: str = "Run") -> Table:
    """Return a table of a run's counts."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("events", f"{summary.events:,}")
    table.add_row("events/s", f"{summary.events_per_second:,.0f}")
    table.add_row("verdicts (new)", f"{summary.verdicts:,} ({summary.new_verdicts:,})")
    table.add_row("actions (new)", f"{summary.actions:,} ({summary.new_actions:,})")
    table.add_row("dead letters", f"{summary.dead_letters:,}")
    for decision, n in summary.decisions.most_common():
        table.add_row(f"  decision {decision}", f"{n:,}")
    for kind, n in summary.signal_kinds.most_common():
        table.add_row(f"  signal {kind}", f"{n:,}")
    for path, n in summary.intel.items():
        table.add_row(f"  intel {path}", f"{n:,}")
    return table


def verdict_table(verdicts: Sequence[Verdict]) -> Table:
    """Return a table listing verdicts, one row each."""
    table = Table(title_justify="left")
    for column in ("time", "verdict", "event", "decision", "score", "signals", "who"):
        table.add_column(column, overflow="fold")
    for v in verdicts:
        who = " ".join(x for x in (v.account or "", v.ip or "") if x)
        kinds = ", ".join(sorted({s.kind for s in v.signals}))
        table.add_row(
            v.ts.strftime("%Y-%m-%d %H:%M:%S"),
            v.verdict_id,
            v.event_type,
            v.decision,
            f"{v.score:.2f}",
            kinds,
            who,
        )
    return table


def explain_tree(verdict: Verdict, actions: Sequence[Action]) -> Tree:
    """Return a tree that explains one verdict: signals, reasons, rules, actions."""
    tree = Tree(
        f"[bold]{verdict.verdict_id}[/] {verdict.decision} "
        f"(score {verdict.score:.2f}) on {verdict.event_type} {verdict.event_id}"
    )
    tree.add(f"at {verdict.ts.isoformat()}, policy {verdict.policy}")
    signals = tree.add("signals")
    for s in verdict.signals:
        node = signals.add(
            f"{s.kind} {s.score:.2f} on {s.entity_type} {s.entity} "
            f"[dim]({s.detector} v{s.detector_version})[/]"
        )
        for reason in s.reasons:
            node.add(reason)
        for ind in s.indicators:
            ref = f", record {ind.reference}" if ind.reference else ""
            node.add(
                f"indicator {ind.type} {ind.value} from {', '.join(ind.feeds)}"
                f" (confidence {ind.confidence}{ref})"
            )
    rules = tree.add("rules")
    for hit in verdict.rules:
        rules.add(
            f"{hit.rule_id}: {hit.action} {hit.target_type} {hit.target} "
            f"[{hit.mode}] on {hit.signal_kind} {hit.score:.2f}"
        )
    acts = tree.add("actions")
    for a in actions:
        until = f" until {a.expires_at.isoformat()}" if a.expires_at else ""
        acts.add(f"{a.action_id} {a.type} {a.target_type} {a.target} [{a.mode}]{until}")
    return tree


def print_table(console: Console, table: Table) -> None:
    """Print a table to ``console``."""
    console.print(table)
