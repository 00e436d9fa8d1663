"""Plain-text files: the URLs written in them."""

from __future__ import annotations

import json
from pathlib import Path

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.content import extract_content
from trustwatch.content.extract import sniff_kind

NOTE = (
    b"Your mailbox is full. Sign in at https://mail-login.example.net/verify?id=7.\n"
    b"Reported elsewhere: hxxp://defanged[.]example/x (not a link anyone follows)\n"
    b"Support: (https://help.example.com/contact)\n"
)


def test_a_text_file_is_known_by_its_name_or_type() -> None:
    assert sniff_kind(b"hello", name="notes.TXT") == "text"
    assert sniff_kind(b"hello", mime_type="text/plain; charset=utf-8") == "text"
    # markup still wins over the name
    assert sniff_kind(b"<html><body>x</body></html>", name="page.txt") == "html"


def test_the_urls_written_out_are_found_and_defanged_ones_are_not() -> None:
    found = extract_content(NOTE, name="note.txt")
    assert found.kind == "text"
    assert [(u.url, u.where) for u in found.urls] == [
        ("https://mail-login.example.net/verify?id=7", "text_url"),
        ("https://help.example.com/contact", "text_url"),
    ]
    assert found.errors == ()


def test_utf16_and_bytes_that_are_not_utf8() -> None:
    utf16 = "see https://a.example/x".encode("utf-16")
    assert [u.url for u in extract_content(utf16, name="a.txt").urls] == [
        "https://a.example/x"
    ]
    broken = extract_content(b"\x80 https://b.example/", name="b.txt")
    assert [u.url for u in broken.urls] == ["https://b.example/"]
    assert [e.split(":")[0] for e in broken.errors] == ["invalid_utf8"]


def test_file_scan_scores_the_links_of_a_text_file(tmp_path: Path, capsys) -> None:
    note = tmp_path / "note.txt"
    note.write_bytes(
        b"Verify now: https://paypal.com.secure-login.example/webscr?cmd=x\n"
    )
    assert main(["file", "scan", str(note), "--json"]) == ExitCode.OK
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["kind"] == "text"
    (url,) = row["urls"]
    assert url["where"] == "text_url" and url["score"] >= 0.5
    # one link and nothing else: the file is a lure for it
    assert "file_lure_document" in [f["kind"] for f in row["findings"]]


def test_reading_stops_at_the_url_limit() -> None:
    many = "\n".join(f"https://h{n}.example/p" for n in range(100)).encode()
    found = extract_content(many, name="links.txt", max_urls=5)
    assert [u.url for u in found.urls] == [f"https://h{n}.example/p" for n in range(5)]
    assert found.truncated
