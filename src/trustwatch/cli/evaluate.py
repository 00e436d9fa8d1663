"""``trustwatch evaluate``: measure detectors as a product feature.

``evaluate ato`` scores a login stream (the shipped simulator, or the RBA
dataset's CSV) with the login risk model and the country-history rule side
by side, and reports, per attacker kind, the attack logins caught when 1% and
5% of legitimate logins are challenged; with ``--datasets`` it adds the
credential-attack detector's precision and recall on the real SSH logs.

A run that measures nothing (no legitimate successful login, or no attack
login, after the warm-up) is an error, not a table of n/a: a script or job
that only checks the exit status must not take it for a result. Option
values and the ``--out`` folder are checked before the work starts.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.progress import Progress, SpinnerColumn, TextColumn

from trustwatch.cli.params import FiniteFloatRange, output_folder, write_output_files
from trustwatch.cli.render import clean, error_console, output_console
from trustwatch.errors import ConfigError, InvalidEventError

__all__ = ["evaluate"]

console = output_console()
errors = error_console()

_REPORT_FILES = ("report.md", "report.json")


@click.group()
def evaluate() -> None:
    """Measure detectors on labelled data: simulated, published or real."""


@evaluate.command("ato")
@click.option(
    "--accounts",
    default=10_000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Simulated accounts.",
)
@click.option(
    "--days",
    default=30.0,
    show_default=True,
    type=FiniteFloatRange(1.0, 3650.0),
    help="Simulated days, warm-up included.",
)
@click.option(
    "--warmup-days",
    default=14.0,
    show_default=True,
    type=FiniteFloatRange(0.0),
    help="Days of ordinary logins before attacks start and logins are measured "
    "(less than --days).",
)
@click.option("--seed", default=7, show_default=True, help="Random seed.")
@click.option(
    "--rba",
    "rba_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Evaluate on this RBA dataset CSV (rba-dataset.csv, gzip too) instead "
    "of the simulator.",
)
@click.option(
    "--rba-tz",
    default="UTC",
    show_default=True,
    help="Zone of the RBA file's timestamps (they carry none).",
)
@click.option(
    "--limit",
    type=click.IntRange(1),
    help="Read at most this many logins of the RBA file.",
)
@click.option(
    "--datasets",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The shared datasets folder: adds the credential-attack detector's "
    "precision and recall on real SSH logs.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=str),
    help="Folder for report.md and report.json (created when missing).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def ato(
    accounts: int,
    days: float,
    warmup_days: float,
    seed: int,
    rba_file: Path | None,
    rba_tz: str,
    limit: int | None,
    datasets: Path | None,
    out: str | None,
    as_json: bool,
) -> None:
    """Attack logins caught at 1% and 5% challenge rates: model vs country rule.

    Every login is scored in time order by the login risk model and by the
    rule that challenges a country new to the account; the table gives, per
    attacker kind, the share of attack logins each catches when 1% and 5% of
    legitimate logins are challenged, and the model's catch over the rule's.
    A run with nothing to measure (no legitimate successful login, or no
    attack login, after the warm-up) fails instead of printing a table of n/a.
    """
    from trustwatch.evaluation.ato import evaluate_rba, evaluate_simulation
    from trustwatch.simulation.logins import LoginSimulationConfig

    config = None
    if rba_file is not None:
        _simulator_options_unused()
    else:
        if limit is not None:
            raise ConfigError("--limit applies to --rba files only")
        _warmup_fits(warmup_days, days)
        config = LoginSimulationConfig(
            accounts=accounts, days=days, warmup_days=warmup_days, seed=seed
        )
    folder = None if out is None else output_folder(out, _REPORT_FILES)
    with _Spinner() as progress:
        if rba_file is not None:
            report = evaluate_rba(
                rba_file, tz=rba_tz, limit=limit, datasets=datasets, progress=progress
            )
        else:
            report = evaluate_simulation(config, datasets=datasets, progress=progress)
    why = report.unmeasured()
    if why is not None:
        if rba_file is not None:
            more = "raise --limit, or give" if limit is not None else "give"
            raise InvalidEventError(
                "schema",
                f"nothing was measured in {rba_file.name}: {why}; hint: {more} a "
                "file with both legitimate and attack logins",
            )
        shorter = ", or a shorter --warmup-days" if warmup_days > 0 else ""
        raise ConfigError(
            f"nothing was measured: {why}; hint: use more --accounts or --days{shorter}"
        )
    _emit(report.render(), report.to_dict(), folder, as_json=as_json)


def _simulator_options_unused() -> None:
    """Refuse simulator options beside --rba: they would be silently ignored."""
    context = click.get_current_context()
    given = [
        f"--{name.replace('_', '-')}"
        for name in ("accounts", "days", "warmup_days", "seed")
        if context.get_parameter_source(name) is ParameterSource.COMMANDLINE
    ]
    if given:
        raise ConfigError(
            f"{', '.join(given)} set the simulator, which does not run with --rba; "
            "hint: leave them out"
        )


def _warmup_fits(warmup_days: float, days: float) -> None:
    """Refuse a warm-up as long as the run, saying which values were given."""
    if warmup_days < days:
        return
    context = click.get_current_context()
    given = context.get_parameter_source("warmup_days") is not ParameterSource.DEFAULT
    shown = (
        f"--warmup-days {warmup_days:g}"
        if given
        else f"--warmup-days (default {warmup_days:g})"
    )
    raise ConfigError(
        f"{shown} must be less than --days {days:g}; hint: give a shorter "
        f"--warmup-days, e.g. --warmup-days {days / 2:g}"
    )


class _Spinner:
    """A running count of scored logins on standard error, when it is a terminal."""

    def __init__(self) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            console=errors,
            transient=True,
            disable=not errors.is_terminal,
        )
        self._task = self._progress.add_task("scoring logins")

    def __enter__(self) -> _Spinner:
        self._progress.start()
        return self

    def __call__(self, done: int) -> None:
        self._progress.update(self._task, description=f"scored {done:,} logins")

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


@evaluate.command()
@click.option(
    "--datasets",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The shared datasets folder (holding pygod-graphs/); without it only "
    "the injected-ring part runs.",
)
@click.option(
    "--seeds",
    default=10,
    show_default=True,
    type=click.IntRange(1, 100),
    help="Random splits to average over (seeds 0 to N-1).",
)
@click.option(
    "--accounts",
    default=5000,
    show_default=True,
    type=click.IntRange(10, 1_000_000),
    help="Simulated accounts the rings are injected among (at least twice "
    "the 200 ring members).",
)
@click.option(
    "--days",
    default=3.0,
    show_default=True,
    type=FiniteFloatRange(1.5, 60.0),
    help="Simulated days.",
)
@click.option(
    "--seed",
    default=7,
    show_default=True,
    type=int,
    help="Seed of the simulation and the ring injection.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=str),
    help="Folder for report.md, report.json and a PNG of each top ring "
    "(created when missing).",
)
@click.option(
    "--gnn/--no-gnn",
    default=None,
    help="Also score the graphs with GraphSAGE, on the same splits as the "
    "trees. Default: on when torch and torch_geometric are installed "
    "(pip install 'trustwatch[gnn]'); --gnn without them is an error.",
)
@click.option(
    "--graph-scores",
    is_flag=True,
    help="Also train the graph_scores account model on other telemetry (seed "
    "+ 1000, rings of 3/4 the sizes) and compare it with the other methods.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def rings(
    datasets: Path | None,
    seeds: int,
    gnn: bool | None,
    graph_scores: bool,
    accounts: int,
    days: float,
    seed: int,
    out: str | None,
    as_json: bool,
) -> None:
    """Rings: node scoring on labelled graphs, and rings injected in telemetry.

    With --datasets: gradient-boosted trees (ten averaged) on each node's
    features, its neighbours' aggregates and what the training labels say
    about its neighbourhood, on the PyGOD graphs (Reddit's banned users
    first; books, disney and enron as sanity checks): AUROC, AUPRC and
    Rec@K, mean and spread over random 40/20/40 splits, with GADBench's best
    on Reddit beside them; GraphSAGE on the same splits when torch_geometric
    is installed (see --gnn).

    Always: lockstep rings of several sizes injected into simulated telemetry
    and run through the rings detector: recall and precision of ring members
    per ring and overall, and the false clusters on the same telemetry with
    no ring; the same for Leiden communities and dense blocks (and, with
    --graph-scores, a supervised account model trained on other telemetry);
    with --out, a picture of each top ring.
    """
    from trustwatch.evaluation.ring_pictures import render_ring_png, write_png
    from trustwatch.evaluation.rings import RING_METHODS, evaluate_injected_rings

    if gnn is not None and datasets is None:
        raise ConfigError(
            f"--{'' if gnn else 'no-'}gnn applies to the labelled graphs, which "
            "are read only with --datasets; hint: add --datasets"
        )
    top = 6
    pictures = [f"ring-{rank}.png" for rank in range(1, top + 1)]
    folder = None if out is None else output_folder(out, (*_REPORT_FILES, *pictures))
    sections: list[str] = []
    payload_parts: dict[str, object] = {}
    if datasets is not None:
        from trustwatch.evaluation.gad import evaluate_gad

        models = (
            None if gnn is None else (("trees", "graphsage") if gnn else ("trees",))
        )
        gad = evaluate_gad(datasets, seeds=range(seeds), models=models)
        sections.append(gad.render())
        payload_parts.update(gad.to_dict())
    methods = (*RING_METHODS, "graph_scores") if graph_scores else RING_METHODS
    injected = evaluate_injected_rings(
        accounts=accounts, days=days, seed=seed, top=top, methods=methods
    )
    linked: list[tuple[str, str]] = []
    if folder is not None:
        for name, ring in zip(pictures, injected.top_rings, strict=False):
            write_png(folder, name, render_ring_png(ring))
            linked.append((ring.ring_id, name))
    sections.append(injected.render(linked))
    payload_parts["injected_rings"] = {
        **injected.to_dict(),
        "pictures": [{"ring_id": r, "file": f} for r, f in linked],
    }
    markdown = "\n".join(section.rstrip() + "\n" for section in sections)
    _emit(markdown, payload_parts, folder, as_json=as_json)


def _emit(
    markdown: str, data: Mapping[str, Any], folder: Path | None, *, as_json: bool
) -> None:
    """Write report.md and report.json into ``folder``; print one of them."""
    payload = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if folder is not None:
        write_output_files(folder, {"report.md": markdown, "report.json": payload})
    if as_json:
        sys.stdout.write(payload)
    else:
        for line in markdown.splitlines():
            console.print(clean(line))
