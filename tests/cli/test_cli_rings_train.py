"""``trustwatch rings train``, and ``run --graph-model`` using what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.evaluation.rings import default_ring_specs
from trustwatch.events.readers import write_events_jsonl
from trustwatch.graph.inject import inject_rings
from trustwatch.graphmodel.saved import load_scorer
from trustwatch.simulation import SimulationConfig, simulate
from trustwatch.storage.sqlite import SqliteStore


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """Events with three rings mixed in, and labels: ring members abusive."""
    folder = tmp_path_factory.mktemp("train")
    benign = simulate(SimulationConfig(accounts=400, days=2.0, seed=9)).events
    events, key = inject_rings(benign, default_ring_specs((8, 14, 20)), seed=9)
    write_events_jsonl(events, folder / "events.jsonl")
    members = {m for ring in key for m in ring.members}
    accounts = sorted({e.account for e in events if e.account})
    lines = [json.dumps({"account": a, "label": int(a in members)}) for a in accounts]
    (folder / "labels.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "events.jsonl", folder / "labels.jsonl", sorted(members)


def _train(capsys, events: Path, labels: Path, out: Path, *more: str) -> dict:
    capsys.readouterr()
    argv = ["rings", "train", str(events), "--labels", str(labels), "--out", str(out)]
    assert main([*argv, "--json", *more]) == ExitCode.OK
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_train_writes_a_model_and_prints_validation_figures(
    labelled, tmp_path, capsys
) -> None:
    events, labels, members = labelled
    out = tmp_path / "accounts.model"
    figures = _train(capsys, events, labels, out)
    assert Path(figures["model"]) == out
    valid = figures["validation"]
    test = figures["test"]
    assert figures["reported_on"] == "test"
    held = valid["abusive"] + test["abusive"]
    assert held + figures["train"]["abusive"] == len(members)
    assert valid["auroc"] >= 0.99 and valid["precision"] >= 0.99
    assert test["auroc"] >= 0.95
    assert figures["labels_rejected"] == {}
    model = load_scorer(out)
    assert model.threshold == figures["threshold"]
    argv = ["rings", "train", str(events), "--labels", str(labels), "--out", str(out)]
    assert main(argv) == ExitCode.OK
    text = capsys.readouterr().out
    assert "test AUROC" in text and "precision" in text and "recall" in text


@pytest.mark.slow
def test_bad_label_rows_are_counted_not_fatal(labelled, tmp_path, capsys) -> None:
    events, labels, _ = labelled
    damaged = tmp_path / "labels.jsonl"
    damaged.write_text(
        labels.read_text() + '{"account": "x", "label": "yes"}\n{not json\n[]\n'
    )
    figures = _train(capsys, events, damaged, tmp_path / "m.model")
    assert figures["labels_rejected"] == {
        "bad_label": 1,
        "malformed_json": 1,
        "not_an_object": 1,
    }
    capsys.readouterr()
    argv = ["rings", "train", str(events), "--labels", str(damaged)]
    assert main([*argv, "--out", str(tmp_path / "m2.model")]) == ExitCode.OK
    assert "label rows left out: 1 bad_label" in capsys.readouterr().out


@pytest.mark.slow
def test_csv_labels_with_a_header_train_too(labelled, tmp_path, capsys) -> None:
    events, labels, _ = labelled
    rows = [json.loads(line) for line in labels.read_text().splitlines()]
    csv_labels = tmp_path / "labels.csv"
    csv_labels.write_text(
        "account,label\n" + "".join(f"{r['account']},{r['label']}\n" for r in rows)
    )
    figures = _train(capsys, events, csv_labels, tmp_path / "m.model")
    assert figures["labelled"] == len(rows)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no usable label"),
        ('{"account": "a", "label": 3}\n', "bad_label"),
        ("a,1\na,0\n", "conflicting_label"),
    ],
)
def test_labels_without_a_usable_row_are_a_clear_error(
    labelled, tmp_path, capsys, content, message
) -> None:
    events, _, _ = labelled
    labels = tmp_path / "labels.txt"
    labels.write_text(content)
    argv = ["rings", "train", str(events), "--labels", str(labels)]
    assert main([*argv, "--out", str(tmp_path / "m.model")]) == ExitCode.BAD_CONFIG
    assert message in capsys.readouterr().err


def test_labels_of_one_class_only_are_a_clear_error(labelled, tmp_path, capsys):
    events, _, members = labelled
    labels = tmp_path / "labels.csv"
    labels.write_text("".join(f"{m},1\n" for m in members))
    argv = ["rings", "train", str(events), "--labels", str(labels)]
    assert main([*argv, "--out", str(tmp_path / "m.model")]) == ExitCode.BAD_CONFIG
    assert "0 benign accounts" in capsys.readouterr().err
    assert not (tmp_path / "m.model").exists()


def test_add_detector_graph_scores_without_a_model_says_how(labelled, tmp_path, capsys):
    events, _, _ = labelled
    db = tmp_path / "store.sqlite"
    argv = ["run", str(events), "--db", str(db), "--no-geo"]
    assert main([*argv, "--add-detector", "graph_scores"]) == ExitCode.BAD_CONFIG
    assert "--graph-model" in capsys.readouterr().err


@pytest.mark.slow
def test_run_with_the_model_stores_its_groups(labelled, tmp_path, capsys) -> None:
    events, labels, members = labelled
    model = tmp_path / "accounts.model"
    _train(capsys, events, labels, model)
    db = tmp_path / "store.sqlite"
    argv = ["run", str(events), "--db", str(db), "--no-geo"]
    assert main([*argv, "--graph-model", str(model)]) == ExitCode.OK
    with SqliteStore(db) as store:
        rings = store.rings(method="graph_scores", min_risk=0.0, account=None, limit=50)
    assert rings
    listed = {m for ring in rings for m in ring.members}
    assert len(listed & set(members)) >= 0.9 * len(listed)


def test_a_model_that_cannot_separate_is_not_saved(tmp_path, capsys) -> None:
    from trustwatch.testing.account_model import synthetic_account_labels
    from trustwatch.testing.conformance import synthetic_events

    events = tmp_path / "events.jsonl"
    write_events_jsonl(list(synthetic_events()), events)
    labels = tmp_path / "labels.csv"
    rows = [f"{a},{int(v)}" for a, v in synthetic_account_labels().items()]
    labels.write_text("\n".join(rows) + "\n")
    out = tmp_path / "accounts.model"
    argv = ["rings", "train", str(events), "--labels", str(labels), "--out", str(out)]
    assert main(argv) == ExitCode.BAD_CONFIG
    assert "no booster made a split" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_train_accounts_prints_the_threshold_and_where_figures_come_from(
    labelled, tmp_path, capsys
) -> None:
    from trustwatch.review.store import SqliteReviewStore

    events, labels, _ = labelled
    review = tmp_path / "review.sqlite"
    with SqliteReviewStore(review):
        pass
    capsys.readouterr()
    argv = ["train", "accounts", str(events), "--review-db", str(review)]
    out = tmp_path / "m.model"
    assert main([*argv, "--labels", str(labels), "--out", str(out)]) == ExitCode.OK
    text = capsys.readouterr().out
    assert "test AUROC" in text and "at threshold" in text
    assert "(rule precision" in text or "(rule f1" in text
    assert "measured on features of the whole stream at its end" in text
    model = load_scorer(out)
    assert model.metrics["reported_on"] == "test"
    assert f"{model.threshold:.4f}" in text


def test_events_are_read_as_run_reads_them_repeats_skipped(tmp_path) -> None:
    from trustwatch.cli.train import read_events_in_time_order

    benign = simulate(SimulationConfig(accounts=20, days=0.2, seed=3)).events
    once = tmp_path / "once.jsonl"
    write_events_jsonl(benign, once)
    # the file twice over, then a line repeated in another file
    twice, again = tmp_path / "twice.jsonl", tmp_path / "again.jsonl"
    twice.write_text(once.read_text() * 2)
    again.write_text(once.read_text().splitlines(keepends=True)[0])
    paths = [str(twice), str(again)]
    read, dead, repeats = read_events_in_time_order(paths, "auto", None)
    assert (len(read), repeats, dead) == (len(benign), len(benign) + 1, {})
    assert [e.event_id for e in read] == [
        e.event_id for e in sorted(benign, key=lambda e: e.ts)
    ]


@pytest.mark.slow
def test_a_file_twice_over_trains_as_it_does_once(labelled, tmp_path, capsys) -> None:
    events, labels, _ = labelled
    doubled = tmp_path / "twice.jsonl"
    doubled.write_text(events.read_text() * 2)
    once = _train(capsys, events, labels, tmp_path / "once.model")
    twice = _train(capsys, doubled, labels, tmp_path / "twice.model")
    assert once["repeated_events"] == 0
    assert twice["repeated_events"] == once["events"]
    assert twice["events"] == once["events"]
    assert twice["threshold"] == once["threshold"]
    assert twice["validation"] == once["validation"]
