"""A trained URL model: an n-gram score and named features into boosted trees.

:class:`UrlModel` scores parsed URLs in batches (numpy for the n-grams,
LightGBM for the trees; training also needs scikit-learn) and explains one
score as the few features that moved it most, in words. The package ships one model
(:func:`load_default_model`), trained on openly licensed sources; its data
card sits beside it as ``default_model.md``.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from trustwatch.enrichment.urls import ParsedUrl
from trustwatch.errors import ConfigError
from trustwatch.lgbmtext import check_model_text
from trustwatch.urlmodel.features import (
    DENSE_FEATURES,
    dense_feature_matrix,
    document,
    hash_ngrams,
    part_of,
)

__all__ = ["FORMAT_VERSION", "Reason", "UrlModel", "load_default_model"]

FORMAT_VERSION = 2
_BATCH = 2048
_MIN_SPAN_WEIGHT = 0.15
_NGRAM_FEATURE = "ngram_score"
FEATURE_NAMES = (_NGRAM_FEATURE, *(f.name for f in DENSE_FEATURES))
"""The columns the trees read: the n-gram score, then the named features."""


@dataclass(frozen=True, slots=True)
class Reason:
    """One feature's share of a score: positive raises it, negative lowers it."""

    text: str
    contribution: float

    def __str__(self) -> str:
        return f"{self.text} ({self.contribution:+.2f})"


