"""The URL model: scores that rank, calibrated probabilities, reasons, files."""

import numpy as np
import pytest

from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import ConfigError
from trustwatch.urlmodel.model import UrlModel, load_default_model
from trustwatch.urlmodel.training import TrainingSettings, fit_url_model, parse_corpus

BAD = "http://paypal.com.verify-201.example.top/login/signin.php"
GOOD = "https://recipes44.com/travel/news"


def test_model_separates_what_it_learned(small_model, make_corpus):
    held_out = parse_corpus(make_corpus(size=200, seed=99))
    scores = small_model.score(held_out.parsed)
    assert ((scores > 0.5) == held_out.labels.astype(bool)).mean() > 0.95
    assert np.all((scores >= 0) & (scores <= 1))


def test_batch_and_single_scores_agree(small_model):
    parsed = [parse_url(BAD), parse_url(GOOD)]
    batch = small_model.score(parsed)
    for one, expected in zip(parsed, batch, strict=True):
        probability, _ = small_model.explain(one)
        assert probability == pytest.approx(expected, abs=1e-9)
    # order and batch size do not change a score
    assert small_model.score(parsed[::-1])[::-1] == pytest.approx(batch)


def test_reasons_name_what_raised_a_high_score(small_model):
    probability, reasons = small_model.explain(parse_url(BAD))
    assert probability > 0.9
    assert reasons and all(r.contribution > 0 for r in reasons)
    assert reasons == sorted(reasons, key=lambda r: -r.contribution)
    texts = " | ".join(r.text for r in reasons)
    assert "text" in texts or "brand" in texts or "words" in texts


def test_reasons_name_what_lowered_a_low_score(small_model):
    probability, reasons = small_model.explain(parse_url(GOOD))
    assert probability < 0.1
    assert reasons and all(r.contribution < 0 for r in reasons)


def test_save_and_load_round_trip(small_model, tmp_path):
    path = tmp_path / "model.npz"
    small_model.save(path)
    loaded = UrlModel.load(path)
    parsed = [parse_url(BAD), parse_url(GOOD)]
    assert loaded.score(parsed) == pytest.approx(small_model.score(parsed))
    assert loaded.card["name"] == "test"
    assert loaded.calibration == small_model.calibration


def test_damaged_or_foreign_files_are_clear_errors(small_model, tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="cannot read URL model"):
        UrlModel.load(junk)
    with pytest.raises(ConfigError, match="cannot read URL model"):
        UrlModel.load(tmp_path / "missing.npz")


def test_training_is_deterministic(make_corpus):
    corpus = parse_corpus(make_corpus(size=200))
    settings = TrainingSettings(bits=14, epochs=5, trees=30)
    first = fit_url_model(corpus, settings)
    second = fit_url_model(corpus, settings)
    assert np.array_equal(first.ngram_weights, second.ngram_weights)
    assert first.calibration == second.calibration


def test_training_refuses_one_class(make_corpus):
    corpus = parse_corpus([r for r in make_corpus(size=100) if r.label == 1])
    with pytest.raises(ConfigError, match="at least 10 malicious and 10 benign"):
        fit_url_model(corpus, TrainingSettings(bits=12, trees=20))


def test_shipped_model_loads_and_scores():
    model = load_default_model()
    scores = model.score([parse_url(BAD), parse_url("https://www.wikipedia.org/")])
    assert scores[0] > scores[1]
    assert model.card["open_licences_only"] is True
    assert model.card["sources"]


def test_damaged_trees_are_a_clear_error(small_model, tmp_path):
    import dataclasses

    broken = dataclasses.replace(small_model, trees="tree\nnot a model\n")
    path = tmp_path / "broken.npz"
    broken.save(path)
    with pytest.raises(ConfigError, match="is damaged"):
        UrlModel.load(path)
