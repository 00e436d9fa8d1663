"""Damaged model files, one-site corpora, data cards and thin evaluation splits."""

from __future__ import annotations

import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest

from trustwatch.cli.main import main
from trustwatch.errors import ConfigError
from trustwatch.urlmodel.card import render_card
from trustwatch.urlmodel.corpus import LabelledUrl
from trustwatch.urlmodel.evaluation import FPR_TARGETS, MethodResult, SplitResult
from trustwatch.urlmodel.model import UrlModel
from trustwatch.urlmodel.report import render_markdown
from trustwatch.urlmodel.training import TrainingSettings, fit_url_model, parse_corpus

_MALICIOUS = {0, 1, 3, 5, 7, 9, 11, 13, 14, 15}


def _one_site_rows() -> list[LabelledUrl]:
    """Twenty URLs on one domain, the malicious ones where a fixed slice falls."""
    return [
        LabelledUrl(f"https://one.example/login/verify{n}.html", 1, None, "one.csv")
        if n in _MALICIOUS
        else LabelledUrl(f"https://one.example/docs/page{n}.html", 0, None, "one.csv")
        for n in range(20)
    ]


def test_calibration_slice_of_one_site_holds_both_classes() -> None:
    corpus = parse_corpus(_one_site_rows())
    model = fit_url_model(corpus, TrainingSettings(bits=12, trees=10))
    assert all(math.isfinite(value) for value in model.calibration)


def _with_meta(source: Path, target: Path, change) -> Path:
    """Copy a model file with its meta changed by ``change(meta) -> meta``."""
    with np.load(source, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    meta = change(json.loads(bytes(arrays["meta"]).decode()))
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    target.write_bytes(buffer.getvalue())
    assert zipfile.is_zipfile(target)
    return target


def _set(key: str, value: object):
    return lambda meta: {**meta, key: value}


@pytest.mark.parametrize(
    ("change", "what"),
    [
        (lambda meta: [1, 2], "meta is not an object"),
        (lambda meta: {k: v for k, v in meta.items() if k != "bits"}, "'bits'"),
        (_set("bits", "20"), "'bits'"),
        (_set("bits", True), "'bits'"),
        (_set("calibration", [1.0]), "'calibration'"),
        (_set("calibration", [float("nan"), 0.0]), "'calibration'"),
        (_set("calibration", "ab"), "'calibration'"),
        (_set("ngram_bias", "x"), "'ngram_bias'"),
        (_set("ngram_bias", float("inf")), "'ngram_bias'"),
        (_set("card", [1]), "'card'"),
    ],
)
def test_damaged_meta_is_a_clear_error(small_model, tmp_path, change, what) -> None:
    saved = tmp_path / "model.npz"
    small_model.save(saved)
    damaged = _with_meta(saved, tmp_path / "damaged.npz", change)
    with pytest.raises(ConfigError, match="damaged") as error:
        UrlModel.load(damaged)
    assert what in str(error.value)


def test_damaged_meta_is_refused_by_url_score(small_model, tmp_path, capsys) -> None:
    saved = tmp_path / "model.npz"
    small_model.save(saved)
    nan = _with_meta(saved, tmp_path / "nan.npz", _set("calibration", [math.nan, 0]))
    status = main(["url", "score", "--model", str(nan), "https://a.example/x"])
    assert status != 0
    captured = capsys.readouterr()
    assert "score nan" not in captured.out and "damaged" in captured.err


def _custom_model(tmp_path: Path, capsys) -> str:
    rows = ["url,label,time"]
    for n in range(12):
        rows.append(
            f"http://bad{n}.example/verify/login.php?id={n},1,2023-0{n % 9 + 1}-02"
        )
    for n in range(30):
        rows.append(f"https://good{n}.example/news/item-{n},0,2025-01-02")
    labelled = tmp_path / "mine.csv"
    labelled.write_text("\n".join(rows) + "\n")
    out = tmp_path / "custom.npz"
    argv = ["url", "train", "--labelled", str(labelled), "--out", str(out)]
    assert main([*argv, "--bits", "12", "--trees", "10"]) == 0
    capsys.readouterr()
    return out.with_suffix(".md").read_text(encoding="utf-8")


def test_card_counts_each_class_of_a_source_and_says_what_was_used(
    tmp_path, capsys
) -> None:
    card = _custom_model(tmp_path, capsys)
    assert "| mine.csv | malicious | 12 | 2023-01-02 | 2023-09-02 |" in card
    assert "| mine.csv | benign | 30 | 2025-01-02 | 2025-01-02 |" in card
    assert "popular-domain lists" not in card
    assert "Benign training data: `mine.csv`" in card
    assert "The malicious sources date from 2023;" in card


def test_shipped_card_dates_match_its_table() -> None:
    from trustwatch.urlmodel.model import load_default_model

    text = render_card(load_default_model())
    assert "The malicious sources date from 2008 to 2025" in text


def _split(benign: int) -> SplitResult:
    method = MethodResult(
        name="model",
        roc_auc=0.9,
        average_precision=0.8,
        tpr_at_fpr={fpr: 0.5 for fpr in FPR_TARGETS},
    )
    return SplitResult(
        name="domain",
        description="split by domain",
        train_malicious=10,
        train_benign=10,
        test_malicious=50,
        test_benign=benign,
        test_benign_with_path=0,
        methods=[method],
        test_sources={},
        recall_by_source={},
        path_benign_flagged=0,
        path_benign_hosts=0,
        path_benign_hosts_flagged=0,
    )


def test_rates_too_small_for_the_benign_count_are_not_reported() -> None:
    text = render_markdown([_split(benign=200)])
    row = next(line for line in text.splitlines() if line.startswith("| model"))
    assert row.count("50.0%") == 1  # FPR 1e-2 only
    assert "n/a (needs ≥ 1,000 benign)" in row
    assert "n/a (needs ≥ 10,000 benign)" in row
    assert "recalls at FPR 0" in text
    plenty = render_markdown([_split(benign=10_000)])
    assert "n/a" not in plenty and "recalls at FPR 0" not in plenty
