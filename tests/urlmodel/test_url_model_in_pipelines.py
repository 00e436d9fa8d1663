"""A trained URL model reaches the detectors of run, stream and backtest."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.cli.pipeline_setup import build_detectors
from trustwatch.content.store import ContentStore
from trustwatch.enrichment.urls import parse_url
from trustwatch.events.model import UrlPosted
from trustwatch.storage.sqlite import SqliteStore, VerdictQuery
from trustwatch.urlmodel.model import UrlModel, load_default_model

URL = "http://paypal-login-12.weeblysite.com/login/verify.php"


def _probability(model: UrlModel, url: str) -> float:
    parsed = parse_url(url)
    return float(model.probability(model.raw_scores_of(model.features([parsed])))[0])


@pytest.fixture
def saved_model(tmp_path: Path, small_model: UrlModel) -> Path:
    path = tmp_path / "team.npz"
    small_model.save(path)
    return path


def _events(tmp_path: Path, url: str = URL) -> Path:
    event = UrlPosted(
        event_id="u1", ts=datetime(2026, 5, 1, tzinfo=UTC), account="a1", url=url
    )
    path = tmp_path / "events.jsonl"
    path.write_bytes(msgspec.json.encode(event) + b"\n")
    return path


def _url_score(db: Path) -> float:
    with SqliteStore(db) as store:
        (verdict,) = store.verdicts(VerdictQuery(min_decision=False))
    (signal,) = [s for s in verdict.signals if s.kind == "malicious_url"]
    return signal.score


def test_run_scores_urls_with_the_given_model(
    tmp_path: Path, saved_model: Path, small_model: UrlModel
) -> None:
    events = _events(tmp_path)
    ours, shipped = tmp_path / "ours.sqlite", tmp_path / "shipped.sqlite"
    common = ["run", str(events), "--no-geo"]

    assert main([*common, "--db", str(ours), "--url-model", str(saved_model)]) == 0
    assert main([*common, "--db", str(shipped)]) == ExitCode.OK

    assert _url_score(ours) == pytest.approx(_probability(small_model, URL))
    assert _url_score(shipped) == pytest.approx(_probability(load_default_model(), URL))
    assert _url_score(ours) != pytest.approx(_url_score(shipped), abs=1e-6)


def test_links_in_files_are_scored_with_the_given_model_too(
    tmp_path: Path, saved_model: Path, small_model: UrlModel
) -> None:
    content = tmp_path / "content"
    content.mkdir()
    detectors = build_detectors(None, ContentStore(content), (), url_model=saved_model)
    by_name = {d.name: d for d in detectors}
    reputation = by_name["url_reputation"]
    assert reputation.model.bits == small_model.bits  # type: ignore[attr-defined]
    files = by_name["file_phishing"]
    # the rules back the model on this link, so the file scores the model's word
    score, _ = files.scorer(parse_url(URL))  # type: ignore[attr-defined]
    assert score == pytest.approx(_probability(small_model, URL))


def test_a_model_is_loaded_once_per_process_while_its_file_stays(
    saved_model: Path,
) -> None:
    first = build_detectors(None, None, (), url_model=saved_model)
    second = build_detectors(None, None, (), url_model=saved_model)
    models = [
        d.model  # type: ignore[attr-defined]
        for d in (*first, *second)
        if d.name == "url_reputation"
    ]
    assert models[0] is models[1]


def test_backtest_scores_urls_with_the_given_model(
    tmp_path: Path, saved_model: Path, small_model: UrlModel, capsys
) -> None:
    # the team's model flags this URL; the shipped one scores it under 0.99
    url = "https://example.com/wallet/secure.php"
    assert _probability(small_model, url) > 0.9995
    assert _probability(load_default_model(), url) < 0.99
    events = _events(tmp_path, url)
    labels = tmp_path / "labels.csv"
    labels.write_text("account,label\na1,1\nb2,0\n")
    policy = Path(__file__).parents[2] / "src/trustwatch/decisions/default_policy.toml"
    argv = ["backtest", str(events), "--policy", str(policy), "--no-geo", "--json"]
    argv += ["--labels", str(labels)]

    decided = {}
    for name, extra in (("ours", ["--url-model", str(saved_model)]), ("shipped", [])):
        capsys.readouterr()
        assert main([*argv, *extra]) == ExitCode.OK
        decided[name] = msgspec.json.decode(capsys.readouterr().out)["new"]["decisions"]

    assert decided == {"ours": {"send_to_review": 1}, "shipped": {}}
