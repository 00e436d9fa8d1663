"""`trustwatch rings`: the rings a run found, their evidence and their picture."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from hashlib import blake2b
from pathlib import Path

import click
import msgspec
from rich.table import Table

from trustwatch.cli.options import db_option
from trustwatch.cli.params import FiniteFloatRange, output_folder
from trustwatch.cli.render import clean, output_console
from trustwatch.cli.review import open_store
from trustwatch.cli.train import (
    account_model_files,
    account_model_options,
    print_account_figures,
    print_label_rows_left_out,
    print_repeats_skipped,
    read_events_in_time_order,
    refuse_writing_over_inputs,
)
from trustwatch.errors import ConfigError
from trustwatch.graph.rings import RingSnapshot

__all__ = ["rings"]

console = output_console()

_encode = msgspec.json.Encoder().encode

#: How rings are found: the detector that found them, as stored.
RING_METHODS = ("lockstep", "communities", "dense_blocks", "graph_scores")

#: Longest picture file name stem; longer ring ids are cut and hashed.
_MAX_STEM = 80


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M")


@click.group(invoke_without_command=True)
@click.option(
    "--min-risk",
    type=FiniteFloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Only rings at least this risky.",
)
@click.option(
    "--method",
    type=click.Choice(RING_METHODS),
    help="Only rings found this way.",
)
@click.option("--account", help="Only rings that list this account as a member.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Most rings to list, riskiest first.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines instead of a table.")
@db_option
@click.pass_context
def rings(
    ctx: click.Context,
    min_risk: float,
    method: str | None,
    account: str | None,
    limit: int,
    as_json: bool,
    db: Path,
) -> None:
    """List the risky rings runs found, riskiest first; `rings show ID` shows one.

    A run keeps the latest snapshot of every ring at or above its detector's
    risk threshold: members, shared evidence, risk and reasons.
    """
    ctx.obj = db
    if ctx.invoked_subcommand is not None:
        return
    with open_store(db) as store:
        found = store.rings(
            min_risk=min_risk, method=method, account=account, limit=limit
        )
    if as_json:
        for ring in found:
            sys.stdout.write(_encode(ring.to_json()).decode() + "\n")
        return
    table = Table(title_justify="left")
    for column in ("ring", "found by", "accounts", "risk", "evidence", "updated (UTC)"):
        table.add_column(column, overflow="fold")
    for ring in found:
        table.add_row(
            clean(ring.ring_id),
            clean(ring.method),
            f"{ring.size:,}",
            f"{ring.risk:.2f}",
            _evidence_kinds(ring),
            _when(ring.updated),
        )
    console.print(table)
    cut = f" (the first {limit:,}; --limit shows more)" if len(found) == limit else ""
    console.print(f"{len(found):,} rings shown{cut}")


def _evidence_kinds(ring: RingSnapshot) -> str:
    kinds = ring.kinds()
    return ", ".join(f"{n} {clean(k)}" for k, n in sorted(kinds.items()))


@rings.command()
@click.argument("ring_id")
@click.option(
    "--picture",
    "picture_folder",
    help="Also draw the ring (members and shared evidence) as "
    "<RING_ID>.png in this folder.",
)
@click.option("--json", "as_json", is_flag=True, help="The snapshot as JSON.")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The store, if not given before `show`.",
)
@click.pass_obj
def show(
    group_db: Path,
    ring_id: str,
    picture_folder: str | None,
    as_json: bool,
    db: Path | None,
) -> None:
    """Show RING_ID: members, shared evidence, risk and reasons."""
    path = db or group_db
    with open_store(path) as store:
        ring = store.ring(ring_id)
    if ring is None:
        raise ConfigError(
            f"no ring {clean(ring_id)!r} in {path}; hint: `trustwatch rings` lists them"
        )
    picture = _draw(ring, picture_folder) if picture_folder is not None else None
    if as_json:
        sys.stdout.write(_encode(ring.to_json()).decode() + "\n")
        return
    console.print(
        f"ring {clean(ring.ring_id)} ({clean(ring.method)}): {ring.size:,} accounts, "
        f"risk {ring.risk:.2f}, founded {_when(ring.founded)}, updated "
        f"{_when(ring.updated)} UTC"
    )
    for reason in ring.reasons:
        console.print(f"  - {clean(reason)}")
    from trustwatch.evaluation.ring_pictures import evidence_label

    total = sum(ring.kinds().values())
    shown = len(ring.evidence)
    title = "shared evidence" + (
        f" (the {shown:,} most cited of {total:,})" if total > shown else ""
    )
    evidence = Table(title=title, title_justify="left")
    columns = (
        "kind",
        "value",
        "in the picture",
        "links citing it",
        "members holding it",
    )
    for column in columns:
        evidence.add_column(column, overflow="fold")
    for attribute, links in ring.evidence:
        holders = sum(1 for held in ring.holdings.values() if attribute in held)
        kind, _, value = attribute.partition(":")
        evidence.add_row(
            clean(kind),
            clean(value),
            clean(evidence_label(attribute)),
            f"{links:,}",
            f"{holders:,} of {len(ring.holdings):,} listed",
        )
    console.print(evidence)
    listed = len(ring.members)
    more = f" (first {listed:,} of {ring.size:,})" if listed < ring.size else ""
    console.print(f"members{more}: " + ", ".join(clean(m) for m in ring.members))
    if picture is not None:
        console.print(f"picture -> {clean(picture)}")


def _draw(ring: RingSnapshot, folder: str) -> Path:
    from trustwatch.evaluation.ring_pictures import render_ring_png, write_png

    name = f"{_file_safe(ring.ring_id)}.png"
    target = output_folder(folder, [name], option="--picture")
    return write_png(target, name, render_ring_png(ring))


def _file_safe(ring_id: str) -> str:
    """The ring id as a file name part: ASCII letters, digits, '-' and '_'
    only, and an id too long for a file name cut and hashed."""
    safe = "".join(
        c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in ring_id
    )
    if len(safe) > _MAX_STEM:
        digest = blake2b(ring_id.encode(), digest_size=8).hexdigest()
        safe = f"{safe[: _MAX_STEM - 17]}-{digest}"
    return safe or "ring"


@rings.command()
@click.argument("events", nargs=-1, required=True)
@click.option(
    "--labels",
    "labels_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help='Account labels: JSON Lines {"account": ..., "label": 0|1} or CSV '
    "account,label (1 for abusive).",
)
@account_model_options
def train(
    events: tuple[str, ...],
    labels_path: Path,
    out: Path,
    event_format: str,
    source_tz: str | None,
    validation_fraction: float,
    target_precision: float,
    seed: int,
    as_json: bool,
) -> None:
    """Train the graph_scores account model on EVENTS and labelled accounts.

    Events are read as `trustwatch run` reads them (a repeat of one of the
    last 50,000 read is skipped) and go into an entity graph; each labelled
    account is described
    by what it holds and shares, how it is linked and how young it is, and
    the same of its neighbours. A held-out share of the labelled accounts
    stops training and chooses the decision threshold; AUROC, AUPRC,
    precision and recall at the threshold are printed for a test part held
    out beside it (or for that share when the labels are too few for one).
    The figures are on features of the whole stream at its end; the
    detector scores younger graphs at each sweep. A model that cannot tell
    the classes apart is refused.
    """
    from trustwatch.graph.account_training import read_labels, train_account_scorer

    if any(not path.strip() for path in events):
        raise ConfigError("an event path is empty; hint: is a shell variable unset?")
    refuse_writing_over_inputs(
        account_model_files(out),
        events=events,
        event_format=event_format,
        files=[("the --labels file", labels_path)],
    )
    labels = read_labels(labels_path)
    read, dead, repeats = read_events_in_time_order(events, event_format, source_tz)
    trained = train_account_scorer(
        read,
        labels.labels,
        validation_fraction=validation_fraction,
        seed=seed,
        target_precision=target_precision,
    )
    path = trained.model.save(out)
    figures = {
        **trained.figures,
        "model": str(path),
        "labels_rejected": labels.rejected,
        "unreadable_records": dict(sorted(dead.items())),
        "repeated_events": repeats,
    }
    if as_json:
        sys.stdout.write(_encode(figures).decode() + "\n")
        return
    print_label_rows_left_out(labels)
    if dead:
        shown = ", ".join(f"{n} {clean(r)}" for r, n in sorted(dead.items()))
        console.print(f"event records left out: {shown}")
    print_repeats_skipped(repeats)
    console.print(
        f"{trained.figures['events']:,} events, {trained.figures['accounts']:,} "
        f"accounts; {trained.figures['labelled']:,} labelled "
        f"({trained.figures['labelled_unseen']:,} not in the events)"
    )
    print_account_figures(trained.figures)
    console.print(f"model -> {clean(path)}")
