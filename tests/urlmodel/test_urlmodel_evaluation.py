"""Evaluation: splits that never leak, metrics that match their definitions."""

from datetime import UTC, datetime

import numpy as np
import pytest

from trustwatch.errors import ConfigError
from trustwatch.urlmodel.evaluation import (
    _method_result,
    evaluate_splits,
    plot_precision_recall,
    split_by_domain,
    split_by_time,
)
from trustwatch.urlmodel.report import render_markdown, to_json
from trustwatch.urlmodel.training import TrainingSettings, parse_corpus

CUTOFF = datetime(2024, 8, 1, tzinfo=UTC)


def test_time_split_trains_on_the_past_only(make_corpus):
    corpus = parse_corpus(make_corpus())
    train, test, text = split_by_time(corpus, CUTOFF, 0.3)
    assert "2024-08-01" in text
    assert not set(train.tolist()) & set(test.tolist())
    for index in train:
        row = corpus.rows[index]
        assert row.label == 0 or row.time < CUTOFF
    for index in test:
        row = corpus.rows[index]
        assert row.label == 0 or row.time >= CUTOFF
    benign_train = {
        corpus.parsed[i].registrable_domain for i in train if corpus.labels[i] == 0
    }
    benign_test = {
        corpus.parsed[i].registrable_domain for i in test if corpus.labels[i] == 0
    }
    assert not benign_train & benign_test


def test_domain_split_shares_no_domain(make_corpus):
    corpus = parse_corpus(make_corpus())
    train, test, _ = split_by_domain(corpus, 0.3)
    domains = lambda side: {corpus.parsed[i].registrable_domain for i in side}  # noqa: E731
    assert not domains(train) & domains(test)
    assert len(train) + len(test) == len(corpus.rows)


def test_tpr_at_fpr_follows_its_definition():
    # 1,000 benign scores 0..999; 10 malicious, 5 of them above every benign
    benign = np.arange(1000, dtype=float)
    malicious = np.array([2000, 2001, 2002, 2003, 2004, 998.5, 990.5, 500, 1, 0.5])
    labels = np.r_[np.zeros(1000, dtype=np.int64), np.ones(10, dtype=np.int64)]
    result = _method_result("m", labels, np.r_[benign, malicious])
    assert result.tpr_at_fpr[1e-3] == pytest.approx(0.6)  # one benign (999) allowed
    assert result.tpr_at_fpr[1e-2] == pytest.approx(0.7)  # ten allowed: > 989
    assert result.tpr_at_fpr[1e-4] == pytest.approx(0.5)  # none allowed
    assert 0.5 < result.roc_auc < 1.0


def test_evaluation_runs_every_method_and_writes_its_report(make_corpus, tmp_path):
    corpus = parse_corpus(make_corpus(size=800))
    results = evaluate_splits(
        corpus, cutoff=CUTOFF, settings=TrainingSettings(bits=14, epochs=5, trees=30)
    )
    assert [r.name for r in results] == ["time", "domain"]
    for split in results:
        names = [m.name for m in split.methods]
        assert names == ["model", "heuristic baseline", "intel lookup"]
        model = split.methods[0]
        assert model.roc_auc > 0.95
        # a block list of older URLs knows none of the new ones
        assert split.methods[2].tpr_at_fpr[1e-3] < 0.05
    png = tmp_path / "pr.png"
    plot_precision_recall(results, png)
    assert png.read_bytes().startswith(b"\x89PNG")
    markdown = render_markdown(results, rejected=2)
    assert "| model |" in markdown and "TPR @ FPR 0.0001" in markdown
    assert "2 labelled strings were not URLs" in markdown
    as_json = to_json(results)
    assert set(as_json[0]["methods"][0]["tpr_at_fpr"]) == {"0.01", "0.001", "0.0001"}


def test_a_split_without_both_classes_is_a_clear_error(make_corpus):
    corpus = parse_corpus(make_corpus(size=200))
    late = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(ConfigError, match="no malicious URLs on its test side"):
        evaluate_splits(
            corpus, cutoff=late, settings=TrainingSettings(bits=12, trees=20)
        )
