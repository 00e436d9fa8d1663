"""Train and calibrate a :class:`~trustwatch.urlmodel.model.UrlModel`.

Training needs scikit-learn (``pip install 'trustwatch[ml]'``); scoring needs
only numpy and LightGBM. The recipe:

1. parse every URL (strings a browser would not load are counted and left
   out, never guessed at);
2. hold out a calibration slice chosen by registrable domain, so calibration
   sees domains neither stage did;
3. fit the n-gram stage (logistic regression by stochastic gradient descent
   on hashed n-grams) once per domain fold, so every training row gets an
   n-gram score from a model that never saw its domain, then once on all;
4. fit gradient-boosted trees (LightGBM) on those scores and the named
   features, rows weighted so each class counts the same and no domain
   dominates;
5. fit Platt scaling on the held-out slice.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from trustwatch.enrichment.urls import ParsedUrl, parse_url
from trustwatch.errors import ConfigError, InvalidUrlError
from trustwatch.urlmodel.corpus import LabelledUrl
from trustwatch.urlmodel.features import (
    dense_feature_matrix,
    document,
    hash_ngrams,
)
from trustwatch.urlmodel.model import FEATURE_NAMES, UrlModel
from trustwatch.urlmodel.shapes import ordinary_urls

SYNTHETIC_SOURCE = "synthetic-paths"

__all__ = [
    "SYNTHETIC_SOURCE",
    "ParsedCorpus",
    "TrainingSettings",
    "domain_bucket",
    "fit_url_model",
    "parse_corpus",
    "with_host_pages",
    "with_ordinary_paths",
]


@dataclass(frozen=True, slots=True)
class TrainingSettings:
    """How to fit a model.

    Attributes
    ----------
    bits
        Size of the hashed n-gram space, ``2**bits``.
    regularisation
        Strength ``alpha`` of the n-gram stage's L2 penalty.
    epochs
        Passes of stochastic gradient descent over the n-gram stage's rows.
    folds
        Domain folds for the n-gram scores the trees learn from: each row's
        score comes from a model that did not see its domain.
    trees, leaves, learning_rate
        Size and step of the gradient-boosted trees.
    leaf_penalty
        L2 penalty on the trees' leaf values.
    calibration_fraction
        Share of registrable domains held out for calibration.
    """

    bits: int = 20
    regularisation: float = 1e-6
    epochs: int = 15
    folds: int = 3
    trees: int = 400
    leaves: int = 31
    learning_rate: float = 0.1
    leaf_penalty: float = 1.0
    calibration_fraction: float = 0.15


@dataclass(frozen=True, slots=True)
class ParsedCorpus:
    """Labelled URLs that parsed, and how many did not."""

    rows: list[LabelledUrl]
    parsed: list[ParsedUrl]
    labels: npt.NDArray[np.int64]
    rejected: int


def parse_corpus(rows: Sequence[LabelledUrl]) -> ParsedCorpus:
    """Parse each row's URL, keeping the rows that parse."""
    kept: list[LabelledUrl] = []
    parsed: list[ParsedUrl] = []
    for row in rows:
        try:
            parsed.append(parse_url(row.url))
        except InvalidUrlError:
            continue
        kept.append(row)
    labels = np.fromiter((r.label for r in kept), dtype=np.int64, count=len(kept))
    return ParsedCorpus(kept, parsed, labels, len(rows) - len(kept))


def with_ordinary_paths(
    corpus: ParsedCorpus, count: int, seed: int = 0
) -> ParsedCorpus:
    """Add ``count`` ordinary page addresses on the corpus's benign home pages.

    Benign data that is only a list of domains teaches a model that any path
    is suspicious; :func:`~trustwatch.urlmodel.shapes.ordinary_urls` gives
    those domains the paths ordinary sites have. The added rows are labelled
    benign, come from source ``synthetic-paths``, and never join a test side.
    """
    domains = sorted(
        {
            p.registrable_domain
            for p, label in zip(corpus.parsed, corpus.labels, strict=True)
            if label == 0
            and p.path in ("", "/")
            and not p.query
            and p.registrable_domain
        }
    )
    if count <= 0 or not domains:
        return corpus
    added = parse_corpus(
        [
            LabelledUrl(url, 0, None, SYNTHETIC_SOURCE)
            for url in ordinary_urls(domains, count, seed)
        ]
    )
    return ParsedCorpus(
        corpus.rows + added.rows,
        corpus.parsed + added.parsed,
        np.concatenate([corpus.labels, added.labels]),
        corpus.rejected,
    )


