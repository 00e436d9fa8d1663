"""Supervised node scoring on labelled graphs under GADBench's protocol.

What is measured
----------------
Two node scorers, on the same splits, on the PyGOD graphs in
``shared/datasets/pygod-graphs``: Reddit (banned users, the headline), and
books, disney and enron as sanity checks.

- ``trees``: :class:`~trustwatch.graphmodel.NodeScorer` (LightGBM on each
  node's own features, their deviation from the neighbours' mean, mean /
  max / sum aggregates over ``hops`` hops, and degrees);
- ``graphsage``: :class:`~trustwatch.graphmodel.GraphSageScorer` (GraphSAGE
  on the raw node features and the log-degree, trained full-batch),
  evaluated when torch and torch_geometric are installed
  (``pip install 'trustwatch[gnn]'``).

The protocol implemented
------------------------
GADBench (Tang et al., "GADBench: Revisiting and Benchmarking Supervised
Graph Anomaly Detection", NeurIPS 2023 Datasets and Benchmarks) in its
fully-supervised setting:

- nodes are split at random into 40 % train, 20 % validation and 40 % test;
  the split is drawn again for each seed and the figures are the mean and the
  (population) standard deviation over the seeds (GADBench reports 10 trials);
- the model sees the labels of the training nodes only (the trees also as
  features: how many of a node's 1- and 2-hop neighbours are known
  anomalies, and how likely short random walks from it end on one, each
  training node's features taken from the other folds' labels, never its
  own); the validation
  nodes choose the number of trees, or GraphSAGE's epoch (early stopping on
  average precision); test nodes are scored once, at the end;
- the whole graph (features and edges of every node, not their labels) is
  visible when the neighbourhood aggregates are built: the transductive
  setting;
- metrics on the test nodes: AUROC, AUPRC (average precision) and Rec@K,
  the recall among the ``K`` top-scored test nodes where ``K`` is the number
  of anomalies in the test split.

Known differences and uncertainty: the 40 % training share for Reddit is
stated in GADBench's README; the 20 % / 40 % validation / test shares are
from our reading of the paper and were not re-checked against its text
here. GADBench ships its ten splits as masks inside its own graph files,
which are not in ``shared/datasets``; ours are fresh, stratified by label
(each part keeps the anomaly ratio), so our splits are not GADBench's and
the figures compare distributions, not identical runs. GADBench's
published figures are the best of its models after a random hyper-parameter
search; ours use one fixed setting per model (see
:class:`~trustwatch.graphmodel.NodeScorerSettings` and
:class:`~trustwatch.graphmodel.GraphSageSettings`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from trustwatch.errors import ConfigError
from trustwatch.graphmodel import (
    GraphSageScorer,
    GraphSageSettings,
    LabelledGraph,
    NodeScorer,
    NodeScorerSettings,
    NodeSplit,
    RankingMetrics,
    gnn_available,
    label_features,
    load_npz_graph,
    node_features,
    ranking_metrics,
    stratified_split,
)

__all__ = [
    "GADBENCH_REDDIT_BEST",
    "GAD_DATASETS",
    "GAD_MODELS",
    "GadEvaluation",
    "GadResult",
    "MetricSummary",
    "evaluate_gad",
]

logger = logging.getLogger(__name__)

GAD_DATASETS = ("reddit", "books", "disney", "enron")
"""Graphs evaluated, headline first; files ``pygod-graphs/<name>.npz``."""

GAD_MODELS = ("trees", "graphsage")
"""Node scorers the evaluation knows, in report order."""

GRAPHS_DIR = "pygod-graphs"
TRAIN_FRACTION = 0.4
VALIDATION_FRACTION = 0.2
DEFAULT_SEEDS = tuple(range(10))
DEFAULT_HOPS = 3

GADBENCH_REDDIT_BEST = {"auroc": 0.702, "auprc": 0.083, "recall_at_k": 0.143}
"""Best of GADBench's models on Reddit, fully supervised, per metric."""

_METRICS = ("auroc", "auprc", "recall_at_k")
_LABELS = {"auroc": "AUROC", "auprc": "AUPRC", "recall_at_k": "Rec@K"}
_MODEL_LABELS = {"trees": "LightGBM", "graphsage": "GraphSAGE"}


