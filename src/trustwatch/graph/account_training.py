"""Train the account scorer of the ``graph_scores`` detector from labelled accounts.

:func:`train_account_scorer` replays events into an
:class:`~trustwatch.graph.EntityGraph`, describes every account at the end
(:func:`~trustwatch.graph.account_features.account_feature_table`), splits
the labelled accounts per class into training, validation and, when each
class has enough held-out accounts, test parts (seeded), fits LightGBM
boosters with the node scorer's settings
(:class:`~trustwatch.graphmodel.NodeScorerSettings`) and early stopping on
the validation part's log loss, and chooses the decision threshold there
(:func:`choose_threshold`): at the most recall among the cuts whose
validation precision reaches ``target_precision``, or, when none does, at
the best F1; halfway between the last score flagged and the next, and never
at a cut that flags every validation account. The reported figures are the
test part's, or the validation part's (which chose the threshold, so they
flatter the model) when there is no test part.

The figures are measured on features of the whole stream, at its end. The
``graph_scores`` detector scores accounts on the graph as it stands at each
hourly sweep, where young accounts have shared less, so deployed precision
and recall can differ from the printed ones.

A model that cannot tell the classes apart is refused, never saved: one whose
boosters made no split (too few labelled accounts for a tree leaf of
``min_child_samples``) or whose validation AUROC is not above 0.5.

:func:`read_labels` reads the labels: JSON Lines ``{"account": ..., "label":
0 | 1}`` or CSV ``account,label`` (a header row is allowed), one row per
line. Bad rows are counted with their line number and reason and left out;
they never stop the reading, nor hide the rows after them.
"""

from __future__ import annotations

import csv
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
    "FEATURES_MEASURED",
    "GRAPH_SETTINGS",
    "AccountScorerTraining",
    "LabelFile",
    "choose_threshold",
    "labels_needed",
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

#: Held-out accounts each class needs for a test part beside validation.
_MIN_HELD_FOR_TEST = 4

#: Where the figures come from, for the model's metrics and the output.
FEATURES_MEASURED = (
    "features of the whole stream at its end; the detector scores the graph "
    "as it stands at each hourly sweep, where young accounts have shared "
    "less, so deployed precision and recall can differ"
)

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

    Every row is one line: lines end at ``\\n`` (``\\r\\n`` too), never at
    other Unicode line breaks, and a CSV quoted field cannot run on to the
    next line. Each line is read by itself, so a bad one is left out alone
    and the lines after it are still read.

    Rows left out, by reason: ``malformed_json``, ``not_an_object``,
    ``no_account``, ``bad_label`` (not 0 or 1), ``wrong_columns``,
    ``unclosed_quote`` (a CSV quoted field not closed on its line),
    ``malformed_csv`` (other bad CSV quoting), ``too_long`` (a line over
    10,000 characters), ``conflicting_label`` (the same account labelled both
    ways; every row of it is left out) and ``duplicate`` (the same label
    again). The samples give the line number of each example.

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

    read_row = _json_label_row if text.lstrip().startswith("{") else _csv_label_row
    first = True
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        if len(line) > _MAX_LABEL_LINE:
            reject(number, "too_long")
        else:
            row = read_row(line, header_allowed=first)
            if isinstance(row, tuple):
                rows.append((number, *row))
            elif row:
                reject(number, row)
        first = False
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


def _lines(text: str) -> list[str]:
    """Split ``text`` at ``\\n`` only, dropping a ``\\r`` before it.

    :meth:`str.splitlines` also splits at U+2028, U+0085 and other breaks
    that JSON strings and CSV fields may hold raw.
    """
    lines = text.split("\n")
    if lines and not lines[-1]:
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _json_label_row(line: str, *, header_allowed: bool) -> tuple[str, bool] | str:
    """One JSON Lines row as ``(account, label)``, or the reason it is left out."""
    try:
        record = json.loads(line)
    except ValueError:
        return "malformed_json"
    if not isinstance(record, dict):
        return "not_an_object"
    account = record.get("account")
    if not isinstance(account, str) or not account.strip():
        return "no_account"
    label = _label_value(record.get("label"))
    if label is None:
        return "bad_label"
    return account.strip(), label