def with_host_pages(corpus: ParsedCorpus) -> ParsedCorpus:
    """Add the home page of every host behind a malicious URL, as malicious.

    Feeds list phishing pages, rarely their hosts' home pages, while benign
    lists of domains are all home pages; left alone, a model learns that a
    bare home page is safe. A host that serves phishing is judged by its
    name, so its home page joins the malicious side (source
    ``<source>+host``). On a compromised site the home page is benign, so
    this adds some label noise; the evaluation says whether it pays.
    """
    seen = {row.url for row in corpus.rows}
    added: list[LabelledUrl] = []
    for row, parsed in zip(corpus.rows, corpus.parsed, strict=True):
        if row.label != 1 or (parsed.path in ("", "/") and not parsed.query):
            continue
        port = f":{parsed.port}" if parsed.port is not None else ""
        host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
        home = f"{parsed.scheme}://{host}{port}/"
        if home not in seen:
            seen.add(home)
            added.append(LabelledUrl(home, 1, row.time, f"{row.source}+host"))
    extra = parse_corpus(added)
    return ParsedCorpus(
        corpus.rows + extra.rows,
        corpus.parsed + extra.parsed,
        np.concatenate([corpus.labels, extra.labels]),
        corpus.rejected,
    )


def domain_bucket(parsed: ParsedUrl, salt: str = "") -> float:
    """Map a URL's registrable domain to a stable number in ``[0, 1)``."""
    key = (salt + (parsed.registrable_domain or parsed.host)).encode()
    return zlib.crc32(key) / 2**32


def ngram_matrix(parsed: Sequence[ParsedUrl], bits: int) -> Any:
    """Return the sparse hashed n-gram matrix of ``parsed``."""
    from scipy import sparse

    docs = [document(p) for p in parsed]
    blocks = []
    for begin in range(0, len(docs), 4096):
        grams = hash_ngrams(docs[begin : begin + 4096], bits)
        counts = grams.mask.sum(axis=1)
        values = np.repeat(grams.weight, counts)
        block = sparse.csr_matrix(
            (
                values,
                grams.indices[grams.mask],
                np.concatenate([[0], np.cumsum(counts)]),
            ),
            shape=(len(counts), 2**bits),
        )
        block.sum_duplicates()
        blocks.append(block)
    return sparse.vstack(blocks, format="csr")


