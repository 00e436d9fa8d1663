"""Evaluate URL models the way they are used: on URLs they have never seen.

Two splits, each training a fresh model on its training side:

- **time**: malicious URLs dated before the cut-off train, those on or after
  it test (undated malicious rows sit out); benign rows, which carry no
  dates, are split by registrable domain;
- **domain**: every row is split by registrable domain, so no test domain
  appears in training.

In the same run, on the same test rows, two baselines: an intel lookup that
knows every malicious URL of the training side (what a block list would
have listed), and the rule-weighted heuristic score. Each method gets ROC AUC,
average precision, and the true-positive rate at false-positive rates of
1e-2, 1e-3 and 1e-4; a PNG draws the precision-recall curves.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from trustwatch.errors import ConfigError, InvalidIndicatorError
from trustwatch.intel.indicators import indicator_from_text
from trustwatch.intel.store import IndicatorStore
from trustwatch.urlmodel.heuristic import url_risk
from trustwatch.urlmodel.model import UrlModel
from trustwatch.urlmodel.training import (
    ParsedCorpus,
    TrainingSettings,
    domain_bucket,
    fit_url_model,
    with_host_pages,
    with_ordinary_paths,
)

__all__ = [
    "FPR_TARGETS",
    "MethodResult",
    "SplitResult",
    "evaluate_model",
    "evaluate_splits",
    "plot_precision_recall",
    "split_by_domain",
    "split_by_time",
]

FPR_TARGETS = (1e-2, 1e-3, 1e-4)
_SPLIT_SALT = "evaluation"


@dataclass
class MethodResult:
    """How one method ranked one split's test rows."""

    name: str
    roc_auc: float
    average_precision: float
    tpr_at_fpr: dict[float, float]
    precision: list[float] = field(repr=False, default_factory=list)
    recall: list[float] = field(repr=False, default_factory=list)


@dataclass
class SplitResult:
    """One split: its sizes, what it means, and each method's figures."""

    name: str
    description: str
    train_malicious: int
    train_benign: int
    test_malicious: int
    test_benign: int
    test_benign_with_path: int
    methods: list[MethodResult]
    test_sources: dict[str, int]
    recall_by_source: dict[str, float]
    path_benign_flagged: int = 0
    path_benign_hosts: int = 0
    path_benign_hosts_flagged: int = 0


def split_by_time(
    corpus: ParsedCorpus, cutoff: datetime, test_fraction: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], str]:
    """Return train and test row indices for the time split, and its description."""
    train: list[int] = []
    test: list[int] = []
    for index, (row, parsed) in enumerate(zip(corpus.rows, corpus.parsed, strict=True)):
        if row.label == 1:
            if row.time is None:
                continue
            (train if row.time < cutoff else test).append(index)
        else:
            in_test = domain_bucket(parsed, _SPLIT_SALT) < test_fraction
            (test if in_test else train).append(index)
    text = (
        f"malicious URLs first seen before {cutoff:%Y-%m-%d} train, the rest test; "
        f"benign URLs split by registrable domain ({test_fraction:.0%} of domains test)"
    )
    return np.array(train, dtype=np.int64), np.array(test, dtype=np.int64), text


def split_by_domain(
    corpus: ParsedCorpus, test_fraction: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], str]:
    """Return train and test row indices for the registrable-domain split."""
    in_test = np.array(
        [domain_bucket(p, _SPLIT_SALT) < test_fraction for p in corpus.parsed]
    )
    indices = np.arange(len(corpus.parsed))
    text = (
        f"every URL split by registrable domain ({test_fraction:.0%} of domains test)"
    )
    return indices[~in_test], indices[in_test], text


