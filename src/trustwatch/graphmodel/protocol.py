"""Random stratified node splits and the ranking metrics of GADBench.

- :func:`stratified_split`: train / validation / test node indices drawn
  per class, so that each part keeps the anomaly ratio (and holds at least
  one anomaly when the graph has three or more);
- :func:`ranking_metrics`: AUROC, AUPRC (average precision) and Rec@K, with
  ``K`` the number of anomalies among the scored nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score, roc_auc_score

from trustwatch.errors import ConfigError

__all__ = ["NodeSplit", "RankingMetrics", "ranking_metrics", "stratified_split"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class NodeSplit:
    """Disjoint, sorted node indices of one random split."""

    train: IntArray
    validation: IntArray
    test: IntArray


@dataclass(frozen=True)
class RankingMetrics:
    """Ranking quality of anomaly scores on one set of nodes.

    Attributes
    ----------
    auroc
        Area under the ROC curve.
    auprc
        Average precision (the step-wise area under precision-recall).
    recall_at_k
        Share of the anomalies found among the ``k`` top-scored nodes.
    k
        Number of anomalies among the scored nodes.
    """

    auroc: float
    auprc: float
    recall_at_k: float
    k: int


def _cut(indices: IntArray, fractions: tuple[float, float]) -> list[IntArray]:
    """Cut shuffled indices into train/validation/test by rounded fractions."""
    n = indices.size
    n_train = round(fractions[0] * n)
    n_validation = round(fractions[1] * n)
    if n >= 3:
        # Keep every part non-empty where the class is big enough for it.
        n_train = min(max(n_train, 1), n - 2)
        n_validation = min(max(n_validation, 1), n - n_train - 1)
    return np.split(indices, [n_train, n_train + n_validation])


def stratified_split(
    labels: BoolArray,
    *,
    train_fraction: float,
    validation_fraction: float,
    seed: int,
) -> NodeSplit:
    """Draw a random train/validation/test split that keeps the class ratio.

    Parameters
    ----------
    labels
        ``(n_nodes,)`` booleans, True for anomalous.
    train_fraction, validation_fraction
        Shares of each class for training and validation; the rest is test.
    seed
        Seed of the shuffle; the same seed gives the same split.

    Returns
    -------
    NodeSplit
        Sorted, disjoint indices covering every node.

    Raises
    ------
    ConfigError
        When the fractions are not positive or leave no test share, or a
        class has fewer than three nodes.
    """
    if train_fraction <= 0 or validation_fraction <= 0:
        raise ConfigError(
            f"fractions must be positive, got train={train_fraction}, "
            f"validation={validation_fraction}"
        )
    if train_fraction + validation_fraction >= 1:
        raise ConfigError(
            f"train ({train_fraction}) + validation ({validation_fraction}) "
            "must leave a test share"
        )
    rng = np.random.default_rng(seed)
    parts: list[list[IntArray]] = [[], [], []]
    for value in (False, True):
        members = np.flatnonzero(labels == value).astype(np.int64)
        if members.size < 3:
            kind = "anomalous" if value else "normal"
            raise ConfigError(
                f"only {members.size} {kind} nodes; a stratified split needs "
                "at least 3 per class"
            )
        chunks = _cut(rng.permutation(members), (train_fraction, validation_fraction))
        for part, chunk in zip(parts, chunks, strict=True):
            part.append(chunk)
    train, validation, test = (np.sort(np.concatenate(part)) for part in parts)
    return NodeSplit(train, validation, test)


def ranking_metrics(labels: BoolArray, scores: FloatArray) -> RankingMetrics:
    """AUROC, AUPRC and Rec@K of scores against labels.

    Parameters
    ----------
    labels
        Booleans, True for anomalous; both classes must be present.
    scores
        One finite score per label, higher meaning more anomalous.

    Returns
    -------
    RankingMetrics
        ``k`` is the number of anomalies; ties at the cut are broken by a
        stable sort of the scores (node order).

    Raises
    ------
    ConfigError
        On mismatched lengths, a single class or non-finite scores.
    """
    if labels.shape != scores.shape or labels.ndim != 1:
        raise ConfigError(
            f"labels {labels.shape} and scores {scores.shape} must be 1-D and "
            "of the same length"
        )
    if not np.isfinite(scores).all():
        raise ConfigError("scores hold NaN or infinite values")
    k = int(labels.sum())
    if k == 0 or k == labels.size:
        raise ConfigError(
            f"{k} of {labels.size} nodes are anomalous; ranking metrics need both "
            "classes"
        )
    top_k = np.argsort(-scores, kind="stable")[:k]
    return RankingMetrics(
        auroc=float(roc_auc_score(labels, scores)),
        auprc=float(average_precision_score(labels, scores)),
        recall_at_k=float(labels[top_k].sum() / k),
        k=k,
    )