@dataclass(frozen=True)
class MetricSummary:
    """Mean and population standard deviation of one metric over seeds."""

    mean: float
    std: float

    @classmethod
    def of(cls, values: Sequence[float]) -> MetricSummary:
        """Summarise ``values`` (one per seed)."""
        array = np.asarray(values, dtype=np.float64)
        return cls(float(array.mean()), float(array.std()))


@dataclass(frozen=True)
class GadResult:
    """Test-split figures of one model on one graph over every seed.

    Attributes
    ----------
    dataset
        Graph name.
    n_nodes, n_edges, n_anomalies
        Size of the graph (undirected edges, counted once).
    per_seed
        Seed -> test metrics of that seed's split.
    trees
        Seed -> trees kept by early stopping on the validation nodes (empty
        for a model other than ``trees``).
    model
        The node scorer, one of :data:`GAD_MODELS`.
    epochs
        Seed -> GraphSAGE epoch kept by early stopping on the validation
        nodes (empty for a model other than ``graphsage``).
    seconds
        Wall time of fitting and scoring over every seed (not part of the
        report, which is repeatable; logged).
    """

    dataset: str
    n_nodes: int
    n_edges: int
    n_anomalies: int
    per_seed: dict[int, RankingMetrics]
    trees: dict[int, int]
    model: str = "trees"
    epochs: dict[int, int] = field(default_factory=dict)
    seconds: float = field(default=0.0, compare=False)

    def summary(self, metric: str) -> MetricSummary:
        """Mean and standard deviation of ``metric`` over the seeds."""
        return MetricSummary.of([getattr(m, metric) for m in self.per_seed.values()])

    def _summaries(self) -> dict[str, dict[str, float]]:
        return {
            m: {"mean": self.summary(m).mean, "std": self.summary(m).std}
            for m in _METRICS
        }

    def _per_seed_dict(self) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for seed, metrics in self.per_seed.items():
            row: dict[str, Any] = {
                "auroc": metrics.auroc,
                "auprc": metrics.auprc,
                "recall_at_k": metrics.recall_at_k,
                "k": metrics.k,
            }
            if seed in self.trees:
                row["trees"] = self.trees[seed]
            if seed in self.epochs:
                row["epochs"] = self.epochs[seed]
            rows[str(seed)] = row
        return rows


