"""A saved node scorer whose LightGBM text is edited is refused, never run.

LightGBM trusts its model text: a child index out of range or a loop in a
tree crashes the process. Each test trains a small scorer with the project's
LightGBM parameters, edits one thing in the saved file, keeping every length
the header and ``tree_sizes`` give right, and expects a clear error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from trustwatch.errors import ConfigError
from trustwatch.graphmodel import NodeScorerSettings
from trustwatch.graphmodel.saved import SavedScorer, load_scorer

NAMES = ("f0", "f1", "f2", "f3", "f4")
Edit = Callable[[str], str]


def _features(rows: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(NAMES)))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=rows)) > 1.0
    return x, y


def _booster(x: np.ndarray, y: np.ndarray, model: int) -> lgb.Booster:
    params = NodeScorerSettings(min_child_samples=5).lightgbm_params(model)
    data = lgb.Dataset(x, label=y.astype(np.float64))
    return lgb.train(params, data, num_boost_round=12)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Path, SavedScorer]:
    x, y = _features()
    scorer = SavedScorer(
        boosters=(_booster(x, y, 0), _booster(x, y, 1)),
        feature_names=NAMES,
        threshold=0.5,
    )
    path = tmp_path_factory.mktemp("saved") / "scorer.model"
    scorer.save(path)
    return path, scorer


def _split_trees(text: str) -> tuple[str, list[str], str]:
    head_end = text.index("\n\n") + 2
    found = re.search(r"^tree_sizes=(.*)$", text, re.MULTILINE)
    assert found is not None
    blocks, at = [], head_end
    for size in (int(s) for s in found.group(1).split(" ")):
        blocks.append(text[at : at + size])
        at += size
    return text[:head_end], blocks, text[at:]


def _join_trees(head: str, blocks: list[str], tail: str) -> str:
    sizes = " ".join(str(len(block)) for block in blocks)
    head = re.sub(r"^tree_sizes=.*$", f"tree_sizes={sizes}", head, flags=re.MULTILINE)
    return head + "".join(blocks) + tail


def field_edit(field: str, change: Callable[[list[str]], list[str]]) -> Edit:
    """Change one field of tree 0, keeping ``tree_sizes`` right."""

    def edit(text: str) -> str:
        head, blocks, tail = _split_trees(text)
        lines = blocks[0].split("\n")
        for index, line in enumerate(lines):
            if line.startswith(f"{field}="):
                values = line[len(field) + 1 :].split(" ")
                lines[index] = f"{field}=" + " ".join(change(values))
        blocks[0] = "\n".join(lines)
        return _join_trees(head, blocks, tail)

    return edit


def _put(index: int, value: str) -> Callable[[list[str]], list[str]]:
    return lambda values: [*values[:index], value, *values[index + 1 :]]


def _first_leaf_twice(text: str) -> str:
    """Point a second child slot at a leaf already reached: one leaf is lost."""
    head, blocks, tail = _split_trees(text)
    lines = blocks[0].split("\n")
    slots = []
    for index, line in enumerate(lines):
        key, _, value = line.partition("=")
        if key in ("left_child", "right_child"):
            slots += [(index, i) for i, v in enumerate(value.split(" ")) if v[0] == "-"]
    (line_a, at_a), (line_b, at_b) = slots[:2]
    leaf = lines[line_a].partition("=")[2].split(" ")[at_a]
    key, _, value = lines[line_b].partition("=")
    values = value.split(" ")
    values[at_b] = leaf
    lines[line_b] = f"{key}=" + " ".join(values)
    blocks[0] = "\n".join(lines)
    return _join_trees(head, blocks, tail)


def _in_tree(old: str, new: str) -> Edit:
    def edit(text: str) -> str:
        head, blocks, tail = _split_trees(text)
        blocks[0] = blocks[0].replace(old, new, 1)
        return _join_trees(head, blocks, tail)

    return edit


def _rewrite(source: Path, target: Path, edit: Edit, booster: int = 0) -> Path:
    """Copy a saved scorer with one booster's text edited; lengths kept right."""
    with source.open(encoding="utf-8", newline="\n") as handle:
        header = json.loads(handle.readline())
        body = handle.read()
    texts, start = [], 0
    for length in header["model_chars"]:
        texts.append(body[start : start + length])
        start += length
    texts[booster] = edit(texts[booster])
    header["model_chars"] = [len(text) for text in texts]
    with target.open("w", encoding="utf-8", newline="\n") as out:
        out.write(json.dumps(header) + "\n" + "".join(texts))
    return target


