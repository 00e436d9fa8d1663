"""A URL model file is checked completely before anything is read from it.

The trees' LightGBM text is checked before LightGBM sees it (an edited child
index or split feature crashed the process), and the n-gram table's size and
type are checked from its header before it is read (a small file could make
the loader allocate a gigabyte).
"""

from __future__ import annotations

import io
import json
import re
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import lightgbm
import numpy as np
import pytest

from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import ConfigError
from trustwatch.urlmodel.model import UrlModel, load_default_model

URLS = (
    "http://paypal.com.verify-201.example.top/login/signin.php",
    "https://recipes44.com/travel/news",
    "http://198.51.100.7:8080/account/update.php?id=1",
)


def _arrays(model: UrlModel, tmp_path: Path) -> dict[str, np.ndarray]:
    path = tmp_path / "valid.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def _write(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    return path


def _with_trees(model: UrlModel, tmp_path: Path, edit: Callable[[str], str]) -> Path:
    arrays = _arrays(model, tmp_path)
    text = edit(bytes(arrays["trees"]).decode())
    assert text != model.trees
    arrays["trees"] = np.frombuffer(text.encode(), dtype=np.uint8)
    return _write(tmp_path / "edited.npz", arrays)


def _with_weights(
    model: UrlModel, tmp_path: Path, weights: np.ndarray, bits: int | None = None
) -> Path:
    arrays = _arrays(model, tmp_path)
    arrays["ngram_weights"] = weights
    if bits is not None:
        meta = json.loads(bytes(arrays["meta"]).decode())
        meta["bits"] = bits
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return _write(tmp_path / "weights.npz", arrays)


def _edit_tree0(field: str, change: Callable[[list[str]], list[str]]):
    """Change one field of the first tree of 4 leaves or more; fix ``tree_sizes``."""

    def edit(text: str) -> str:
        head_end = text.index("\n\n") + 2
        found = re.search(r"^tree_sizes=(.*)$", text, re.MULTILINE)
        assert found is not None
        sizes = [int(s) for s in found.group(1).split(" ")]
        starts = [head_end + sum(sizes[:i]) for i in range(len(sizes))]
        tree = next(
            i
            for i, at in enumerate(starts)
            if int(re.search(r"num_leaves=(\d+)", text[at:]).group(1)) >= 4
        )
        block = text[starts[tree] : starts[tree] + sizes[tree]]
        lines = block.split("\n")
        for index, line in enumerate(lines):
            if line.startswith(f"{field}="):
                values = line[len(field) + 1 :].split(" ")
                lines[index] = f"{field}=" + " ".join(change(values))
        new_block = "\n".join(lines)
        sizes[tree] = len(new_block)
        head = text[:head_end].replace(
            found.group(0), "tree_sizes=" + " ".join(map(str, sizes))
        )
        rest = text[head_end : starts[tree]] + new_block
        return head + rest + text[starts[tree] + len(block) :]

    return edit


def _put(index: int, value: str) -> Callable[[list[str]], list[str]]:
    return lambda values: [*values[:index], value, *values[index + 1 :]]


def _right_as_left(text: str) -> str:
    """The root's left child made the same as its right child."""
    right: list[str] = []
    _edit_tree0("right_child", lambda values: right.extend(values) or values)(text)
    return _edit_tree0("left_child", _put(0, right[0]))(text)


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        (_edit_tree0("left_child", _put(0, "99")), "child 99 of node 0 is not a node"),
        (_edit_tree0("right_child", _put(0, "-99")), "is not a leaf"),
        (_edit_tree0("split_feature", _put(0, "99999")), "feature 99999, outside"),
        (_edit_tree0("leaf_value", _put(0, "nan")), "'nan' is not a finite number"),
        (_edit_tree0("threshold", _put(0, "inf")), "'inf' is not a finite number"),
        (_edit_tree0("left_child", _put(1, "0")), "node 0 is reached twice"),
        (_right_as_left, "is reached twice"),
        (_edit_tree0("leaf_value", lambda v: v[:-1]), "leaf_value has"),
        (_edit_tree0("decision_type", _put(0, "1")), "decision_type 1"),
        (lambda t: t.replace("\nleft_child=", "\nleft_child=1", 1), "tree_sizes"),
    ],
)
def test_edited_trees_are_refused(tmp_path, edit, what) -> None:
    # the shipped model's trees have 31 leaves: room for every kind of edit
    path = _with_trees(load_default_model(), tmp_path, edit)
    with pytest.raises(ConfigError, match="is damaged") as error:
        UrlModel.load(path)
    assert what in str(error.value)
    assert "hint:" in str(error.value)


def test_shipped_model_scores_as_lightgbm_reads_it() -> None:
    model = load_default_model()
    parsed = [parse_url(url) for url in URLS]
    direct = lightgbm.Booster(model_str=model.trees)
    expected = direct.predict(model.features(parsed), raw_score=True, num_threads=1)
    assert np.array_equal(model.raw_scores(parsed), expected)


def test_trained_model_round_trips_exactly(small_model, tmp_path) -> None:
    path = tmp_path / "model.npz"
    small_model.save(path)
    parsed = [parse_url(url) for url in URLS]
    loaded = UrlModel.load(path)
    assert np.array_equal(loaded.raw_scores(parsed), small_model.raw_scores(parsed))
    assert loaded.explain(parsed[0]) == small_model.explain(parsed[0])


@pytest.mark.parametrize("bits", [9, 25, 26])
def test_bits_outside_what_training_writes_are_refused(
    small_model, tmp_path, bits
) -> None:
    weights = np.zeros(2**bits if bits < 12 else 16, dtype=np.float32)
    path = _with_weights(small_model, tmp_path, weights, bits=bits)
    with pytest.raises(
        ConfigError, match="'bits' must be a whole number from 10 to 24"
    ):
        UrlModel.load(path)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int64, np.int32])
def test_weights_of_another_type_are_refused_as_such(
    small_model, tmp_path, dtype
) -> None:
    weights = np.zeros(2**small_model.bits, dtype=dtype)
    path = _with_weights(small_model, tmp_path, weights)
    with pytest.raises(ConfigError, match="is damaged") as error:
        UrlModel.load(path)
    message = str(error.value)
    assert np.dtype(dtype).name in message and "float32" in message
    assert "not finite" not in message


def test_non_finite_weights_are_still_named(small_model, tmp_path) -> None:
    weights = small_model.ngram_weights.copy()
    weights[3] = np.nan
    path = _with_weights(small_model, tmp_path, weights)
    with pytest.raises(ConfigError, match="weights not finite"):
        UrlModel.load(path)


def test_a_weight_table_of_the_wrong_size_is_refused_before_it_is_read(
    small_model, tmp_path
) -> None:
    # 32 MiB of zeros compress to a few tens of kilobytes
    weights = np.zeros(2**23, dtype=np.float32)
    path = _with_weights(small_model, tmp_path, weights)
    del weights
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match="ngram_weights has shape"):
            UrlModel.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20
