"""``trustwatch evaluate rings`` on the labelled graphs."""

import json
from pathlib import Path

import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main


@pytest.mark.datasets
@pytest.mark.slow
def test_rings_prints_reddit_beside_gadbench_and_writes_reports(
    datasets_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    args = ["evaluate", "rings", "--datasets", str(datasets_dir), "--seeds", "1"]
    assert main([*args, "--out", str(out)]) == ExitCode.OK
    text = capsys.readouterr().out
    assert "| reddit | 10984 | 366 |" in text
    assert "GADBench" in text and "0.702" in text
    assert "| reddit | 10984 | 366 |" in (out / "report.md").read_text()
    reddit = json.loads((out / "report.json").read_text())["datasets"]["reddit"]
    assert reddit["n_anomalies"] == 366
    assert 0.5 < reddit["auroc"]["mean"] <= 1.0
    assert list(reddit["per_seed"]) == ["0"]


def test_rings_needs_a_datasets_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    code = main(["evaluate", "rings", "--datasets", str(missing)])
    assert code != ExitCode.OK