DAMAGE = {
    "child index past the nodes": field_edit("left_child", _put(0, "99")),
    "leaf index past the leaves": field_edit("right_child", _put(0, "-99")),
    "split feature past the last": field_edit("split_feature", _put(0, "99999")),
    "negative split feature": field_edit("split_feature", _put(0, "-1")),
    "NaN leaf value": field_edit("leaf_value", _put(0, "nan")),
    "infinite leaf value": field_edit("leaf_value", _put(1, "inf")),
    "NaN threshold": field_edit("threshold", _put(0, "nan")),
    "cycle back to the root": field_edit("left_child", _put(1, "0")),
    "leaf reached twice": _first_leaf_twice,
    "leaf values one short": field_edit("leaf_value", lambda v: v[:-1]),
    "thresholds one long": field_edit("threshold", lambda v: [*v, "0.5"]),
    "no split gains": field_edit("split_gain", lambda v: []),
    "counts not whole": field_edit("leaf_count", _put(0, "1.5")),
    "categorical decision": field_edit("decision_type", _put(0, "1")),
    "unknown decision": field_edit("decision_type", _put(0, "14")),
    "categorical tree": field_edit("num_cat", lambda v: ["1"]),
    "linear tree": field_edit("is_linear", lambda v: ["1"]),
    "more leaves than arrays": field_edit("num_leaves", lambda v: [str(int(v[0]) + 1)]),
    "one leaf with splits": field_edit("num_leaves", lambda v: ["1"]),
    "unknown tree field": _in_tree("is_linear=0\n", "is_linear=0\nleaf_const=0\n"),
    "line without a value": _in_tree("is_linear=0\n", "is_linear=0\nnothing\n"),
    "tree_sizes off by one": lambda t: t.replace("\nleft_child=", "\nleft_child=1", 1),
    "max_feature_idx past the names": lambda t: t.replace(
        "max_feature_idx=4", "max_feature_idx=5", 1
    ),
    "another objective": lambda t: t.replace("binary sigmoid:1", "regression", 1),
    "two classes": lambda t: t.replace("num_class=1", "num_class=2", 1),
    "a NUL character": lambda t: t.replace("num_cat=0", "num_cat=0\0", 1),
    "no end of trees": lambda t: t.replace("end of trees", "end of tree", 1),
    "a stray parameter line": lambda t: t.replace(
        "end of parameters", "[seed 1]\nend of parameters", 1
    ),
}


def _reached_twice(text: str) -> str:
    """The root's right child made the same node as its left child."""
    _, blocks, _ = _split_trees(text)
    line = next(x for x in blocks[0].split("\n") if x.startswith("left_child="))
    left = line.partition("=")[2].split(" ")[0]
    return field_edit("right_child", _put(0, left))(text)


DAMAGE["node reached twice"] = _reached_twice  # the root's two children alike


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_an_edited_model_text_is_refused(saved, tmp_path, damage) -> None:
    path, _ = saved
    edited = _rewrite(path, tmp_path / "edited.model", DAMAGE[damage])
    assert edited.read_text(encoding="utf-8") != path.read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match=r"is damaged: .*; hint: retrain"):
        load_scorer(edited)


def test_the_second_booster_is_checked_too(saved, tmp_path) -> None:
    path, _ = saved
    edit = field_edit("left_child", _put(0, "99"))
    edited = _rewrite(path, tmp_path / "edited.model", edit, booster=1)
    with pytest.raises(ConfigError, match=r"booster 2 of 2\) is damaged"):
        load_scorer(edited)


def test_the_tree_shape_check_names_the_fault(saved, tmp_path) -> None:
    path, _ = saved
    cycle = _rewrite(path, tmp_path / "a.model", DAMAGE["cycle back to the root"])
    with pytest.raises(ConfigError, match="node 0 is reached twice"):
        load_scorer(cycle)
    feature = _rewrite(
        path, tmp_path / "b.model", DAMAGE["split feature past the last"]
    )
    with pytest.raises(ConfigError, match="feature 99999, outside the features 0 to 4"):
        load_scorer(feature)


def test_a_valid_scorer_loads_and_scores_the_same(saved) -> None:
    path, scorer = saved
    x, _ = _features(rows=50, seed=1)
    loaded = load_scorer(path, NAMES)
    assert np.array_equal(loaded.score(x), scorer.score(x))
    assert np.array_equal(loaded.contributions(x), scorer.contributions(x))


def test_a_scorer_of_one_leaf_trees_loads(tmp_path) -> None:
    x = np.zeros((60, len(NAMES)))
    y = np.arange(60) % 2 == 0
    scorer = SavedScorer(
        boosters=(_booster(x, y, 0),), feature_names=NAMES, threshold=0.5
    )
    path = scorer.save(tmp_path / "flat.model")
    assert np.array_equal(load_scorer(path).score(x[:3]), scorer.score(x[:3]))


@pytest.mark.parametrize("threshold", [0.0, -0.0])
def test_a_threshold_that_flags_every_account_is_refused(
    saved, tmp_path, threshold
) -> None:
    path, _ = saved
    with path.open(encoding="utf-8", newline="\n") as handle:
        header = json.loads(handle.readline())
        body = handle.read()
    header["threshold"] = threshold
    edited = tmp_path / "zero.model"
    edited.write_text(json.dumps(header) + "\n" + body, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"outside \(0, 1\].*hint:"):
        load_scorer(edited)


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("threshold", "true"),
        ("threshold", '"0.5"'),
        ("threshold", "1" + "0" * 400),
        ("model_chars", "[1e999]"),
        ("model_chars", "[12.5]"),
        ("model_chars", '["12"]'),
    ],
)
def test_a_header_value_of_the_wrong_kind_is_refused(
    saved, tmp_path, key: str, raw: str
) -> None:
    path, _ = saved
    with path.open(encoding="utf-8", newline="\n") as handle:
        header = json.loads(handle.readline())
        body = handle.read()
    header[key] = "PLACEHOLDER"
    line = json.dumps(header).replace('"PLACEHOLDER"', raw)
    edited = tmp_path / "edited.model"
    edited.write_text(line + "\n" + body, encoding="utf-8")
    with pytest.raises(ConfigError, match="damaged header"):
        load_scorer(edited)


def test_a_threshold_of_one_still_loads(saved, tmp_path) -> None:
    path, _ = saved
    with path.open(encoding="utf-8", newline="\n") as handle:
        header = json.loads(handle.readline())
        body = handle.read()
    header["threshold"] = 1.0
    edited = tmp_path / "one.model"
    edited.write_text(json.dumps(header) + "\n" + body, encoding="utf-8")
    assert load_scorer(edited).threshold == 1.0
