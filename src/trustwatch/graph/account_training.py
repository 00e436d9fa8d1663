"""Train the account scorer of the ``graph_scores`` detector from labelled accounts.

:func:`train_account_scorer` replays events into an
:class:`~trustwatch.graph.EntityGraph`, describes every account at the end
(:func:`~trustwatch.graph.account_features.account_feature_table`), splits
the labelled accounts per class into training and validation parts (seeded),
fits LightGBM boosters with the node scorer's settings
(:class:`~trustwatch.graphmodel.NodeScorerSettings`) and early stopping on
the validation part's log loss, and chooses the decision threshold there
(:func:`choose_threshold`): at the most recall among the cuts whose
validation precision reaches ``target_precision``, or, when none does, at
the best F1; halfway between the last score flagged and the next.

:func:`read_labels` reads the labels: JSON Lines ``{"account": ..., "label":
0 | 1}`` or CSV ``account,label`` (a header row is allowed). Bad rows are
counted with their reason and left out; they never stop the reading.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase
from trustwatch.graph.account_features import account_feature_table
from trustwatch.graph.entity_graph import EntityGraph
from trustwatch.graphmodel import NodeScorerSettings, ranking_metrics
from trustwatch.graphmodel.saved import SavedScorer

__all__ = [
    "ACCOUNT_SCORER_SETTINGS",
    "GRAPH_SETTINGS",
    "AccountScorerTraining",
    "LabelFile",
    "choose_threshold",
    "read_labels",
    "train_account_scorer",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

#: The model settings trained by default: three boosters, fewer rounds than
#: the benchmark settings (an account table is small and its signal strong).
ACCOUNT_SCORER_SETTINGS = NodeScorerSettings(
    max_rounds=400, patience=60, learning_rate=0.05, n_models=3
)

#: The entity graph parameters a model records and a detector rebuilds: the
#: features mean what they meant in training only on the same graph.
GRAPH_SETTINGS = ("hub_size", "lockstep_window", "retention", "signup_bucket")

#: Validation metric that stops training (see :func:`_fit_boosters`).
_STOPPING_METRIC = "binary_logloss"

_LABEL_SAMPLES = 5
_MAX_LABEL_LINE = 10_000


@dataclass(frozen=True)
class LabelFile:
    """Labels read from a file, and the rows left out.

    Attributes
    ----------
    labels
        Account to label (True for abusive); a later row for the same account
        wins only when it agrees, see ``rejected``.
    rejected
        Rows left out per reason.
    samples
        Up to five ``(row number, reason)`` examples.
    """

    labels: dict[str, bool]
    rejected: dict[str, int] = field(default_factory=dict)
    samples: tuple[tuple[int, str], ...] = ()

    @property
    def rejected_rows(self) -> int:
        """Rows left out, all reasons together."""
        return sum(self.rejected.values())


def _label_value(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return value.strip() == "1"
    return None


def read_labels(path: str | os.PathLike[str]) -> LabelFile:
    """Read account labels from JSON Lines or CSV.

    A file whose first non-blank character is ``{`` is JSON Lines; any other
    is CSV with the account in the first column and the label in the second
    (``0`` or ``1``); a first row whose label is not a label is a header.

    Rows left out, by reason: ``malformed_json``, ``not_an_object``,
    ``no_account``, ``bad_label`` (not 0 or 1), ``wrong_columns``,
    ``too_long``, ``conflicting_label`` (the same account labelled both ways;
    every row of it is left out) and ``duplicate`` (the same label again).

    Raises
    ------
    ConfigError
        When the file cannot be read, or holds no usable label.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"cannot read labels {source}: {error}; hint: give a UTF-8 JSON Lines "
            'file of {"account": ..., "label": 0 or 1}, or CSV account,label'
        ) from error
    rejected: Counter[str] = Counter()
    samples: list[tuple[int, str]] = []
    rows: list[tuple[int, str, bool]] = []

    def reject(number: int, reason: str) -> None:
        rejected[reason] += 1
        if len(samples) < _LABEL_SAMPLES:
            samples.append((number, reason))

    if text.lstrip().startswith("{"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            if len(line) > _MAX_LABEL_LINE:
                reject(number, "too_long")
                continue
            try:
                record = json.loads(line)
            except ValueError:
                reject(number, "malformed_json")
                continue
            if not isinstance(record, dict):
                reject(number, "not_an_object")
                continue
            account = record.get("account")
            if not isinstance(account, str) or not account.strip():
                reject(number, "no_account")
                continue
            label = _label_value(record.get("label"))
            if label is None:
                reject(number, "bad_label")
                continue
            rows.append((number, account.strip(), label))
    else:
        reader = csv.reader(io.StringIO(text))
        try:
            for number, record in enumerate(reader, start=1):
                if not record or not any(cell.strip() for cell in record):
                    continue
                if len(record) != 2:
                    reject(number, "wrong_columns")
                    continue
                account, raw = record[0].strip(), record[1]
                if len(account) > _MAX_LABEL_LINE:
                    reject(number, "too_long")
                    continue
                label = _label_value(raw)
                if label is None:
                    if number == 1:  # a header row
                        continue
                    reject(number, "bad_label")
                    continue
                if not account:
                    reject(number, "no_account")
                    continue
                rows.append((number, account, label))
        except csv.Error:
            reject(reader.line_num, "malformed_csv")
    labels: dict[str, bool] = {}
    conflicting: set[str] = set()
    for number, account, label in rows:
        known = labels.get(account)
        if known is None:
            labels[account] = label
        elif known == label:
            reject(number, "duplicate")
        else:
            conflicting.add(account)
            reject(number, "conflicting_label")
    for account in conflicting:
        del labels[account]
    if not labels:
        raise ConfigError(
            f"no usable label in {source} ({sum(rejected.values())} rows left out: "
            f"{dict(sorted(rejected.items()))}); hint: one row per account, "
            'JSON Lines {"account": "a1", "label": 1} or CSV a1,1'
        )
    return LabelFile(labels, dict(sorted(rejected.items())), tuple(samples))


def choose_threshold(
    labels: BoolArray, scores: FloatArray, target_precision: float = 0.99
) -> tuple[float, str]:
    """Choose a decision threshold on validation scores.

    Picks the cut of the ranked scores with the most recall among those whose
    precision reaches ``target_precision`` (rule ``"precision"``), or, when no
    cut does, the one with the best F1 (rule ``"f1"``; ties keep the higher
    cut). The threshold is halfway between the lowest score flagged at that
    cut and the highest score left unflagged, so that scores of new accounts
    a little below the validation positives still count.

    Raises
    ------
    ConfigError
        When there is no positive label or the lengths differ.
    """
    if labels.shape != scores.shape or not labels.any():
        raise ConfigError(
            "choosing a threshold needs one score per label and a positive label"
        )
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    hits = np.cumsum(labels[order])
    flagged = np.arange(1, len(ranked) + 1)
    # Only cut between distinct scores: the last index of each run of ties.
    last = np.r_[ranked[1:] != ranked[:-1], True]
    precision = (hits / flagged)[last]
    recall = (hits / labels.sum())[last]
    cuts = ranked[last]
    reaching = np.flatnonzero(precision >= target_precision)
    if reaching.size:
        best, rule = int(reaching[np.argmax(recall[reaching])]), "precision"
    else:
        total = precision + recall
        f1 = 2 * precision * recall / np.where(total > 0, total, 1.0)
        best, rule = int(np.argmax(f1)), "f1"
    if best + 1 < cuts.size:  # halfway to the highest score left unflagged
        return float((cuts[best] + cuts[best + 1]) / 2), rule
    return float(cuts[best]), rule


@dataclass(frozen=True)
class AccountScorerTraining:
    """A trained account scorer and its figures.

    Attributes
    ----------
    model
        The scorer with its threshold, ready to save.
    figures
        Accounts seen, labelled and used, the split, validation AUROC, AUPRC,
        precision, recall and F1 at the threshold, how the threshold was
        chosen, and the trees kept per booster.
    """

    model: SavedScorer
    figures: dict[str, Any]


def _split(labels: BoolArray, fraction: float, seed: int) -> tuple[IntArray, IntArray]:
    """Seeded per-class split of row indices into training and validation."""
    rng = np.random.default_rng(seed)
    train: list[IntArray] = []
    validation: list[IntArray] = []
    for value in (False, True):
        rows = np.flatnonzero(labels == value).astype(np.int64)
        if rows.size < 2:
            kind = "abusive" if value else "benign"
            raise ConfigError(
                f"{rows.size} {kind} accounts among the labelled ones in the "
                "events; hint: training and validation need at least one each"
            )
        shuffled = rng.permutation(rows)
        cut = min(max(1, round(fraction * rows.size)), rows.size - 1)
        validation.append(shuffled[:cut])
        train.append(shuffled[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(validation))


def _at(labels: BoolArray, scores: FloatArray, threshold: float) -> dict[str, float]:
    flagged = scores >= threshold
    hits = int((flagged & labels).sum())
    precision = hits / int(flagged.sum()) if flagged.any() else 1.0
    recall = hits / int(labels.sum())
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _fit_boosters(
    features: FloatArray,
    labels: BoolArray,
    train: IntArray,
    validation: IntArray,
    settings: NodeScorerSettings,
) -> list[lgb.Booster]:
    """Fit ``settings.n_models`` boosters, each cut at its best iteration.

    The parameters are the node scorer's
    (:meth:`~trustwatch.graphmodel.NodeScorerSettings.lightgbm_params`), but
    training stops on validation log loss, not average precision: labelled
    rings separate from the rest within a tree or two, where average
    precision is already perfect and would stop training on a stump whose
    scores do not carry over to other telemetry; log loss keeps improving
    while the model grows confident, and stops when it starts to overfit.
    """
    train_set = lgb.Dataset(
        features[train], label=labels[train].astype(np.float64), free_raw_data=False
    )
    valid_set = lgb.Dataset(
        features[validation],
        label=labels[validation].astype(np.float64),
        reference=train_set,
    )
    boosters = []
    for model in range(settings.n_models):
        params = {**settings.lightgbm_params(model), "metric": _STOPPING_METRIC}
        booster = lgb.train(
            params,
            train_set,
            num_boost_round=settings.max_rounds,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(settings.patience, verbose=False)],
        )
        kept = booster.model_to_string(num_iteration=booster.best_iteration)
        boosters.append(lgb.Booster(model_str=kept))
    return boosters


def _mean_probability(boosters: list[lgb.Booster], features: FloatArray) -> FloatArray:
    total = np.zeros(features.shape[0], dtype=np.float64)
    for booster in boosters:
        total += np.asarray(booster.predict(features), dtype=np.float64)
    return total / len(boosters)


def train_account_scorer(
    events: Iterable[EventBase],
    labels: Mapping[str, bool],
    *,
    validation_fraction: float = 0.3,
    seed: int = 0,
    target_precision: float = 0.99,
    settings: NodeScorerSettings | None = None,
    hops: int = 2,
    graph: EntityGraph | None = None,
) -> AccountScorerTraining:
    """Train an account scorer on the accounts of ``events`` that ``labels`` names.

    Parameters
    ----------
    events
        Events in time order; every one goes into the entity graph.
    labels
        Account to label (True for abusive). Accounts the events never name
        are counted and left out; unlabelled accounts are not trained on.
    validation_fraction
        Share of each class held out to stop training and choose the
        threshold.
    seed
        Seed of the split (the model's own seed is in ``settings``).
    target_precision
        Validation precision the threshold aims for (see
        :func:`choose_threshold`).
    settings
        Model settings; :data:`ACCOUNT_SCORER_SETTINGS` when omitted.
    hops
        Hops of neighbour aggregation in the features.
    graph
        An empty entity graph with the parameters to train with; the default
        graph otherwise. Its parameters are recorded in the model.

    Raises
    ------
    ConfigError
        On a fraction out of range, no event, or too few labelled accounts
        of a class among the events.
    """
    if not 0.0 < validation_fraction < 1.0:
        raise ConfigError(
            f"validation_fraction={validation_fraction}; hint: use a value in (0, 1)"
        )
    if not 0.0 < target_precision <= 1.0:
        raise ConfigError(
            f"target_precision={target_precision}; hint: use a value in (0, 1]"
        )
    graph = graph if graph is not None else EntityGraph()
    last: float | None = None
    count = 0
    for event in events:
        graph.add_event(event)
        t = event.ts.timestamp()
        last = t if last is None else max(last, t)
        count += 1
    if last is None:
        raise ConfigError("no events to train on; hint: give event files with events")
    table = account_feature_table(graph, last, hops=hops)
    rows = [(i, labels[a]) for i, a in enumerate(table.accounts) if a in labels]
    unseen = len(labels) - len(rows)
    if not rows:
        raise ConfigError(
            f"none of the {len(labels)} labelled accounts is in the events; hint: "
            "label the accounts the events name"
        )
    picked = np.asarray([i for i, _ in rows], dtype=np.int64)
    picked_labels = np.asarray([label for _, label in rows], dtype=np.bool_)
    train, validation = _split(picked_labels, validation_fraction, seed)
    model_settings = settings or ACCOUNT_SCORER_SETTINGS
    features = table.matrix[picked]
    boosters = _fit_boosters(features, picked_labels, train, validation, model_settings)
    valid_scores = _mean_probability(boosters, features[validation])
    valid_labels = picked_labels[validation]
    threshold, rule = choose_threshold(valid_labels, valid_scores, target_precision)
    ranking = ranking_metrics(valid_labels, valid_scores)
    at_threshold = _at(valid_labels, valid_scores, threshold)
    figures: dict[str, Any] = {
        "events": count,
        "accounts": len(table.accounts),
        "labelled": len(labels),
        "labelled_unseen": unseen,
        "train": {
            "accounts": int(train.size),
            "abusive": int(picked_labels[train].sum()),
        },
        "validation": {
            "accounts": int(validation.size),
            "abusive": int(valid_labels.sum()),
            "auroc": ranking.auroc,
            "auprc": ranking.auprc,
            **at_threshold,
        },
        "threshold": threshold,
        "threshold_rule": rule,
        "target_precision": target_precision,
        "trees_per_model": [booster.num_trees() for booster in boosters],
    }
    model = SavedScorer(
        boosters=tuple(boosters),
        feature_names=table.names,
        threshold=threshold,
        settings={
            "model": {**asdict(model_settings), "metric": _STOPPING_METRIC},
            "features": {"hops": hops},
            "graph": {name: getattr(graph, name) for name in GRAPH_SETTINGS},
            "split": {"validation_fraction": validation_fraction, "seed": seed},
        },
        metrics={
            key: value
            for key, value in figures.items()
            if key in ("validation", "threshold_rule", "target_precision", "train")
        },
    )
    return AccountScorerTraining(model=model, figures=figures)
