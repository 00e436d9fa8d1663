"""A trained node scorer as one file: a JSON header, then LightGBM model text.

The file's first line is a JSON object: the format name and version, the
feature names in column order, the decision threshold, the settings the model
was trained with (feature and graph settings included) and its validation
figures, and the length in characters of each booster's model text. The
boosters' texts (:meth:`lightgbm.Booster.model_to_string`, the trees kept by
early stopping only) follow, one after another. Nothing is unpickled: a file
holds text only, and LightGBM parses its own model format, once
:func:`~trustwatch.lgbmtext.check_model_text` has checked each booster's text
completely (LightGBM trusts what it reads: an edited tree can crash it).

A model only makes sense on the columns it was trained on: :func:`load_scorer`
refuses a file whose feature names differ from the names the loading code
builds, and a threshold outside ``(0, 1]`` (one of 0 would flag every account).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from trustwatch.errors import ConfigError
from trustwatch.lgbmtext import check_model_text

__all__ = ["SCORER_FORMAT", "SCORER_FORMAT_VERSION", "SavedScorer", "load_scorer"]

FloatArray = npt.NDArray[np.float64]

#: Name of the file format, the header's ``format``.
SCORER_FORMAT = "trustwatch-node-scorer"
#: Version of the layout; a file of another version is refused.
SCORER_FORMAT_VERSION = 1

_MAX_HEADER_CHARS = 4_000_000


@dataclass(frozen=True)
class SavedScorer:
    """LightGBM boosters with their feature names and a decision threshold.

    Attributes
    ----------
    boosters
        The boosters whose probabilities are averaged.
    feature_names
        One name per column, in order.
    threshold
        Least score that counts as a positive decision.
    settings
        Plain JSON values: how the model and its features were made.
    metrics
        Plain JSON values: the validation figures.
    """

    boosters: tuple[lgb.Booster, ...]
    feature_names: tuple[str, ...]
    threshold: float
    settings: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.boosters:
            raise ConfigError("a saved scorer needs at least one booster")
        if not (math.isfinite(self.threshold) and 0.0 <= self.threshold <= 1.0):
            raise ConfigError(
                f"threshold={self.threshold}; hint: use a probability in [0, 1]"
            )
        for booster in self.boosters:
            if booster.num_feature() != len(self.feature_names):
                raise ConfigError(
                    f"a booster reads {booster.num_feature()} columns, but "
                    f"{len(self.feature_names)} feature names are given"
                )

    def check_features(self, names: Sequence[str], *, source: str = "") -> None:
        """Refuse ``names`` unless they are the model's feature names, in order.

        Raises
        ------
        ConfigError
            Naming the first difference, with a hint to retrain.
        """
        names = tuple(names)
        if names == self.feature_names:
            return
        where = f" {source}" if source else ""
        missing = [n for n in self.feature_names if n not in set(names)]
        extra = [n for n in names if n not in set(self.feature_names)]
        if missing or extra:
            detail = (
                f"{len(missing)} columns the model reads are not built "
                f"(first: {missing[:3]}), {len(extra)} built columns are new "
                f"(first: {extra[:3]})"
            )
        else:
            detail = "the same columns are built in another order"
        raise ConfigError(
            f"the model{where} was trained on {len(self.feature_names)} feature "
            f"columns, the code builds {len(names)}: {detail}; hint: retrain the "
            "model with this version (`trustwatch rings train`)"
        )

    def score(self, features: FloatArray) -> FloatArray:
        """Mean probability of the boosters for each row, in ``[0, 1]``."""
        self._check_shape(features)
        total = np.zeros(features.shape[0], dtype=np.float64)
        for booster in self.boosters:
            total += np.asarray(booster.predict(features), dtype=np.float64)
        return total / len(self.boosters)

    def contributions(self, features: FloatArray) -> FloatArray:
        """Each column's SHAP contribution to each row's log-odds, averaged.

        Returns
        -------
        numpy.ndarray
            ``(n_rows, n_columns + 1)``; the last column is the expected
            value. Positive contributions push a row towards positive.
        """
        self._check_shape(features)
        total = np.zeros((features.shape[0], len(self.feature_names) + 1))
        for booster in self.boosters:
            total += np.asarray(
                booster.predict(features, pred_contrib=True), dtype=np.float64
            )
        return total / len(self.boosters)

    def _check_shape(self, features: FloatArray) -> None:
        if features.ndim != 2 or features.shape[1] != len(self.feature_names):
            raise ConfigError(
                f"features have shape {features.shape}; the model reads "
                f"{len(self.feature_names)} columns"
            )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the scorer to ``path`` as one text file; return the path.

        The file is written beside its target and renamed over it, so a
        reader never sees half a model.
        """
        texts = [booster.model_to_string() for booster in self.boosters]
        header = {
            "format": SCORER_FORMAT,
            "version": SCORER_FORMAT_VERSION,
            "feature_names": list(self.feature_names),
            "threshold": self.threshold,
            "settings": self.settings,
            "metrics": self.metrics,
            "model_chars": [len(text) for text in texts],
        }
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        with partial.open("w", encoding="utf-8", newline="\n") as out:
            out.write(json.dumps(header, sort_keys=True, allow_nan=False) + "\n")
            for text in texts:
                out.write(text)
        partial.replace(target)
        return target