@dataclass
class UrlModel:
    """Gradient-boosted trees over a hashed n-gram score and named features.

    Two stages: a logistic regression over hashed character n-grams turns the
    URL's text into one score (``ngram_weights``, ``ngram_bias``); trees
    (LightGBM) combine that score with the named lexical features, which is
    where interactions live ("a path, on a free host, with a brand name").

    Attributes
    ----------
    bits
        The n-gram space holds ``2**bits`` hashed features.
    ngram_weights, ngram_bias
        The n-gram stage.
    trees
        The LightGBM model, as the text LightGBM writes and reads.
    calibration
        ``(a, b)``: the probability is ``1 / (1 + exp(-(a * raw + b)))`` for
        the trees' raw score, fitted on held-out domains (Platt scaling).
    card
        The data card: sources, dates, settings, metrics.
    """

    bits: int
    ngram_weights: npt.NDArray[np.float32]
    ngram_bias: float
    trees: str
    calibration: tuple[float, float] = (1.0, 0.0)
    card: dict[str, Any] = field(default_factory=dict)
    _booster: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def booster(self) -> Any:
        """The LightGBM booster, built from ``trees`` on first use."""
        if self._booster is None:
            import lightgbm

            self._booster = lightgbm.Booster(model_str=self.trees)
        return self._booster

    def ngram_scores(self, parsed: Sequence[ParsedUrl]) -> npt.NDArray[np.float64]:
        """Return the n-gram stage's score of each URL."""
        out = np.empty(len(parsed), dtype=np.float64)
        docs = [document(p) for p in parsed]
        # hash documents of similar length together to keep padding small
        order = np.argsort(np.fromiter(map(len, docs), np.int64, len(docs)))
        for begin in range(0, len(parsed), _BATCH):
            chosen = order[begin : begin + _BATCH]
            grams = hash_ngrams([docs[i] for i in chosen], self.bits)
            ngram = np.where(grams.mask, self.ngram_weights[grams.indices], 0.0)
            out[chosen] = ngram.sum(axis=1) * grams.weight
        return out + self.ngram_bias

    def features(self, parsed: Sequence[ParsedUrl]) -> npt.NDArray[np.float64]:
        """Return the matrix the trees read (:data:`FEATURE_NAMES` columns)."""
        matrix = np.empty((len(parsed), len(FEATURE_NAMES)), dtype=np.float64)
        matrix[:, 0] = self.ngram_scores(parsed)
        matrix[:, 1:] = dense_feature_matrix(parsed)
        return matrix

    def raw_scores(self, parsed: Sequence[ParsedUrl]) -> npt.NDArray[np.float64]:
        """Return the trees' uncalibrated scores (higher is riskier)."""
        if not parsed:
            return np.empty(0, dtype=np.float64)
        return self.raw_scores_of(self.features(parsed))

    def raw_scores_of(self, matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Return the trees' uncalibrated scores of a :meth:`features` matrix."""
        scores = self.booster.predict(matrix, raw_score=True, num_threads=1)
        return np.asarray(scores, dtype=np.float64)

    def probability(self, raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Map raw scores to calibrated probabilities."""
        a, b = self.calibration
        return 1.0 / (1.0 + np.exp(-(a * raw + b)))

    def score(self, parsed: Sequence[ParsedUrl]) -> npt.NDArray[np.float64]:
        """Return the calibrated probability that each URL is malicious."""
        return self.probability(self.raw_scores(parsed))

    def explain(
        self,
        parsed: ParsedUrl,
        top: int = 4,
        row: npt.NDArray[np.float64] | None = None,
    ) -> tuple[float, list[Reason]]:
        """Score one URL and name the features that moved it most.

        Each feature's share comes from the trees (SHAP values); the n-gram
        score's share is split over the runs of characters that carried it.
        ``row``, when given, is the URL's :meth:`features` matrix (one row),
        worked out already by a caller that scored it first.

        Returns
        -------
        tuple
            The calibrated probability and up to ``top`` reasons: those that
            raised the score first when it is one half or more, those that
            lowered it first otherwise.
        """
        if row is None:
            row = self.features([parsed])
        shares = self.booster.predict(row, pred_contrib=True, num_threads=1)[0]
        raw = float(shares.sum())
        probability = float(self.probability(np.array([raw]))[0])
        reasons = [
            Reason(_dense_text(spec.reason, row[0, i + 1]), float(shares[i + 1]))
            for i, spec in enumerate(DENSE_FEATURES)
            if row[0, i + 1] != 0.0 and abs(shares[i + 1]) >= 0.05
        ]
        reasons.extend(self._text_reasons(parsed, float(shares[0])))
        sign = 1.0 if probability >= 0.5 else -1.0
        reasons.sort(key=lambda r: -sign * r.contribution)
        return probability, [r for r in reasons if sign * r.contribution > 0][:top]

    def _text_reasons(self, parsed: ParsedUrl, share: float) -> list[Reason]:
        """Split the n-gram score's share over the character runs behind it."""
        if abs(share) < 0.05:
            return []
        doc = document(parsed)
        grams = hash_ngrams([doc], self.bits)
        slots = np.where(grams.mask[0], self.ngram_weights[grams.indices[0]], 0.0)
        spans = _span_reasons(doc, slots * grams.weight[0], grams.starts, grams.sizes)
        same_side = [s for s in spans if s.contribution * share > 0]
        total = sum(s.contribution for s in same_side)
        if not same_side or total == 0:
            return [Reason("the URL's text as a whole", share)]
        return [Reason(s.text, share * s.contribution / total) for s in same_side]

    def save(self, path: Path) -> None:
        """Write the model to ``path`` as a compressed ``.npz`` file."""
        meta = {
            "format": FORMAT_VERSION,
            "bits": self.bits,
            "ngram_bias": self.ngram_bias,
            "calibration": list(self.calibration),
            "features": list(FEATURE_NAMES),
            "card": self.card,
        }
        with path.open("wb") as handle:
            np.savez_compressed(
                handle,
                ngram_weights=self.ngram_weights.astype(np.float32),
                trees=np.frombuffer(self.trees.encode(), dtype=np.uint8),
                meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            )

    @classmethod
    def load(cls, path: Path) -> UrlModel:
        """Read a model written by :meth:`save`.

        Each array's size and type are checked from its header before it is
        read, and the trees' text is checked completely
        (:func:`~trustwatch.lgbmtext.check_model_text`) before LightGBM
        reads it.

        Raises
        ------
        ConfigError
            When the file is missing, unreadable, damaged, not what
            ``trustwatch url train`` writes, or written for other features
            than this version of trustwatch computes.
        """
        if not Path(path).is_file():
            raise ConfigError(f"cannot read URL model {path}: not a regular file")
        try:
            with np.load(path, allow_pickle=False) as data:
                _check_member(data, "meta", (np.uint8,), None, _MAX_META_BYTES, path)
                meta = json.loads(bytes(data["meta"]).decode())
                if not isinstance(meta, dict):
                    raise ConfigError(
                        f"URL model {path} is damaged: meta is not an object"
                    )
                if meta.get("format") != FORMAT_VERSION or meta.get("features") != list(
                    FEATURE_NAMES
                ):
                    raise ConfigError(
                        f"URL model {path} was written for other features; hint: "
                        "retrain it with 'trustwatch url train'"
                    )
                bits, bias, (a, b), card = _checked_meta(meta, path)
                _check_member(
                    data, "ngram_weights", (np.float32,), 2**bits, 2**bits, path
                )
                weights = data["ngram_weights"]
                _check_member(data, "trees", (np.uint8,), None, _MAX_TREE_BYTES, path)
                trees = bytes(data["trees"]).decode()
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else None
            raise ConfigError(
                f"cannot read URL model {path}: "
                f"{reason or 'not a model written by trustwatch url train'}"
            ) from exc
        if not bool(np.isfinite(weights).all()):
            raise ConfigError(f"URL model {path} is damaged: weights not finite")
        check_model_text(
            trees,
            len(FEATURE_NAMES),
            what=f"URL model {path}",
            hint="retrain it with 'trustwatch url train' or copy it again",
        )
        model = cls(
            bits=bits,
            ngram_weights=weights.astype(np.float32),
            ngram_bias=bias,
            trees=trees,
            calibration=(a, b),
            card=card,
        )
        try:
            booster = model.booster
        except Exception as exc:  # LightGBM raises its own error type
            raise ConfigError(f"URL model {path} is damaged: {exc}") from exc
        if booster.num_feature() != len(FEATURE_NAMES):
            raise ConfigError(f"URL model {path} is damaged: tree feature count")
        return model


#: The n-gram space sizes ``trustwatch url train`` writes (``--bits``).
_BITS_RANGE = (10, 24)
#: Most bytes of the meta (card included) and of the trees' text a file may
#: hold; the shipped model's are a few kilobytes and about 350 kB.
_MAX_META_BYTES = 16 * 2**20
_MAX_TREE_BYTES = 256 * 2**20


def _check_member(
    data: Any,
    name: str,
    dtypes: tuple[type[np.generic], ...],
    least: int | None,
    most: int,
    path: Path,
) -> None:
    """Check an array's header in the file before reading the array.

    The array must be one-dimensional, of one of ``dtypes`` (either byte
    order), with ``least`` (when given) to ``most`` entries; a small
    compressed file cannot make the loader allocate gigabytes.

    Raises
    ------
    ConfigError
        Naming the array and what is wrong with it.
    KeyError
        When the file holds no such array.
    """
    with data.zip.open(f"{name}.npy") as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"unknown array format {version}")
    if not any(dtype.newbyteorder("=") == np.dtype(kind) for kind in dtypes):
        expected = " or ".join(np.dtype(kind).name for kind in dtypes)
        raise ConfigError(
            f"URL model {path} is damaged: {name} is {dtype.name}, not the "
            f"{expected} 'trustwatch url train' writes"
        )
    size = shape[0] if len(shape) == 1 else -1
    if size < (least or 0) or size > most:
        wanted = f"{least}" if least == most else f"at most {most}"
        raise ConfigError(
            f"URL model {path} is damaged: {name} has shape {shape}, "
            f"expected {wanted} entries in one dimension"
            + (" (2**bits)" if least == most else "")
        )


def _finite_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and bool(np.isfinite(value))
    )


