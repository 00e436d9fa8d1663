"""``url evaluate`` records its recipe; ``url train --metrics`` checks it.

A report's figures belong in a model's card only when the report evaluated
the same recipe: a 400-tree run's figures said nothing about a 20-tree model.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main

RECIPE = ["--bits", "12", "--trees", "10"]


def _labels(path: Path, rows) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["url", "label", "time"])
        for row in rows:
            writer.writerow(
                [row.url, row.label, row.time.isoformat() if row.time else ""]
            )
    return path


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, make_corpus) -> tuple[Path, Path]:
    """A labelled file and the report.json of evaluating RECIPE on it."""
    folder = tmp_path_factory.mktemp("recipe")
    labels = _labels(folder / "labels.csv", make_corpus(size=400))
    out = folder / "eval"
    args = ["url", "evaluate", "--labelled", str(labels), "--cutoff", "2024-08-01"]
    assert main([*args, *RECIPE, "--out", str(out)]) == ExitCode.OK
    return labels, out / "report.json"


def test_the_report_records_the_recipe_of_each_split(evaluated) -> None:
    _, report = evaluated
    splits = json.loads(report.read_text())
    assert [split["name"] for split in splits] == ["time", "domain"]
    for split in splits:
        recipe = split["recipe"]
        assert recipe["settings"]["bits"] == 12
        assert recipe["settings"]["trees"] == 10
        assert recipe["ordinary_paths"] == 0 and recipe["host_pages"] is False


def _train(labels: Path, report: Path, out: Path, *options: str) -> int:
    args = ["url", "train", "--labelled", str(labels), "--metrics", str(report)]
    return main([*args, *options, "--out", str(out)])


def test_a_report_of_the_same_recipe_goes_into_the_card(
    evaluated, tmp_path, capsys
) -> None:
    labels, report = evaluated
    assert _train(labels, report, tmp_path / "m.npz", *RECIPE) == ExitCode.OK
    card = (tmp_path / "m.md").read_text(encoding="utf-8")
    assert "Evaluation of this recipe" in card


@pytest.mark.parametrize(
    ("options", "difference"),
    [
        (["--bits", "12", "--trees", "20"], "trees 10 in the report, 20 here"),
        (["--bits", "14", "--trees", "10"], "bits 12 in the report, 14 here"),
        ([*RECIPE, "--host-pages"], "host_pages False in the report, True here"),
        ([*RECIPE, "--ordinary-paths", "5"], "ordinary_paths 0 in the report, 5"),
    ],
)
def test_a_report_of_another_recipe_is_refused(
    evaluated, tmp_path, capsys, options, difference
) -> None:
    labels, report = evaluated
    out = tmp_path / "m.npz"
    assert _train(labels, report, out, *options) == ExitCode.BAD_CONFIG
    err = " ".join(capsys.readouterr().err.split())
    assert "evaluates another recipe" in err and difference in err
    assert "hint:" in err
    assert not out.exists()


def test_a_report_that_records_no_recipe_is_refused(
    evaluated, tmp_path, capsys
) -> None:
    labels, report = evaluated
    splits = json.loads(report.read_text())
    for split in splits:
        del split["recipe"]
    old = tmp_path / "old_report.json"
    old.write_text(json.dumps(splits))
    assert _train(labels, old, tmp_path / "m.npz", *RECIPE) == ExitCode.BAD_CONFIG
    err = " ".join(capsys.readouterr().err.split())
    assert "no recipe in the report" in err


def test_a_report_of_a_model_records_that_models_recipe(
    evaluated, tmp_path, capsys
) -> None:
    labels, _ = evaluated
    model = tmp_path / "m.npz"
    args = ["url", "train", "--labelled", str(labels), *RECIPE, "--out", str(model)]
    assert main(args) == ExitCode.OK
    out = tmp_path / "eval"
    args = ["url", "evaluate", "--labelled", str(labels), "--model", str(model)]
    assert main([*args, "--out", str(out)]) == ExitCode.OK
    report = out / "report.json"
    (recipe,) = [split["recipe"] for split in json.loads(report.read_text())]
    assert recipe["settings"]["trees"] == 10 and recipe["settings"]["bits"] == 12
    again = tmp_path / "again.npz"
    assert _train(labels, report, again, *RECIPE) == ExitCode.OK
    assert _train(labels, report, again, "--trees", "20") == ExitCode.BAD_CONFIG
    assert "trees 10 in the report, 20 here" in " ".join(
        capsys.readouterr().err.split()
    )