@dataclass(frozen=True)
class GadEvaluation:
    """The evaluation of every graph and model, GADBench's Reddit figures beside.

    ``results`` holds one :class:`GadResult` per graph and model, graphs in
    the order evaluated and, within a graph, models in :data:`GAD_MODELS`
    order.
    """

    results: tuple[GadResult, ...]
    seeds: tuple[int, ...]
    hops: int
    settings: NodeScorerSettings
    published: dict[str, float] = field(
        default_factory=lambda: dict(GADBENCH_REDDIT_BEST)
    )
    gnn_settings: GraphSageSettings | None = None
    neighbour_labels: bool = True

    @property
    def models(self) -> tuple[str, ...]:
        """The models evaluated, in report order."""
        present = {result.model for result in self.results}
        return tuple(model for model in GAD_MODELS if model in present)

    def result(self, dataset: str, model: str = "trees") -> GadResult:
        """The result of ``model`` on ``dataset``; :class:`ConfigError` when absent."""
        for result in self.results:
            if result.dataset == dataset and result.model == model:
                return result
        raise ConfigError(f"{dataset!r} was not evaluated with the {model} model")

    def reddit_beats_published(self, model: str = "trees") -> dict[str, bool] | None:
        """Per metric, whether ``model``'s Reddit mean beats GADBench's best.

        None when Reddit was not evaluated with ``model``.
        """
        if not any(r.dataset == "reddit" and r.model == model for r in self.results):
            return None
        reddit = self.result("reddit", model)
        return {m: reddit.summary(m).mean > self.published[m] for m in _METRICS}

    def render(self) -> str:
        """A markdown table, one row per graph and model, GADBench's best beside."""
        header = "| dataset | nodes | anomalies | " + " | ".join(
            _LABELS[m] for m in _METRICS
        )
        lines = [header + " |", "|---" * (3 + len(_METRICS)) + "|"]
        for index, result in enumerate(self.results):
            cells = [
                f"{result.summary(m).mean:.3f} ± {result.summary(m).std:.3f}"
                for m in _METRICS
            ]
            lines.append(
                f"| {_row_name(result)} | "
                f"{result.n_nodes} | {result.n_anomalies} | " + " | ".join(cells) + " |"
            )
            following = self.results[index + 1 : index + 2]
            next_is_reddit = any(r.dataset == "reddit" for r in following)
            if result.dataset == "reddit" and not next_is_reddit:
                published = [f"{self.published[m]:.3f}" for m in _METRICS]
                lines.append(
                    "| reddit, GADBench best of its models | | | "
                    + " | ".join(published)
                    + " |"
                )
        lines.append("")
        lines.append(
            f"Mean ± standard deviation over {len(self.seeds)} random stratified "
            f"splits (seeds {min(self.seeds)}-{max(self.seeds)}), "
            f"{TRAIN_FRACTION:.0%} train / {VALIDATION_FRACTION:.0%} validation / "
            f"{1 - TRAIN_FRACTION - VALIDATION_FRACTION:.0%} test, the same splits "
            f"for every model; {self._model_description()}; K = anomalies in the "
            "test split."
        )
        for model in self.models:
            beats = self.reddit_beats_published(model)
            if beats is None:
                continue
            verdict = ", ".join(
                f"{_LABELS[m]} {'beats' if won else 'does not beat'}"
                for m, won in beats.items()
            )
            if len(self.seeds) == 1:
                verdict += (
                    " (one split: no spread, so not a comparison; GADBench "
                    "reports the mean of 10)"
                )
            lines.append(
                f"Reddit, {_MODEL_LABELS[model]}, against GADBench's best: {verdict}."
            )
        return "\n".join(lines)

    def _model_description(self) -> str:
        parts = []
        if "trees" in self.models:
            named = "rows named by graph alone: " if len(self.models) > 1 else ""
            labels = (
                ", and the known anomalies among its 1- and 2-hop neighbours and "
                "at the end of 2- to 4-step random walks (training labels only, "
                "out of fold for training nodes)"
                if self.neighbour_labels
                else ""
            )
            parts.append(
                f"{named}{self.settings.n_models} LightGBM models averaged, on own "
                f"features plus {self.hops}-hop neighbour aggregates{labels}"
            )
        if "graphsage" in self.models and self.gnn_settings is not None:
            gnn = self.gnn_settings
            parts.append(
                f"GraphSAGE rows: {gnn.layers} mean-aggregation layers of "
                f"{gnn.hidden} on standardised raw features"
                f"{' and log(1 + degree)' if gnn.log_degree else ''}, full-batch, "
                "class-weighted loss"
            )
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the settings, summaries and per-seed figures.

        Each graph's entry keeps the ``trees`` model's figures at its top
        level (when that model ran) and holds every model's figures under
        ``"models"``.
        """
        datasets: dict[str, Any] = {}
        for result in self.results:
            entry = datasets.setdefault(
                result.dataset,
                {
                    "n_nodes": result.n_nodes,
                    "n_edges": result.n_edges,
                    "n_anomalies": result.n_anomalies,
                    "models": {},
                },
            )
            figures = {**result._summaries(), "per_seed": result._per_seed_dict()}
            entry["models"][result.model] = figures
            if result.model == "trees":
                entry.update(figures)
        payload: dict[str, Any] = {
            "protocol": {
                "name": "GADBench fully supervised (Tang et al., NeurIPS 2023)",
                "train_fraction": TRAIN_FRACTION,
                "validation_fraction": VALIDATION_FRACTION,
                "test_fraction": round(1 - TRAIN_FRACTION - VALIDATION_FRACTION, 10),
                "stratified": True,
                "seeds": list(self.seeds),
            },
            "models": list(self.models),
            "model": {
                "hops": self.hops,
                "n_models": self.settings.n_models,
                "neighbour_labels": self.neighbour_labels,
                **self.settings.lightgbm_params(),
            },
            "published_reddit_best": dict(self.published),
            "reddit_beats_published": self.reddit_beats_published("trees"),
            "reddit_beats_published_by_model": {
                model: self.reddit_beats_published(model) for model in self.models
            },
            "datasets": datasets,
        }
        if self.gnn_settings is not None and "graphsage" in self.models:
            payload["graphsage"] = self.gnn_settings.as_dict()
        return payload


def _row_name(result: GadResult) -> str:
    """The table's first cell: the graph, and the model unless it is trees."""
    if result.model == "trees":
        return result.dataset
    return f"{result.dataset}, {_MODEL_LABELS[result.model]}"


