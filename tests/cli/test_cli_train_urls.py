"""``trustwatch train urls``: file labels checked as ``url train`` checks them."""

from __future__ import annotations

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.review.store import SqliteReviewStore


def _review_db(tmp_path):
    path = tmp_path / "review.sqlite"
    with SqliteReviewStore(path):
        pass
    return path


def test_a_url_labelled_both_ways_in_a_file_is_refused(tmp_path, capsys) -> None:
    labelled = tmp_path / "conflict.csv"
    rows = ["url,label"]
    rows += [f"http://bad{n}.example/verify/login.php,1" for n in range(12)]
    rows += [f"https://good{n}.example/news/item-{n},0" for n in range(12)]
    rows.append("http://bad3.example/verify/login.php,0")
    labelled.write_text("\n".join(rows) + "\n")
    out = tmp_path / "model.npz"
    argv = ["train", "urls", "--review-db", str(_review_db(tmp_path))]
    status = main([*argv, "--labelled", str(labelled), "--out", str(out)])
    assert status == ExitCode.BAD_CONFIG
    assert "labelled both malicious and benign" in capsys.readouterr().err
    assert not out.exists()


def test_the_data_card_names_the_files_trained_on(tmp_path, capsys) -> None:
    labelled = tmp_path / "mine.csv"
    rows = ["url,label"]
    rows += [f"http://bad{n}.example/verify/login.php,1" for n in range(12)]
    rows += [f"https://good{n}.example/news/item-{n},0" for n in range(20)]
    labelled.write_text("\n".join(rows) + "\n")
    out = tmp_path / "model.npz"
    argv = ["train", "urls", "--review-db", str(_review_db(tmp_path))]
    assert main([*argv, "--labelled", str(labelled), "--out", str(out)]) == 0
    card = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "| mine.csv | malicious | 12 |" in card
    assert "| mine.csv | benign | 20 |" in card
    assert "review-labels" not in card
    assert "trustwatch train urls --review-db REVIEW_DB --labelled mine.csv" in card