def load_scorer(
    path: str | os.PathLike[str], expected_names: Sequence[str] | None = None
) -> SavedScorer:
    """Read a scorer written by :meth:`SavedScorer.save`.

    Parameters
    ----------
    path
        The model file.
    expected_names
        The feature names the caller builds; the file is refused unless its
        names are the same, in the same order.

    Raises
    ------
    ConfigError
        When the file is missing or unreadable, of another format or version,
        damaged (each booster's text is checked completely before LightGBM
        reads it, :func:`~trustwatch.lgbmtext.check_model_text`), with a
        threshold outside ``(0, 1]``, or trained on other features.
    """
    source = Path(path)
    try:
        with source.open(encoding="utf-8", newline="\n") as handle:
            first = handle.readline(_MAX_HEADER_CHARS)
            body = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"cannot read model {source}: {error}; hint: train one with "
            "`trustwatch rings train`"
        ) from error
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != SCORER_FORMAT:
        raise ConfigError(
            f"{source} is not a {SCORER_FORMAT} file; hint: train one with "
            "`trustwatch rings train`"
        )
    if header.get("version") != SCORER_FORMAT_VERSION:
        raise ConfigError(
            f"{source} is version {header.get('version')!r} of the model format, "
            f"this code reads version {SCORER_FORMAT_VERSION}; hint: retrain it"
        )
    try:
        names = tuple(str(n) for n in header["feature_names"])
        threshold = _number(header["threshold"])
        settings = dict(header.get("settings") or {})
        metrics = dict(header.get("metrics") or {})
        lengths = [_whole(n) for n in header["model_chars"]]
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        raise ConfigError(
            f"{source}: damaged header ({error}); hint: retrain"
        ) from error
    if not lengths or any(n <= 0 for n in lengths) or sum(lengths) != len(body):
        raise ConfigError(
            f"{source}: the model text is {len(body)} characters, the header "
            f"announces {sum(lengths)}; hint: the file is truncated or edited, "
            "retrain or copy it again"
        )
    if not (math.isfinite(threshold) and 0.0 < threshold <= 1.0):
        raise ConfigError(
            f"{source}: threshold={threshold} is outside (0, 1] (0 or less flags "
            "every account, above 1 none); hint: the file is edited or damaged, "
            "retrain it (`trustwatch rings train`) or copy it again"
        )
    boosters = []
    start = 0
    for number, length in enumerate(lengths, start=1):
        text = body[start : start + length]
        check_model_text(
            text,
            len(names),
            what=f"model {source} (booster {number} of {len(lengths)})",
            hint="retrain it (`trustwatch rings train`) or copy it again",
        )
        try:
            boosters.append(lgb.Booster(model_str=text))
        except (lgb.basic.LightGBMError, ValueError) as error:
            raise ConfigError(
                f"{source}: LightGBM cannot read a model ({error}); hint: retrain"
            ) from error
        start += length
    scorer = SavedScorer(
        boosters=tuple(boosters),
        feature_names=names,
        threshold=threshold,
        settings=settings,
        metrics=metrics,
    )
    if expected_names is not None:
        scorer.check_features(expected_names, source=str(source))
    return scorer


def _number(value: object) -> float:
    """A JSON number as a float; booleans and strings are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{value!r} is not a number")
    return float(value)


def _whole(value: object) -> int:
    """A JSON whole number; booleans, strings and fractions are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{str(value)[:40]!r} is not a whole number")
    return value
