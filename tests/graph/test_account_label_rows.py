"""Account label files read row by row, the labels a split needs, and
precision when nothing is flagged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trustwatch.errors import ConfigError
from trustwatch.graph.account_training import (
    ACCOUNT_SCORER_SETTINGS,
    _at,
    read_labels,
    train_account_scorer,
)
from trustwatch.graphmodel import NodeScorerSettings
from trustwatch.testing.account_model import synthetic_account_labels
from trustwatch.testing.conformance import synthetic_events

_GOOD = [f"acct{n:04d},{n % 2}" for n in range(20)]


def _csv(tmp_path: Path, *lines: str, name: str = "labels.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('"acct-with-quote,1', "unclosed_quote"),
        ('acct-x,"1', "unclosed_quote"),
        ("acct-x," + "9" * 200_000, "too_long"),
        ('"acct-x" y,1', "malformed_csv"),
    ],
    ids=["quote-first", "quote-second", "oversized-field", "text-after-quote"],
)
def test_one_bad_csv_row_is_left_out_alone(tmp_path, bad, reason) -> None:
    path = _csv(tmp_path, "account,label", *_GOOD[:3], bad, *_GOOD[3:])
    read = read_labels(path)
    assert len(read.labels) == len(_GOOD)
    assert read.rejected == {reason: 1}
    assert read.samples == ((5, reason),)


def test_each_bad_row_is_counted_by_reason_with_its_line(tmp_path) -> None:
    lines = [
        "account,label",
        '"open,1',
        *_GOOD[:10],
        "",
        "a," + "x" * 150_000,
        "c,1,extra",
        '"also open,0',
        "d,yes",
        ",1",
        *_GOOD[10:],
        "b,2",
    ]
    path = tmp_path / "labels.csv"  # Windows line ends
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    read = read_labels(path)
    assert len(read.labels) == len(_GOOD)
    assert read.rejected == {
        "bad_label": 2,
        "no_account": 1,
        "too_long": 1,
        "unclosed_quote": 2,
        "wrong_columns": 1,
    }
    assert read.samples == (
        (2, "unclosed_quote"),
        (14, "too_long"),
        (15, "wrong_columns"),
        (16, "unclosed_quote"),
        (17, "bad_label"),
    )


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_lines_break_at_newlines_only(tmp_path, separator) -> None:
    rows = [json.dumps({"account": f"a{n}", "label": n % 2}) for n in range(6)]
    odd = json.dumps({"account": f"x{separator}y", "label": 1}, ensure_ascii=False)
    path = tmp_path / "labels.jsonl"
    path.write_text("\n".join([*rows, odd]) + "\n", encoding="utf-8")
    read = read_labels(path)
    assert read.rejected == {}
    assert read.labels[f"x{separator}y"] is True
    csv_path = _csv(tmp_path, *_GOOD, f"x{separator}y,1", name="l.csv")
    read = read_labels(csv_path)
    assert read.rejected == {} and read.labels[f"x{separator}y"] is True


def test_the_hint_gives_the_labels_a_split_needs() -> None:
    with pytest.raises(ConfigError, match="no booster made a split") as error:
        train_account_scorer(synthetic_events(), synthetic_account_labels())
    message = str(error.value)
    assert "no tree splits with fewer than 28 of each" in message
    assert "about 80% of the training accounts" in message
    assert "about 35 of each let most trees split" in message


def _trees_split(settings: NodeScorerSettings, per_class: int, fraction: float):
    import lightgbm as lgb

    from trustwatch.graph.account_training import _held_out

    train = per_class - _held_out(per_class, fraction)
    x = np.r_[np.zeros(train), np.ones(train)].reshape(-1, 1)
    x += np.random.default_rng(0).random(x.shape) * 0.1
    y = np.r_[np.zeros(train), np.ones(train)]
    booster = lgb.train(
        settings.lightgbm_params(0), lgb.Dataset(x, label=y), num_boost_round=60
    )
    trees = booster.dump_model()["tree_info"]
    return sum(tree["num_leaves"] > 1 for tree in trees)


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.5])
def test_no_tree_splits_below_the_least_and_trees_split_at_the_likely(
    fraction,
) -> None:
    from trustwatch.graph.account_training import _held_out, labels_needed

    settings = ACCOUNT_SCORER_SETTINGS
    least, likely = labels_needed(settings, fraction)
    assert _held_out(least, fraction) < least < likely
    assert _trees_split(settings, least - 1, fraction) == 0
    assert _trees_split(settings, likely, fraction) > 0
    whole = NodeScorerSettings(min_child_samples=2, bagging_fraction=1.0)
    assert labels_needed(whole, 0.3) == (3, 3)  # 2 of each class train


def test_precision_is_zero_when_nothing_is_flagged() -> None:
    labels = np.array([True, False, True])
    scores = np.array([0.2, 0.1, 0.3])
    figures = _at(labels, scores, threshold=0.9)
    assert figures == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "flagged": 0}
    assert _at(labels, scores, threshold=0.25)["flagged"] == 1
