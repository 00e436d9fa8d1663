"""``trustwatch url train / evaluate / score --model`` on a team's own labels."""

import csv
import json

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main


def _write_labels(path, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["url", "label", "time"])
        for row in rows:
            writer.writerow(
                [row.url, row.label, row.time.isoformat() if row.time else ""]
            )


def test_train_then_score_with_the_new_model(tmp_path, capsys, make_corpus):
    labels = tmp_path / "labels.csv"
    _write_labels(labels, make_corpus(size=400))
    model = tmp_path / "models" / "mine.npz"
    args = [
        "url",
        "train",
        "--labelled",
        str(labels),
        "--bits",
        "14",
        "--out",
        str(model),
    ]
    assert main(args) == ExitCode.OK
    assert model.is_file()
    capsys.readouterr()
    urls = [
        "http://paypal.com.verify-7.top/login/signin.php",
        "https://news12.com/blog",
    ]
    assert main(["url", "score", *urls, "--model", str(model), "--json"]) == ExitCode.OK
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["score"] > 0.8 > 0.3 > rows[1]["score"]
    assert rows[0]["reasons"] and rows[0]["baseline"] is not None


def test_evaluate_writes_report_table_and_curve(tmp_path, capsys, make_corpus):
    labels = tmp_path / "labels.csv"
    _write_labels(labels, make_corpus(size=600))
    out = tmp_path / "eval"
    args = [
        "url", "evaluate", "--labelled", str(labels), "--cutoff", "2024-08-01",
        "--bits", "14", "--out", str(out),
    ]  # fmt: skip
    assert main(args) == ExitCode.OK
    assert (out / "pr_curve.png").read_bytes().startswith(b"\x89PNG")
    report = json.loads((out / "report.json").read_text())
    assert [split["name"] for split in report] == ["time", "domain"]
    table = (out / "report.md").read_text()
    assert "| intel lookup |" in table and "| heuristic baseline |" in table
    assert "| model |" in capsys.readouterr().out


def test_bad_settings_are_clear_errors(tmp_path, capsys):
    labels = tmp_path / "labels.csv"
    labels.write_text("url,label\nhttps://a.example/,1\n")
    out = str(tmp_path / "m.npz")
    assert main(["url", "train", "--out", out]) == ExitCode.BAD_CONFIG
    assert "pass --datasets or --labelled" in capsys.readouterr().err
    args = ["url", "train", "--labelled", str(labels), "--bits", "40", "--out", out]
    assert main(args) == ExitCode.BAD_CONFIG
    args = [
        "url",
        "evaluate",
        "--labelled",
        str(labels),
        "--cutoff",
        "soon",
        "--out",
        out,
    ]
    assert main(args) == ExitCode.BAD_CONFIG
    assert "not an ISO date" in capsys.readouterr().err
    assert (
        main(["url", "score", "https://a.example/", "--model", out])
        == ExitCode.BAD_CONFIG
    )


def test_empty_out_and_non_finite_numbers_are_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    labels = tmp_path / "labels.csv"
    labels.write_text("url,label\nhttps://a.example/,1\n")
    for command in ("train", "evaluate"):
        args = ["url", command, "--labelled", str(labels), "--out", ""]
        assert main(args) == ExitCode.BAD_CONFIG
        assert "--out is empty" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv"]
    args = ["url", "train", "--labelled", str(labels), "--regularisation", "nan"]
    assert main([*args, "--out", "m.npz"]) != ExitCode.OK
    assert "not a finite number" in capsys.readouterr().err


def test_evaluate_refuses_to_replace_a_labelled_file(tmp_path, capsys):
    labels = tmp_path / "report.json"
    labels.write_text("url,label\nhttps://a.example/,1\n")
    args = ["url", "evaluate", "--labelled", str(labels), "--out", str(tmp_path)]
    assert main(args) == ExitCode.BAD_CONFIG
    assert "would replace the --labelled" in capsys.readouterr().err