def fit_url_model(
    corpus: ParsedCorpus,
    settings: TrainingSettings | None = None,
    card: dict[str, Any] | None = None,
) -> UrlModel:
    """Fit both stages on ``corpus`` and calibrate on a held-out domain slice.

    Raises
    ------
    ConfigError
        When scikit-learn is not installed, or either class has too few rows
        to learn from.
    """
    settings = settings or TrainingSettings()
    try:
        import lightgbm
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "training a URL model needs scikit-learn; "
            "hint: pip install 'trustwatch[ml]'"
        ) from exc
    labels = corpus.labels
    if min(int(labels.sum()), int((labels == 0).sum())) < 10:
        raise ConfigError("training needs at least 10 malicious and 10 benign URLs")
    held = _calibration_rows(corpus, settings.calibration_fraction)
    train = np.flatnonzero(~held)
    weights = domain_weights(corpus, ~held)
    ngrams = ngram_matrix(corpus.parsed, settings.bits)
    folds = np.array(
        [int(domain_bucket(corpus.parsed[i], "fold") * settings.folds) for i in train]
    )
    out_of_fold = np.zeros(len(train))
    for fold in range(settings.folds):
        inside = folds != fold
        if inside.all() or not inside.any() or len(set(labels[train[inside]])) < 2:
            continue
        stage = _fit_ngrams(
            ngrams[train[inside]], labels[train[inside]], weights[inside], settings
        )
        out_of_fold[~inside] = stage.decision_function(ngrams[train[~inside]])
    stage = _fit_ngrams(ngrams[train], labels[train], weights, settings)
    model = UrlModel(
        bits=settings.bits,
        ngram_weights=stage.coef_[0].astype(np.float32),
        ngram_bias=float(stage.intercept_[0]),
        trees="",
    )
    dense = dense_feature_matrix(corpus.parsed)
    booster = lightgbm.train(
        {
            "objective": "binary",
            "num_leaves": settings.leaves,
            "learning_rate": settings.learning_rate,
            "min_data_in_leaf": 20,
            # rows weigh little once domains are balanced: without a penalty,
            # a pure leaf's value grows without bound
            "lambda_l2": settings.leaf_penalty,
            "deterministic": True,
            "force_col_wise": True,
            "num_threads": 1,
            "seed": 0,
            "verbose": -1,
        },
        lightgbm.Dataset(
            np.column_stack([out_of_fold, dense[train]]),
            labels[train],
            weight=weights,
            feature_name=list(FEATURE_NAMES),
        ),
        num_boost_round=settings.trees,
    )
    model.trees = booster.model_to_string()
    calibration_rows = np.flatnonzero(held)
    features = np.column_stack(
        [stage.decision_function(ngrams[calibration_rows]), dense[calibration_rows]]
    )
    raw = np.asarray(booster.predict(features, raw_score=True, num_threads=1))
    platt = LogisticRegression(C=1e4)
    platt.fit(raw.reshape(-1, 1), labels[calibration_rows])
    model.calibration = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
    model.card = dict(card or {})
    model.card.setdefault(
        "rows", {"train": len(train), "calibration": len(calibration_rows)}
    )
    model.card.setdefault("settings", asdict(settings))
    return model


def _calibration_rows(corpus: ParsedCorpus, fraction: float) -> npt.NDArray[np.bool_]:
    """Rows held out for calibration: ``fraction`` of registrable domains.

    When that slice or the rest lacks a class (few domains, such as a corpus
    on one site), every seventh row of each class is held out instead, so
    both sides hold both classes (the caller checks each has ten rows).
    """
    held = np.array([domain_bucket(p, "calibration") < fraction for p in corpus.parsed])
    labels = corpus.labels
    if len(set(labels[held].tolist())) < 2 or len(set(labels[~held].tolist())) < 2:
        held = np.zeros(len(labels), dtype=bool)
        for value in (0, 1):
            held[np.flatnonzero(labels == value)[::7]] = True
    return held


def _fit_ngrams(
    matrix: Any,
    labels: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    settings: TrainingSettings,
) -> Any:
    from sklearn.linear_model import SGDClassifier

    stage = SGDClassifier(
        loss="log_loss",
        alpha=settings.regularisation,
        max_iter=settings.epochs,
        tol=None,
        random_state=0,
    )
    stage.fit(matrix, labels, sample_weight=weights)
    return stage


def domain_weights(
    corpus: ParsedCorpus, chosen: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """Weight rows so each class counts equally and no domain dominates.

    A row's weight is one over the square root of how many chosen rows share
    its registrable domain and label, then each class is scaled to the same
    total: a site with 2,000 listed pages teaches the model about as much as
    45 sites with one page each, not as much as 2,000.
    """
    keys = [
        (p.registrable_domain or p.host, int(label))
        for p, label, keep in zip(corpus.parsed, corpus.labels, chosen, strict=True)
        if keep
    ]
    counts: dict[tuple[str, int], int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    weights = np.array([counts[key] ** -0.5 for key in keys])
    labels = corpus.labels[chosen]
    for value in (0, 1):
        total = weights[labels == value].sum()
        if total > 0:
            weights[labels == value] *= len(labels) / (2 * total)
    return weights