def _checked_meta(
    meta: dict[str, Any], path: Path
) -> tuple[int, float, tuple[float, float], dict[str, Any]]:
    """Check a model file's meta: bits, n-gram bias, calibration and card.

    Returns them as the model holds them.

    Raises
    ------
    ConfigError
        Naming the first entry that is missing, of the wrong type or length,
        out of range, or not finite.
    """

    def damaged(what: str) -> ConfigError:
        return ConfigError(f"URL model {path} is damaged: {what}")

    bits = meta.get("bits")
    low, high = _BITS_RANGE
    if not isinstance(bits, int) or isinstance(bits, bool) or not low <= bits <= high:
        raise damaged(f"'bits' must be a whole number from {low} to {high}")
    bias = meta.get("ngram_bias")
    if not _finite_number(bias):
        raise damaged("'ngram_bias' must be a finite number")
    calibration = meta.get("calibration")
    if (
        not isinstance(calibration, list)
        or len(calibration) != 2
        or not all(_finite_number(value) for value in calibration)
    ):
        raise damaged("'calibration' must be two finite numbers")
    card = meta.get("card", {})
    if not isinstance(card, dict):
        raise damaged("'card' must be an object")
    a, b = (float(value) for value in calibration)
    return bits, float(bias), (a, b), dict(card)  # type: ignore[arg-type]


def _dense_text(template: str, raw: float) -> str:
    return template.format(raw=raw) if "{raw" in template else template


def _span_reasons(
    doc: bytes,
    slots: npt.NDArray[np.float64],
    starts: npt.NDArray[np.int64],
    sizes: npt.NDArray[np.int64],
) -> list[Reason]:
    """Group n-gram contributions into runs of characters an analyst can read."""
    length = len(doc)
    # plain floats: the same additions in the same order as on an array,
    # without a numpy call per n-gram
    shares = [0.0] * length
    for contribution, start, size in zip(
        slots.tolist(), starts.tolist(), sizes.tolist(), strict=True
    ):
        if contribution:
            share = contribution / size
            for at in range(start, min(start + size, length)):
                shares[at] += share
    per_char = np.array(shares, dtype=np.float64)
    reasons: list[Reason] = []
    for sign in (1.0, -1.0):
        strong = (sign * per_char > 0.01).tolist()
        begin = None
        for index in range(length + 1):
            inside = index < length and strong[index] and doc[index] > 2
            if inside and begin is None:
                begin = index
            elif not inside and begin is not None:
                total = float(per_char[begin:index].sum())
                if abs(total) >= _MIN_SPAN_WEIGHT and index - begin >= 3:
                    text = doc[begin:index].decode("utf-8", "replace")
                    part = part_of(doc, begin)
                    verb = "looks like" if sign > 0 else "looks unlike"
                    reasons.append(
                        Reason(f"{part} text {text!r} {verb} malicious URLs", total)
                    )
                begin = None
    return reasons


_DEFAULT: list[UrlModel] = []


def load_default_model() -> UrlModel:
    """Return the model shipped with trustwatch (loaded once per process)."""
    if not _DEFAULT:
        resource = resources.files("trustwatch.urlmodel").joinpath("default_model.npz")
        with resources.as_file(resource) as path:
            if not path.exists():
                raise ConfigError(
                    "the shipped URL model is missing from this install; hint: "
                    "reinstall trustwatch or train one with 'trustwatch url train'"
                )
            _DEFAULT.append(UrlModel.load(path))
    return _DEFAULT[0]
