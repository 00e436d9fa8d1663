"""``trustwatch url``: score URLs from the string alone; train and evaluate models.

Nothing is fetched or resolved: a score comes from the URL's text, the shipped
(or a given) URL model, the brand catalogue and, when given, threat-intel
files.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import msgspec

from trustwatch.brands import find_impersonation
from trustwatch.cli.params import FiniteFloatRange, output_folder, write_output_files
from trustwatch.cli.render import clean, error_console, output_console
from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import ConfigError, InvalidUrlError
from trustwatch.intel.store import IndicatorStore
from trustwatch.urlmodel.corpus import LabelledUrl
from trustwatch.urlmodel.heuristic import url_risk
from trustwatch.urlmodel.model import UrlModel, load_default_model
from trustwatch.urlmodel.training import TrainingSettings

__all__ = [
    "UrlScore",
    "model_output_path",
    "read_labelled_urls",
    "score_url",
    "train_url_model",
    "url",
]

console = output_console()
errors = error_console()
_DEFAULTS = TrainingSettings()
_REPORT_FILES = ("report.json", "report.md", "pr_curve.png")


class UrlScore(msgspec.Struct, frozen=True, kw_only=True):
    """What trustwatch can say about one URL from its text.

    ``score`` is the URL model's calibrated probability that the URL is
    malicious; ``baseline`` is the rule-weighted heuristic score beside it.
    """

    input: str
    url: str | None = None
    registrable_domain: str | None = None
    score: float | None = None
    baseline: float | None = None
    reasons: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    intel: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    error: str | None = None


def score_url(
    raw: str, intel: IndicatorStore | None = None, model: UrlModel | None = None
) -> UrlScore:
    """Score one URL with the URL model, brands, the baseline and optional intel."""
    try:
        parsed = parse_url(raw)
    except InvalidUrlError as exc:
        return UrlScore(input=raw, error=str(exc))
    model = model or load_default_model()
    probability, reasons = model.explain(parsed)
    baseline, _ = url_risk(parsed)
    listed: tuple[str, ...] = ()
    if intel is not None:
        matches = intel.match_url(parsed, patterns=True)
        listed = tuple(f"{m.matched_on} listed by {m.indicator.feed}" for m in matches)
    return UrlScore(
        input=raw,
        url=parsed.url,
        registrable_domain=parsed.registrable_domain,
        score=round(probability, 4),
        baseline=round(baseline, 4),
        reasons=tuple(str(reason) for reason in reasons),
        brands=tuple(
            f"{hit.brand}: {hit.technique} ({hit.evidence})"
            for hit in find_impersonation(parsed)
        ),
        intel=listed,
        flags=tuple(sorted(parsed.flags)),
    )


@click.group()
def url() -> None:
    """Work with URLs: score them from the string alone, train and evaluate models."""


@url.command("score")
@click.argument("urls", nargs=-1, required=True)
@click.option("--intel", "intel_paths", multiple=True, help="Threat-intel files.")
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A model from 'trustwatch url train' (default: the shipped model).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines output.")
def score(
    urls: Sequence[str],
    intel_paths: Sequence[str],
    model_path: Path | None,
    as_json: bool,
) -> None:
    """Score URLS: the probability each is malicious, with the reasons.

    The score is the URL model's calibrated probability; the rule-weighted
    baseline, brand impersonation and intel matches are shown beside it.
    Nothing is fetched or resolved.
    """
    if any(not path.strip() for path in intel_paths):
        raise ConfigError("an --intel path is empty")
    model = UrlModel.load(model_path) if model_path else load_default_model()
    store = None
    if intel_paths:
        from trustwatch.runtime.embedded import load_intel

        loaded = load_intel(intel_paths)
        store = loaded.store
        if loaded.rejected:
            first = loaded.rejected[0]
            errors.print(
                f"warning: {len(loaded.rejected):,} intel records could not be "
                f"read and were left out; the first: {clean(first.source)} "
                f"{clean(first.location)}: {clean(first.message)}"
            )
    results = [score_url(raw, store, model) for raw in urls]
    if as_json:
        encode = msgspec.json.Encoder().encode
        for result in results:
            sys.stdout.write(encode(result).decode() + "\n")
    else:
        for result in results:
            _show(result)
    if any(result.error for result in results):
        raise InvalidUrlError("some inputs are not URLs a browser would load")


#: Characters of a URL shown in the table output (``--json`` keeps it whole).
_SHOWN_URL_CHARS = 300


def _shown(url: str) -> str:
    """``url`` cleaned for a terminal, cut short with the length it had."""
    if len(url) <= _SHOWN_URL_CHARS:
        return clean(url)
    return f"{clean(url[:_SHOWN_URL_CHARS])}... ({len(url):,} characters)"


def _show(result: UrlScore) -> None:
    if result.error:
        console.print(f"{_shown(result.input)}: not a URL: {clean(result.error)}")
        return
    console.print(
        f"{_shown(result.url or result.input)}  score {result.score:.2f}  "
        f"(rules {result.baseline:.2f})"
    )
    for line in (*result.intel, *result.brands, *result.reasons):
        console.print(f"  - {clean(line)}")
    if result.flags:
        console.print(f"  flags: {', '.join(result.flags)}")


_DATASETS_HELP = (
    "A shared datasets folder; its reference URL sources are read in place."
)


def _load_corpus(
    datasets: Path | None,
    labelled: Sequence[Path],
    open_only: bool,
    sources: Sequence[str] = (),
) -> list[LabelledUrl]:
    from trustwatch.urlmodel.corpus import load_reference_corpus

    rows: list[LabelledUrl] = []
    if datasets is not None:
        chosen = list(sources) if sources else None
        rows.extend(
            load_reference_corpus(datasets, open_only=open_only, sources=chosen)
        )
    rows.extend(read_labelled_urls(labelled))
    if not rows:
        where = "the --labelled files" if labelled else "no source"
        raise ConfigError(
            f"no labelled URLs in {where}; hint: pass --datasets or --labelled"
        )
    return rows


def read_labelled_urls(paths: Sequence[Path]) -> list[LabelledUrl]:
    """Read ``--labelled`` files: each URL once, the first row of it kept.

    Raises
    ------
    ConfigError
        When a file cannot be read, or a URL is labelled both malicious and
        benign (in one file or across them).
    """
    from trustwatch.urlmodel.corpus import read_labelled_file

    own: dict[str, LabelledUrl] = {}
    for path in paths:
        for row in read_labelled_file(path):
            seen = own.get(row.url)
            if seen is not None and seen.label != row.label:
                raise ConfigError(
                    f"{row.url[:80]!r} is labelled both malicious and benign "
                    f"({seen.source} and {row.source}); hint: keep one label per URL"
                )
            own.setdefault(row.url, row)
    return list(own.values())  # each URL once: repeats would only add weight


def model_output_path(text: str, labelled: Sequence[Path]) -> Path:
    """Check the model file ``--out`` names before training; return it.

    Refused: an empty name (``Path("")`` would be the current folder), a name
    not ending in ``.npz``, a model or data card (``.md`` beside it) that
    would be written over one of the ``--labelled`` inputs (by path or by
    link), a folder, and a folder that cannot be created.
    """
    if not text.strip():
        raise ConfigError("--out is empty; hint: name a .npz file")
    out = Path(text)
    if out.suffix != ".npz":
        raise ConfigError(f"--out {out} must end in .npz")
    from trustwatch.cli.train import same_file

    for written in (out, out.with_suffix(".md")):
        for path in labelled:
            if same_file(written, path):
                raise ConfigError(
                    f"--out {out} would write over {path} ({written.name}), one "
                    "of the --labelled files; hint: name a new file for the model"
                )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write to {out}: {exc.strerror or exc}") from exc
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder")
    return out


def _training_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options ``url train`` and ``url evaluate`` share: data and fitting."""
    options = [
        click.option(
            "--datasets",
            type=click.Path(file_okay=False, path_type=Path),
            help=_DATASETS_HELP,
        ),
        click.option(
            "--labelled",
            multiple=True,
            type=click.Path(dir_okay=False, path_type=Path),
            help="CSV or JSON Lines with url, label and optional time columns "
            "(ISO 8601 or epoch seconds; UTC when no zone is written).",
        ),
        click.option(
            "--open-only",
            is_flag=True,
            help="Only sources whose licence allows shipping a model trained on them.",
        ),
        click.option(
            "--bits",
            default=20,
            show_default=True,
            help="Hashed n-gram space, 2**bits.",
        ),
        click.option(
            "--ordinary-paths",
            default=0,
            show_default=True,
            type=click.IntRange(0),
            help="Ordinary page addresses to add on the domains of benign home "
            "pages (for benign data that is a list of domains, such as "
            "popular-domain lists).",
        ),
        click.option(
            "--host-pages",
            is_flag=True,
            help="Add the home page of each malicious URL's host as malicious.",
        ),
        click.option(
            "--regularisation",
            default=_DEFAULTS.regularisation,
            show_default=True,
            type=FiniteFloatRange(min=0.0, min_open=True),
            help="L2 penalty of the n-gram stage (larger: simpler, more general).",
        ),
        click.option(
            "--trees",
            default=_DEFAULTS.trees,
            show_default=True,
            type=click.IntRange(1),
            help="Gradient-boosted trees in the second stage.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@url.command("train")
@_training_options
@click.option("--name", default="custom", show_default=True, help="Model name.")
@click.option(
    "--metrics",
    "metrics_paths",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A report.json from 'trustwatch url evaluate' of this recipe or model, "
    "copied into the data card (repeat for more); refused when it records "
    "another recipe (settings, --ordinary-paths, --host-pages).",
)
@click.option(
    "--out",
    "out_text",
    required=True,
    help="Where to write the model (.npz); its data card goes beside it (.md).",
)
def train(
    datasets: Path | None,
    labelled: Sequence[Path],
    open_only: bool,
    bits: int,
    ordinary_paths: int,
    host_pages: bool,
    regularisation: float,
    trees: int,
    name: str,
    metrics_paths: Sequence[Path],
    out_text: str,
) -> None:
    """Train a URL model on labelled URLs and write it with its data card."""
    if not 10 <= bits <= 24:
        raise ConfigError(f"--bits {bits} is out of range; hint: choose 10 to 24")
    out = model_output_path(out_text, labelled)
    command = " ".join(
        [
            "trustwatch url train",
            *(["--datasets DATASETS"] if datasets else []),
            *(f"--labelled {path.name}" for path in labelled),
            *(["--open-only"] if open_only else []),
            f"--bits {bits}",
            f"--ordinary-paths {ordinary_paths}",
            *(["--host-pages"] if host_pages else []),
            f"--regularisation {regularisation:g}",
            f"--trees {trees}",
            f"--name {name}",
        ]
    )
    train_url_model(
        _load_corpus(datasets, labelled, open_only),
        out,
        command=command,
        name=name,
        open_only=open_only,
        settings=TrainingSettings(
            bits=bits, regularisation=regularisation, trees=trees
        ),
        ordinary_paths=ordinary_paths,
        host_pages=host_pages,
        metrics_paths=metrics_paths,
    )


def train_url_model(
    rows: Sequence[LabelledUrl],
    out: Path,
    *,
    command: str,
    name: str = "custom",
    open_only: bool = False,
    settings: TrainingSettings | None = None,
    ordinary_paths: int = 0,
    host_pages: bool = False,
    metrics_paths: Sequence[Path] = (),
) -> None:
    """Train a URL model on ``rows``; write it to ``out`` with its data card.

    ``command`` is the command line the card records; each row's ``source``
    names where it came from in the card (a file name, a reference source,
    the review store). ``out`` is checked already (:func:`model_output_path`).
    """
    from trustwatch.urlmodel.card import render_card
    from trustwatch.urlmodel.training import (
        fit_url_model,
        parse_corpus,
        with_host_pages,
        with_ordinary_paths,
    )

    corpus = parse_corpus(rows)
    if host_pages:
        corpus = with_host_pages(corpus)
    corpus = with_ordinary_paths(corpus, ordinary_paths)
    console.print(
        f"training on {len(corpus.rows):,} URLs "
        f"({int(corpus.labels.sum()):,} malicious); {corpus.rejected:,} did not parse"
    )
    card = _card(corpus.rows, open_only)
    card["name"] = name
    card["ordinary_paths"] = ordinary_paths
    card["host_pages"] = host_pages
    card["command"] = command
    settings = settings or TrainingSettings()
    if metrics_paths:
        recipe = _recipe(settings, ordinary_paths=ordinary_paths, host_pages=host_pages)
        card.update(_metrics(metrics_paths, recipe))
    model = fit_url_model(corpus, settings, card)
    try:
        model.save(out)
        out.with_suffix(".md").write_text(render_card(model), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror or exc}") from exc
    console.print(f"model written to {clean(str(out))}, data card beside it")


def _recipe(
    settings: TrainingSettings, *, ordinary_paths: int, host_pages: bool
) -> dict[str, Any]:
    """What makes a model: its training settings and the rows added to the data.

    ``report.json`` records it for each split, and ``url train --metrics``
    compares it with the model being trained. Plain JSON values, as read back.
    """
    recipe = {
        "settings": asdict(settings),
        "ordinary_paths": ordinary_paths,
        "host_pages": host_pages,
    }
    return dict(json.loads(json.dumps(recipe)))


def _model_recipe(model: UrlModel) -> dict[str, Any]:
    """The recipe a trained model's data card records (``None`` where it is silent)."""
    card = model.card
    recipe = {
        "settings": card.get("settings"),
        "ordinary_paths": card.get("ordinary_paths"),
        "host_pages": card.get("host_pages"),
    }
    return dict(json.loads(json.dumps(recipe)))


def _recipe_differences(found: object, expected: dict[str, Any]) -> list[str]:
    """Each setting that differs, as ``name X in the report, Y here``."""
    if not isinstance(found, dict):
        return ["no recipe in the report"]
    differences = []
    flat_found = {**(found.get("settings") or {}), **found}
    flat_expected = {**expected["settings"], **expected}
    for key, value in flat_expected.items():
        if key != "settings" and flat_found.get(key) != value:
            differences.append(
                f"{key} {flat_found.get(key)!r} in the report, {value!r} here"
            )
    return differences


def _metrics(paths: Sequence[Path], recipe: dict[str, Any]) -> dict[str, object]:
    """The model's figures from evaluation reports, for the data card.

    Raises
    ------
    ConfigError
        When a file is not a report of ``url evaluate``, or a report is of
        another recipe than ``recipe`` (the model being trained), or of a
        version of trustwatch that did not record the recipe.
    """
    metrics: dict[str, object] = {}
    notes = []
    for path in paths:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            for split in report:
                differences = _recipe_differences(split.get("recipe"), recipe)
                if differences:
                    raise ConfigError(
                        f"{path} evaluates another recipe than the model being "
                        f"trained ({split['name']} split: "
                        f"{'; '.join(differences[:4])}); hint: run 'trustwatch "
                        "url evaluate' with this command's options and pass its "
                        "report.json, or leave out --metrics"
                    )
                model = next(m for m in split["methods"] if m["name"] == "model")
                metrics[split["name"]] = {
                    **{
                        key: model[key]
                        for key in ("roc_auc", "average_precision", "tpr_at_fpr")
                    },
                    "test_benign": split["test_benign"],
                }
                notes.append(
                    f"{split['name']}: {split['description']}; test "
                    f"{split['test_malicious']:,} malicious, {split['test_benign']:,} "
                    f"benign ({split['test_benign_with_path']:,} with a path)."
                )
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            AttributeError,
            StopIteration,
        ) as exc:
            raise ConfigError(
                f"{path} is not a report from 'trustwatch url evaluate'"
            ) from exc
    return {"metrics": metrics, "metrics_note": " ".join(notes)}


def _card(rows: Sequence[LabelledUrl], open_only: bool) -> dict[str, object]:
    from trustwatch.urlmodel.corpus import SOURCES
    from trustwatch.urlmodel.training import SYNTHETIC_SOURCE

    licences = {source.name: source.licence for source in SOURCES}
    licences[SYNTHETIC_SOURCE] = "generated by trustwatch (Apache-2.0)"
    by_source: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = by_source.setdefault(
            row.source,
            {
                "licence": licences.get(row.source.split("+", 1)[0], "the team's own"),
                "classes": {},
            },
        )
        kind = "malicious" if row.label == 1 else "benign"
        counts = entry["classes"].setdefault(
            kind, {"rows": 0, "first": None, "last": None}
        )
        counts["rows"] += 1
        if row.time is not None:
            day = row.time.strftime("%Y-%m-%d")
            first, last = counts["first"], counts["last"]
            counts["first"] = day if first is None or day < first else first
            counts["last"] = day if last is None or day > last else last
    return {
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "open_licences_only": open_only,
        "sources": by_source,
    }


@url.command("evaluate")
@_training_options
@click.option(
    "--cutoff",
    default="2024-10-01",
    show_default=True,
    help="Start of the test period for the time split (ISO date); 'none' skips it.",
)
@click.option(
    "--test-fraction",
    default=0.3,
    show_default=True,
    type=FiniteFloatRange(0.05, 0.95),
    help="Share of registrable domains that test.",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Score this trained model on the chosen URLs instead of training.",
)
@click.option(
    "--source",
    "source_names",
    multiple=True,
    help="Reference sources to read from --datasets (default: all).",
)
@click.option(
    "--max-per-host",
    default=0,
    show_default=True,
    type=click.IntRange(0),
    help="Test URLs kept per host (0: all), so one crawled site cannot decide a rate.",
)
@click.option(
    "--out",
    "out_text",
    required=True,
    help="Folder for report.json, report.md and pr_curve.png.",
)
def evaluate(
    datasets: Path | None,
    labelled: Sequence[Path],
    open_only: bool,
    cutoff: str,
    test_fraction: float,
    bits: int,
    ordinary_paths: int,
    host_pages: bool,
    regularisation: float,
    trees: int,
    model_path: Path | None,
    source_names: Sequence[str],
    max_per_host: int,
    out_text: str,
) -> None:
    """Evaluate the URL model on time and domain splits against the baselines.

    With --model, score that model as trained on the chosen URLs instead (a
    check on sources it never saw).
    """
    from trustwatch.urlmodel.evaluation import (
        evaluate_model,
        evaluate_splits,
        plot_precision_recall,
    )
    from trustwatch.urlmodel.report import render_markdown, to_json
    from trustwatch.urlmodel.training import TrainingSettings, parse_corpus

    start = None
    if cutoff.lower() != "none":
        try:
            start = datetime.fromisoformat(cutoff).replace(tzinfo=UTC)
        except ValueError as exc:
            raise ConfigError(f"--cutoff {cutoff!r} is not an ISO date") from exc
    out = output_folder(out_text, _REPORT_FILES)
    for path in labelled:
        if path.resolve() in {(out / name).resolve() for name in _REPORT_FILES}:
            raise ConfigError(f"--out {out} would replace the --labelled {path}")
    corpus = parse_corpus(_load_corpus(datasets, labelled, open_only, source_names))
    if model_path is not None:
        model = UrlModel.load(model_path)
        recipe = _model_recipe(model)
        results = [evaluate_model(model, corpus, max_per_host=max_per_host)]
    else:
        settings = TrainingSettings(
            bits=bits, regularisation=regularisation, trees=trees
        )
        recipe = _recipe(settings, ordinary_paths=ordinary_paths, host_pages=host_pages)
        results = evaluate_splits(
            corpus,
            cutoff=start,
            test_fraction=test_fraction,
            settings=settings,
            ordinary_paths=ordinary_paths,
            host_pages=host_pages,
            max_per_host=max_per_host,
            progress=lambda message: console.print(clean(message)),
        )
    markdown = render_markdown(results, rejected=corpus.rejected)
    try:
        plot_precision_recall(results, out / "pr_curve.png")
        write_output_files(
            out,
            {
                "report.json": json.dumps(
                    [{**split, "recipe": recipe} for split in to_json(results)],
                    indent=2,
                )
                + "\n",
                "report.md": markdown,
            },
        )
    except OSError as exc:
        raise ConfigError(f"cannot write to {out}: {exc.strerror or exc}") from exc
    console.print(markdown, markup=False, highlight=False)