def _splits(graph: LabelledGraph, seeds: Sequence[int]) -> dict[int, NodeSplit]:
    """One stratified split per seed, shared by every model."""
    return {
        seed: stratified_split(
            graph.labels,
            train_fraction=TRAIN_FRACTION,
            validation_fraction=VALIDATION_FRACTION,
            seed=seed,
        )
        for seed in seeds
    }


def _result(
    graph: LabelledGraph,
    model: str,
    per_seed: dict[int, RankingMetrics],
    kept: dict[int, int],
    seconds: float,
) -> GadResult:
    logger.info(
        "graph %s evaluated with %s: %d nodes, %d seeds, %.1f s",
        graph.name,
        model,
        graph.n_nodes,
        len(per_seed),
        seconds,
    )
    return GadResult(
        dataset=graph.name,
        n_nodes=graph.n_nodes,
        n_edges=int(graph.adjacency.nnz // 2),
        n_anomalies=graph.n_anomalies,
        per_seed=per_seed,
        trees=kept if model == "trees" else {},
        model=model,
        epochs=kept if model == "graphsage" else {},
        seconds=seconds,
    )


def _evaluate_trees(
    graph: LabelledGraph,
    splits: dict[int, NodeSplit],
    hops: int,
    settings: NodeScorerSettings,
    neighbour_labels: bool,
) -> GadResult:
    """Fit and score LightGBM on neighbourhood aggregates once per split."""
    started = time.perf_counter()
    aggregates = node_features(graph, hops=hops).matrix
    per_seed: dict[int, RankingMetrics] = {}
    trees: dict[int, int] = {}
    for seed, split in splits.items():
        features = aggregates
        if neighbour_labels:
            known = label_features(
                graph.adjacency, graph.labels, split.train, seed=seed
            )
            features = np.hstack([aggregates, known])
        scorer = NodeScorer(_with_seed(settings, seed))
        scorer.fit(features, graph.labels, split.train, split.validation)
        test_scores = scorer.score(features[split.test])
        per_seed[seed] = ranking_metrics(graph.labels[split.test], test_scores)
        trees[seed] = scorer.best_iteration
    return _result(graph, "trees", per_seed, trees, time.perf_counter() - started)


def _evaluate_graphsage(
    graph: LabelledGraph, splits: dict[int, NodeSplit], settings: GraphSageSettings
) -> GadResult:
    """Fit and score GraphSAGE on the raw features once per split."""
    started = time.perf_counter()
    per_seed: dict[int, RankingMetrics] = {}
    epochs: dict[int, int] = {}
    for seed, split in splits.items():
        scorer = GraphSageScorer(_with_gnn_seed(settings, seed))
        scorer.fit(
            graph.features, graph.labels, graph.adjacency, split.train, split.validation
        )
        test_scores = scorer.score(split.test)
        per_seed[seed] = ranking_metrics(graph.labels[split.test], test_scores)
        epochs[seed] = scorer.best_epoch
    return _result(graph, "graphsage", per_seed, epochs, time.perf_counter() - started)


def _with_seed(settings: NodeScorerSettings, seed: int) -> NodeScorerSettings:
    """The settings with LightGBM's seed offset by the split seed."""
    values = {**settings.__dict__, "seed": settings.seed + seed}
    return NodeScorerSettings(**values)


def _with_gnn_seed(settings: GraphSageSettings, seed: int) -> GraphSageSettings:
    """The settings with GraphSAGE's seed offset by the split seed."""
    return replace(settings, seed=settings.seed + seed)


def _chosen_models(models: Sequence[str] | None) -> tuple[str, ...]:
    """The models to evaluate, in report order; checked before any work."""
    if models is None:
        return GAD_MODELS if gnn_available() else ("trees",)
    requested = tuple(models)
    unknown = sorted(set(requested) - set(GAD_MODELS))
    if unknown:
        raise ConfigError(
            f"unknown models {unknown}; hint: choose among {', '.join(GAD_MODELS)}"
        )
    if not requested:
        raise ConfigError(
            f"evaluate_gad needs at least one model; hint: {', '.join(GAD_MODELS)}"
        )
    if "graphsage" in requested and not gnn_available():
        raise ConfigError(
            "the graphsage model needs torch and torch_geometric, which are not "
            "installed; hint: pip install 'trustwatch[gnn]', or evaluate the "
            "trees model only"
        )
    return tuple(model for model in GAD_MODELS if model in requested)


def evaluate_gad(
    datasets: Path,
    *,
    seeds: Iterable[int] = DEFAULT_SEEDS,
    names: Sequence[str] = GAD_DATASETS,
    hops: int = DEFAULT_HOPS,
    settings: NodeScorerSettings | None = None,
    models: Sequence[str] | None = None,
    gnn_settings: GraphSageSettings | None = None,
    neighbour_labels: bool = True,
) -> GadEvaluation:
    """Evaluate supervised node scoring on the PyGOD graphs, GADBench-style.

    Parameters
    ----------
    datasets
        The ``shared/datasets`` folder (holding ``pygod-graphs/``), or the
        ``pygod-graphs`` folder itself.
    seeds
        One random split (and model seed offset) per seed, the same split
        for every model.
    names
        Graphs to evaluate, files ``<name>.npz``.
    hops
        Neighbour aggregation hops of the ``trees`` model.
    settings
        LightGBM settings; the defaults when omitted.
    models
        Models among :data:`GAD_MODELS`; when omitted, ``trees``, plus
        ``graphsage`` when torch and torch_geometric are installed.
    gnn_settings
        GraphSAGE settings; the defaults when omitted.
    neighbour_labels
        Give the ``trees`` model what the training labels say about each
        node's neighbourhood (:func:`~trustwatch.graphmodel.label_features`:
        labelled and anomalous 1- and 2-hop neighbours, out of fold for the
        training nodes themselves).

    Returns
    -------
    GadEvaluation
        Per graph and model, test metrics per seed and their mean and
        deviation.

    Raises
    ------
    ConfigError
        When no seed or model is given, a model is unknown, ``graphsage`` is
        asked for without torch_geometric, a graph file is missing or
        unreadable, or a graph has too few anomalies to split.

    Examples
    --------
    >>> evaluation = evaluate_gad(Path("../shared/datasets"))  # doctest: +SKIP
    >>> print(evaluation.render())  # doctest: +SKIP
    """
    seed_list = tuple(int(seed) for seed in seeds)
    if not seed_list:
        raise ConfigError("evaluate_gad needs at least one seed")
    if len(set(seed_list)) != len(seed_list):
        raise ConfigError(f"seeds repeat: {seed_list}")
    chosen_models = _chosen_models(models)
    folder = datasets / GRAPHS_DIR if (datasets / GRAPHS_DIR).is_dir() else datasets
    chosen = settings or NodeScorerSettings()
    chosen_gnn = gnn_settings or GraphSageSettings()
    paths = []
    for name in names:
        path = folder / f"{name}.npz"
        if not path.is_file():
            raise ConfigError(
                f"graph file {path} is absent; hint: pass the shared/datasets "
                "folder that holds pygod-graphs/"
            )
        paths.append(path)
    results: list[GadResult] = []
    for path in paths:
        graph = load_npz_graph(path)
        splits = _splits(graph, seed_list)
        if "trees" in chosen_models:
            results.append(
                _evaluate_trees(graph, splits, hops, chosen, neighbour_labels)
            )
        if "graphsage" in chosen_models:
            results.append(_evaluate_graphsage(graph, splits, chosen_gnn))
    return GadEvaluation(
        tuple(results),
        seed_list,
        hops,
        chosen,
        gnn_settings=chosen_gnn if "graphsage" in chosen_models else None,
        neighbour_labels=neighbour_labels,
    )