def evaluate_splits(
    corpus: ParsedCorpus,
    *,
    cutoff: datetime | None,
    test_fraction: float = 0.3,
    settings: TrainingSettings | None = None,
    ordinary_paths: int = 0,
    host_pages: bool = False,
    max_per_host: int = 0,
    splits: tuple[str, ...] = ("time", "domain"),
    progress: Callable[[str], None] | None = None,
) -> list[SplitResult]:
    """Train and test on each split and compare with the baselines.

    Parameters
    ----------
    corpus
        Parsed labelled URLs.
    cutoff
        Start of the test period for the time split; ``None`` skips it.
    test_fraction
        Share of registrable domains that test.
    settings
        Training settings for the model.
    ordinary_paths
        Ordinary page addresses added to each training side (see
        :func:`~trustwatch.urlmodel.training.with_ordinary_paths`); never
        tested on.
    host_pages
        Add the home pages of malicious URLs' hosts to each training side
        (see :func:`~trustwatch.urlmodel.training.with_host_pages`).
    max_per_host
        Keep at most this many test URLs per host (``0``: all), chosen by a
        stable hash, so that one site crawled page by page cannot decide a
        rate by itself.
    splits
        Which splits to run, of ``"time"`` and ``"domain"``.
    progress
        Called with a short message as each stage starts.
    """
    say = progress or (lambda _message: None)
    chosen = []
    if cutoff is not None and "time" in splits:
        chosen.append(("time", *split_by_time(corpus, cutoff, test_fraction)))
    if "domain" in splits:
        chosen.append(("domain", *split_by_domain(corpus, test_fraction)))
    results = []
    for name, train, test, description in chosen:
        if max_per_host:
            test = _capped_per_host(corpus, test, max_per_host)
        train_part, test_part = _subset(corpus, train), _subset(corpus, test)
        listed = train_part  # what a block list knows: the feeds' own rows
        if host_pages:
            train_part = with_host_pages(train_part)
        train_part = with_ordinary_paths(train_part, ordinary_paths)
        for part, side in ((train_part, "training"), (test_part, "test")):
            if len(set(part.labels.tolist())) < 2:
                missing = "benign" if part.labels.all() else "malicious"
                raise ConfigError(
                    f"the {name} split has no {missing} URLs on its {side} side; "
                    "hint: the time split divides malicious URLs by --cutoff "
                    "(undated data: --cutoff none), and benign URLs by registrable "
                    "domain, so benign URLs need several domains"
                )
        say(f"{name} split: training on {len(train):,} URLs")
        model = fit_url_model(train_part, settings)
        say(f"{name} split: scoring {len(test):,} URLs")
        scores = {
            "model": model.raw_scores(test_part.parsed),
            "heuristic baseline": np.array([url_risk(p)[0] for p in test_part.parsed]),
            "intel lookup": _intel_scores(listed, test_part),
        }
        results.append(_split_result(name, description, train_part, test_part, scores))
    return results


def evaluate_model(
    model: UrlModel, corpus: ParsedCorpus, *, max_per_host: int = 0
) -> SplitResult:
    """Score a trained model on labelled URLs it was not trained on.

    No training happens: every row tests. The intel lookup has no training
    side to learn from, so only the rule baseline runs beside the model.
    """
    rows = np.arange(len(corpus.rows), dtype=np.int64)
    if max_per_host:
        rows = _capped_per_host(corpus, rows, max_per_host)
    test = _subset(corpus, rows)
    if len(set(test.labels.tolist())) < 2:
        raise ConfigError("the held-out URLs need both malicious and benign rows")
    scores = {
        "model": model.raw_scores(test.parsed),
        "heuristic baseline": np.array([url_risk(p)[0] for p in test.parsed]),
    }
    empty = ParsedCorpus([], [], np.zeros(0, dtype=np.int64), 0)
    name = str(model.card.get("name", "model"))
    sources = ", ".join(sorted({row.source for row in test.rows}))
    text = f"the {name} model, as trained, on every row of {sources}"
    return _split_result("held-out sources", text, empty, test, scores)


def _capped_per_host(
    corpus: ParsedCorpus, indices: npt.NDArray[np.int64], limit: int
) -> npt.NDArray[np.int64]:
    """Keep at most ``limit`` of ``indices`` per host, by a stable URL hash."""
    order = sorted(
        indices.tolist(), key=lambda i: zlib.crc32(corpus.rows[i].url.encode())
    )
    kept: list[int] = []
    per_host: dict[str, int] = {}
    for index in order:
        host = corpus.parsed[index].host
        if per_host.get(host, 0) < limit:
            per_host[host] = per_host.get(host, 0) + 1
            kept.append(index)
    return np.array(sorted(kept), dtype=np.int64)


def _subset(corpus: ParsedCorpus, indices: npt.NDArray[np.int64]) -> ParsedCorpus:
    return ParsedCorpus(
        [corpus.rows[i] for i in indices],
        [corpus.parsed[i] for i in indices],
        corpus.labels[indices],
        0,
    )


