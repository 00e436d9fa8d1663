"""``rings train``, ``train accounts`` and ``train urls``: never writing the
model over an input, every label row left out reported, ``--as-of`` applied to
file rows, and seeds that cannot be negative."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.errors import ConfigError
from trustwatch.evaluation.rings import default_ring_specs
from trustwatch.events.readers import write_events_jsonl
from trustwatch.graph.inject import inject_rings
from trustwatch.review.store import SqliteReviewStore
from trustwatch.simulation import SimulationConfig, simulate


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> tuple[Path, list[tuple[str, int]]]:
    """Events with three rings mixed in, and every account's label."""
    folder = tmp_path_factory.mktemp("inputs")
    benign = simulate(SimulationConfig(accounts=400, days=2.0, seed=9)).events
    events, key = inject_rings(benign, default_ring_specs((8, 14, 20)), seed=9)
    write_events_jsonl(events, folder / "events.jsonl")
    members = {m for ring in key for m in ring.members}
    accounts = sorted({e.account for e in events if e.account})
    return folder / "events.jsonl", [(a, int(a in members)) for a in accounts]


def _copy(source: Path, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    target.write_bytes(source.read_bytes())
    return target


def _labels_csv(rows: list[tuple[str, int]], path: Path, *bad: str) -> Path:
    lines = ["account,label", *bad, *(f"{a},{v}" for a, v in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _review(path: Path) -> Path:
    with SqliteReviewStore(path):
        pass
    return path


def _refused(capsys, argv: list[str], *protected: Path) -> str:
    before = [path.read_bytes() for path in protected]
    capsys.readouterr()
    assert main(argv) == ExitCode.BAD_CONFIG
    err = capsys.readouterr().err
    assert "would write over" in err and "hint:" in err
    assert [path.read_bytes() for path in protected] == before
    return err


def test_rings_train_refuses_to_write_over_its_labels_or_events(
    labelled, tmp_path, capsys
) -> None:
    source, rows = labelled
    events = _copy(source, tmp_path / "ev", "events.jsonl")
    labels = _labels_csv(rows, tmp_path / "labels.csv")
    head = ["rings", "train"]
    err = _refused(
        capsys,
        [*head, str(events), "--labels", str(labels), "--out", str(labels)],
        labels,
    )
    assert "the --labels file" in err
    # a file, a folder and a glob of events, each named another way
    for given in (str(events), str(events.parent), str(events.parent / "*.jsonl")):
        out = tmp_path / "ev" / "x" / ".." / "events.jsonl"
        err = _refused(
            capsys,
            [*head, given, "--labels", str(labels), "--out", str(out)],
            events,
        )
        assert "one of the event files" in err


def test_links_and_the_partial_file_beside_the_model_are_caught(
    labelled, tmp_path, capsys
) -> None:
    source, rows = labelled
    events = _copy(source, tmp_path, "events.jsonl")
    labels = _labels_csv(rows, tmp_path / "labels.csv")
    (tmp_path / "soft.csv").symlink_to(labels)
    os.link(labels, tmp_path / "hard.csv")
    argv = ["rings", "train", str(events), "--labels", str(labels), "--out"]
    for out in ("soft.csv", "hard.csv"):
        _refused(capsys, [*argv, str(tmp_path / out)], labels)
    # the model is written to MODEL.partial first, then renamed over MODEL
    partial = _labels_csv(rows, tmp_path / "m.model.partial")
    argv = ["rings", "train", str(events), "--labels", str(partial), "--out"]
    _refused(capsys, [*argv, str(tmp_path / "m.model")], partial)


def test_the_check_comes_before_any_work(labelled, tmp_path, capsys) -> None:
    source, _ = labelled
    events = _copy(source, tmp_path, "events.jsonl")
    useless = tmp_path / "labels.csv"
    useless.write_text("account,label\n", encoding="utf-8")  # no usable label
    argv = ["rings", "train", str(events), "--labels", str(useless)]
    err = _refused(capsys, [*argv, "--out", str(events)], events)
    assert "no usable label" not in err


def test_train_accounts_refuses_to_write_over_any_input(
    labelled, tmp_path, capsys
) -> None:
    source, rows = labelled
    events = _copy(source, tmp_path / "ev", "events.jsonl")
    labels = _labels_csv(rows, tmp_path / "labels.csv")
    review = _review(tmp_path / "review.sqlite")
    head = ["train", "accounts", str(events), "--review-db", str(review)]
    err = _refused(capsys, [*head, "--out", str(review)], review)
    assert "the --review-db store" in err
    err = _refused(capsys, [*head, "--out", f"{review}-wal"], review)
    assert "a file of the --review-db store" in err
    err = _refused(
        capsys, [*head, "--labels", str(labels), "--out", str(labels)], labels
    )
    assert "the --labels file" in err
    err = _refused(capsys, [*head, "--out", str(events)], events)
    assert "one of the event files" in err
    folder = str(events.parent)
    argv = ["train", "accounts", folder, "--review-db", str(review)]
    _refused(capsys, [*argv, "--out", str(events)], events)


def test_url_train_refuses_a_labelled_file_under_its_card_or_a_link_to_it(
    tmp_path, capsys
) -> None:
    rows = "url,label\nhttp://bad.example/login.php,1\nhttps://ok.example/,0\n"
    card = tmp_path / "lab.md"  # the data card of lab.npz
    card.write_text(rows)
    err = _refused(
        capsys,
        ["url", "train", "--labelled", str(card), "--out", str(tmp_path / "lab.npz")],
        card,
    )
    assert "one of the --labelled files" in err
    linked = tmp_path / "linked.npz"
    os.link(card, linked)  # the model itself would be written over the labels
    _refused(
        capsys, ["url", "train", "--labelled", str(card), "--out", str(linked)], card
    )


def test_train_urls_refuses_a_review_store_or_file_under_its_model_or_card(
    tmp_path, capsys
) -> None:
    labelled = tmp_path / "mine.csv"
    labelled.write_text("url,label\nhttp://bad.example/login.php,1\n")
    card = tmp_path / "model.md"  # the data card of model.npz
    card.write_text("url,label\nhttp://bad.example/login.php,1\n")
    review = _review(tmp_path / "review.sqlite")
    head = ["train", "urls", "--review-db", str(review)]
    err = _refused(
        capsys,
        [*head, "--labelled", str(card), "--out", str(tmp_path / "model.npz")],
        card,
    )
    assert "one of the --labelled files" in err
    review_card = _review(tmp_path / "store.md")
    argv = ["train", "urls", "--review-db", str(review_card)]
    err = _refused(
        capsys,
        [*argv, "--labelled", str(labelled), "--out", str(tmp_path / "store.npz")],
        review_card,
    )
    assert "the --review-db store" in err


def test_an_address_names_no_file(tmp_path) -> None:
    from trustwatch.cli.train import refuse_writing_over_inputs

    out = tmp_path / "m.model"
    out.write_text("old")
    # a DSN is not compared as a path, a missing input never matches
    refuse_writing_over_inputs(
        [out], review_db="postgresql://u@127.0.0.1/db", files=[("x", None)]
    )
    with pytest.raises(ConfigError, match="would write over"):
        refuse_writing_over_inputs([out], files=[("--labels", tmp_path / "m.model")])


@pytest.mark.parametrize("command", [("rings", "train"), ("train", "accounts")])
def test_a_negative_seed_is_refused_as_a_usage_error(
    labelled, tmp_path, capsys, command
) -> None:
    source, rows = labelled
    labels = _labels_csv(rows, tmp_path / "labels.csv")
    argv = [*command, str(source), "--labels", str(labels)]
    if command[0] == "train":
        argv += ["--review-db", str(_review(tmp_path / "review.sqlite"))]
    status = main([*argv, "--out", str(tmp_path / "m.model"), "--seed", "-1"])
    assert status == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "--seed" in err and "Traceback" not in err
    assert not (tmp_path / "m.model").exists()


@pytest.mark.slow
def test_train_accounts_reports_the_label_rows_left_out(
    labelled, tmp_path, capsys
) -> None:
    source, rows = labelled
    labels = _labels_csv(rows, tmp_path / "labels.csv", "x,maybe", '"open,1')
    review = _review(tmp_path / "review.sqlite")
    argv = ["train", "accounts", str(source), "--review-db", str(review)]
    argv += ["--labels", str(labels), "--out", str(tmp_path / "m.model")]
    capsys.readouterr()
    assert main([*argv, "--json"]) == ExitCode.OK
    figures = json.loads(capsys.readouterr().out)
    assert figures["labels_rejected"] == {"bad_label": 1, "unclosed_quote": 1}
    assert figures["labels"]["file_labels"] == len(rows)
    assert main(argv) == ExitCode.OK
    text = capsys.readouterr().out
    assert "label rows left out: 1 bad_label, 1 unclosed_quote" in text
    assert "row 2: bad_label; row 3: unclosed_quote" in text


def _url_rows() -> list[str]:
    day = "2026-01-{:02d}"
    rows = [
        f"http://bad{n}.example/verify/login.php,1,{day.format(n + 1)}"
        for n in range(12)
    ]
    rows += [
        f"https://good{n}.example/news/item-{n},0,{day.format(n + 1)}"
        for n in range(20)
    ]
    return rows


def test_train_urls_as_of_leaves_out_file_rows_dated_later(tmp_path, capsys) -> None:
    labelled = tmp_path / "mine.csv"
    late = [f"http://late{n}.example/verify/login.php,1,2026-05-01" for n in range(7)]
    untimed = ["https://plain.example/about,0,"]
    labelled.write_text(
        "\n".join(["url,label,time", *_url_rows(), *late, *untimed]) + "\n"
    )
    out = tmp_path / "model.npz"
    argv = ["train", "urls", "--review-db", str(_review(tmp_path / "review.sqlite"))]
    argv += ["--labelled", str(labelled), "--out", str(out)]
    capsys.readouterr()
    assert main([*argv, "--as-of", "2026-03-01T00:00:00Z"]) == ExitCode.OK
    text = " ".join(capsys.readouterr().out.split())
    assert "33 from files (7 dated later left out, 1 without a time kept)" in text
    card = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| mine.csv | malicious | 12 |" in card
    assert "| mine.csv | benign | 21 |" in card


def test_precision_is_printed_as_zero_when_no_account_is_flagged(capsys) -> None:
    from trustwatch.cli.train import print_account_figures

    part = {"accounts": 10, "abusive": 5, "auroc": 0.9, "auprc": 0.8}
    nothing = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "flagged": 0}
    figures = {
        "train": {"accounts": 40, "abusive": 20},
        "validation": {**part, "precision": 1.0, "recall": 0.4, "f1": 0.6},
        "test": {**part, **nothing},
        "threshold": 0.7,
        "threshold_rule": "precision",
        "target_precision": 0.99,
        "features_measured": "features",
    }
    figures["validation"]["flagged"] = 2
    capsys.readouterr()
    print_account_figures(figures)
    text = " ".join(capsys.readouterr().out.split())
    assert "precision 0.0000 (no test account flagged), recall 0.0000" in text