def _csv_label_row(line: str, *, header_allowed: bool) -> tuple[str, bool] | str:
    """One CSV line as ``(account, label)``, or the reason it is left out.

    ``""`` for a header row (the first row, whose label is not a label).
    """
    try:
        records = list(csv.reader([line], strict=True))
    except csv.Error:
        # an odd count of quotes: a quoted field opened and never closed
        return "unclosed_quote" if line.count('"') % 2 else "malformed_csv"
    record = records[0] if records else []
    if not any(cell.strip() for cell in record):
        return ""
    if len(record) != 2:
        return "wrong_columns"
    account, label = record[0].strip(), _label_value(record[1])
    if label is None:
        return "" if header_allowed else "bad_label"
    if not account:
        return "no_account"
    return account, label


def choose_threshold(
    labels: BoolArray, scores: FloatArray, target_precision: float = 0.99
) -> tuple[float, str]:
    """Choose a decision threshold on validation scores.

    Picks the cut of the ranked scores with the most recall among those whose
    precision reaches ``target_precision`` (rule ``"precision"``), or, when no
    cut does, the one with the best F1 (rule ``"f1"``; ties keep the higher
    cut). The threshold is halfway between the lowest score flagged at that
    cut and the highest score left unflagged, so that scores of new accounts
    a little below the validation positives still count. The lowest cut,
    which flags every account, is never chosen: such a threshold would flag
    everything the model scores.

    Raises
    ------
    ConfigError
        When there is no positive label, the lengths differ, or every score
        is the same (no cut separates anything).
    """
    if labels.shape != scores.shape or not labels.any():
        raise ConfigError(
            "choosing a threshold needs one score per label and a positive label"
        )
    if np.unique(scores).size < 2:
        raise ConfigError(
            "every validation account has the same score, so no threshold "
            "separates them; hint: label more accounts of each class"
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
    # the last cut flags every account: never a threshold
    precision, recall = precision[:-1], recall[:-1]
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
        precision, recall and F1 at the threshold, the same on the test part
        (``None`` without one), which part the reported figures come from
        (``reported_on``), how the threshold was chosen, the trees kept per
        booster and what the features describe (``features_measured``).
    """

    model: SavedScorer
    figures: dict[str, Any]


def _split(
    labels: BoolArray, fraction: float, seed: int
) -> tuple[IntArray, IntArray, IntArray]:
    """Seeded per-class split of row indices into training, validation and test.

    ``fraction`` of each class is held out; when every class has at least
    :data:`_MIN_HELD_FOR_TEST` held-out accounts, half of them (rounded
    down) form the test part, else the test part is empty.
    """
    rng = np.random.default_rng(seed)
    train: list[IntArray] = []
    held: list[IntArray] = []
    for value in (False, True):
        rows = np.flatnonzero(labels == value).astype(np.int64)
        if rows.size < 2:
            kind = "abusive" if value else "benign"
            raise ConfigError(
                f"{rows.size} {kind} accounts among the labelled ones in the "
                "events; hint: training and validation need at least one each"
            )
        shuffled = rng.permutation(rows)
        cut = _held_out(rows.size, fraction)
        held.append(shuffled[:cut])
        train.append(shuffled[cut:])
    with_test = all(part.size >= _MIN_HELD_FOR_TEST for part in held)
    validation = [part[: part.size - part.size // 2] for part in held]
    test = [part[part.size - part.size // 2 :] for part in held] if with_test else []
    return (
        np.sort(np.concatenate(train)),
        np.sort(np.concatenate(validation if with_test else held)),
        np.sort(np.concatenate(test)) if test else np.empty(0, dtype=np.int64),
    )


def _held_out(size: int, fraction: float) -> int:
    """How many of a class of ``size`` labelled accounts :func:`_split` holds out.

    ``fraction`` of them, rounded, but at least one and never all.
    """
    return min(max(1, round(fraction * size)), size - 1)


def labels_needed(settings: NodeScorerSettings, fraction: float) -> tuple[int, int]:
    """Labelled accounts of each class a split needs: at the least, and likely.

    A split makes two leaves of ``settings.min_child_samples`` training
    accounts each, and :func:`_split` holds ``fraction`` of each class out of
    training. With as many labels of each class, the first number is the
    fewest whose training accounts can fill both leaves: with fewer, no tree
    ever splits. Each tree draws about ``settings.bagging_fraction`` of the
    training accounts at random (LightGBM's bagging keeps each with that
    chance), so the second number is the fewest at which that expected draw
    fills both leaves, from where most trees can split.
    """
    needed = 2 * settings.min_child_samples
    least = likely = 0
    size = 2
    while not likely:
        trained = 2 * (size - _held_out(size, fraction))
        if not least and trained >= needed:
            least = size
        if settings.bagging_fraction * trained >= needed:
            likely = size
        size += 1
    return least, likely


def _made_a_split(booster: lgb.Booster) -> bool:
    """Whether any tree of ``booster`` splits (a tree of one leaf does not)."""
    trees = booster.dump_model().get("tree_info", [])
    return any(int(tree.get("num_leaves", 1)) > 1 for tree in trees)


def _refuse_constant(
    boosters: list[lgb.Booster],
    auroc: float,
    settings: NodeScorerSettings,
    validation_fraction: float,
) -> None:
    """Refuse a model that cannot tell the classes apart, with what to do."""
    least, likely = labels_needed(settings, validation_fraction)
    hint = (
        "hint: label more accounts of each class among the events: a split "
        f"needs two leaves of {settings.min_child_samples} training accounts "
        f"and {validation_fraction:.0%} of each class is held out, so no tree "
        f"splits with fewer than {least} of each"
    )
    if likely > least:
        hint += (
            f"; each tree draws about {settings.bagging_fraction:.0%} of the "
            f"training accounts at random, so about {likely} of each let most "
            "trees split"
        )
    if not any(_made_a_split(booster) for booster in boosters):
        raise ConfigError(
            "no booster made a split: the model would give every account the "
            f"same score and flag all or none; not saved; {hint}"
        )
    if not auroc > 0.5:
        raise ConfigError(
            f"validation AUROC {auroc:.4f} is not above 0.5: the model ranks "
            f"abusive accounts no better than chance; not saved; {hint}"
        )


def _at(labels: BoolArray, scores: FloatArray, threshold: float) -> dict[str, Any]:
    """Precision, recall and F1 of flagging ``scores >= threshold``.

    As scikit-learn's ``precision_score`` (``zero_division`` left at its
    default) gives it: precision is 0 when no account is flagged, not 1 (a
    threshold that flags nothing has shown no precision); ``flagged`` says
    how many were.
    """
    flagged = scores >= threshold
    count = int(flagged.sum())
    hits = int((flagged & labels).sum())
    precision = hits / count if count else 0.0
    recall = hits / int(labels.sum())
    f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "flagged": count}


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
        Share of each class held out: to stop training and choose the
        threshold, and, when each class has four held-out accounts or more,
        half of it to measure the reported figures.
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
        On a fraction out of range, no event, too few labelled accounts of
        a class among the events, or a model that cannot tell the classes
        apart (no booster split, or validation AUROC not above 0.5).
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
    train, validation, test = _split(picked_labels, validation_fraction, seed)
    model_settings = settings or ACCOUNT_SCORER_SETTINGS
    features = table.matrix[picked]
    boosters = _fit_boosters(features, picked_labels, train, validation, model_settings)
    valid_scores = _mean_probability(boosters, features[validation])
    valid_labels = picked_labels[validation]
    ranking = ranking_metrics(valid_labels, valid_scores)
    _refuse_constant(boosters, ranking.auroc, model_settings, validation_fraction)
    threshold, rule = choose_threshold(valid_labels, valid_scores, target_precision)
    at_threshold = _at(valid_labels, valid_scores, threshold)
    test_figures: dict[str, Any] | None = None
    if test.size:
        test_scores = _mean_probability(boosters, features[test])
        test_labels = picked_labels[test]
        test_ranking = ranking_metrics(test_labels, test_scores)
        test_figures = {
            "accounts": int(test.size),
            "abusive": int(test_labels.sum()),
            "auroc": test_ranking.auroc,
            "auprc": test_ranking.auprc,
            **_at(test_labels, test_scores, threshold),
        }
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
        "test": test_figures,
        "reported_on": "test" if test_figures else "validation",
        "features_measured": FEATURES_MEASURED,
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
            if key
            in (
                "validation",
                "test",
                "reported_on",
                "features_measured",
                "threshold_rule",
                "target_precision",
                "train",
            )
        },
    )
    return AccountScorerTraining(model=model, figures=figures)