def _intel_scores(train: ParsedCorpus, test: ParsedCorpus) -> npt.NDArray[np.float64]:
    """1.0 for test URLs the training side's malicious URLs list, else 0.0."""
    store = IndicatorStore()
    for row in train.rows:
        if row.label == 1:
            try:
                store.add(indicator_from_text(row.url, row.source, type="url"))
            except InvalidIndicatorError:
                continue
    return np.array([1.0 if store.match_url(p) else 0.0 for p in test.parsed])


def _split_result(
    name: str,
    description: str,
    train: ParsedCorpus,
    test: ParsedCorpus,
    scores: dict[str, npt.NDArray[np.float64]],
) -> SplitResult:
    labels = test.labels
    benign = labels == 0
    methods = [
        _method_result(method, labels, values) for method, values in scores.items()
    ]
    model_scores = scores["model"]
    threshold = _threshold_at(model_scores[benign], 1e-3)
    sources = np.array([row.source for row in test.rows])
    recall = {
        str(source): float(
            (model_scores[(sources == source) & ~benign] > threshold).mean()
        )
        for source in sorted(set(sources[~benign].tolist()))
    }
    counts = {
        str(s): int(((sources == s) & ~benign).sum())
        for s in sorted(set(sources.tolist()))
    }
    # the hard benign rows: pages, not home pages, judged at the same threshold
    with_path = np.array(
        [
            b and p.path not in ("", "/")
            for p, b in zip(test.parsed, benign, strict=True)
        ],
        dtype=bool,
    )
    flagged = with_path & (model_scores > threshold)
    hosts = {test.parsed[i].host for i in np.flatnonzero(with_path)}
    hosts_flagged = {test.parsed[i].host for i in np.flatnonzero(flagged)}
    return SplitResult(
        name=name,
        description=description,
        train_malicious=int(train.labels.sum()),
        train_benign=int((train.labels == 0).sum()),
        test_malicious=int(labels.sum()),
        test_benign=int(benign.sum()),
        test_benign_with_path=int(with_path.sum()),
        methods=methods,
        test_sources=counts,
        recall_by_source=recall,
        path_benign_flagged=int(flagged.sum()),
        path_benign_hosts=len(hosts),
        path_benign_hosts_flagged=len(hosts_flagged),
    )


def _threshold_at(benign_scores: npt.NDArray[np.float64], fpr: float) -> float:
    """The lowest score that flags at most ``fpr`` of the benign rows."""
    ordered = np.sort(benign_scores)[::-1]
    allowed = int(np.floor(fpr * len(ordered)))
    return float(ordered[allowed]) if allowed < len(ordered) else float("-inf")


def _method_result(
    name: str, labels: npt.NDArray[np.int64], scores: npt.NDArray[np.float64]
) -> MethodResult:
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
    )

    benign = scores[labels == 0]
    malicious = scores[labels == 1]
    tpr = {}
    for fpr in FPR_TARGETS:
        threshold = _threshold_at(benign, fpr)
        tpr[fpr] = float((malicious > threshold).mean())
    precision, recall, _ = precision_recall_curve(labels, scores)
    step = max(1, len(precision) // 2000)  # enough points to draw, not to store
    return MethodResult(
        name=name,
        roc_auc=float(roc_auc_score(labels, scores)),
        average_precision=float(average_precision_score(labels, scores)),
        tpr_at_fpr=tpr,
        precision=[float(v) for v in precision[::step]],
        recall=[float(v) for v in recall[::step]],
    )


def plot_precision_recall(results: Sequence[SplitResult], path: Path) -> None:
    """Draw each split's precision-recall curves, one panel per split, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(
        1, len(results), figsize=(5.5 * len(results), 4.5), squeeze=False
    )
    for axis, split in zip(axes[0], results, strict=True):
        for method in split.methods:
            axis.plot(
                method.recall,
                method.precision,
                label=f"{method.name} (AP {method.average_precision:.3f})",
            )
        axis.set_title(
            f"{split.name} split: {split.test_malicious:,} malicious, "
            f"{split.test_benign:,} benign"
        )
        axis.set_xlabel("recall")
        axis.set_ylabel("precision")
        axis.set_xlim(0, 1)
        axis.set_ylim(0, 1.02)
        axis.grid(alpha=0.3)
        axis.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
