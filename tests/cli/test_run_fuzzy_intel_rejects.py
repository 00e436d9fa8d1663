"""Bad lines of a ``--fuzzy-intel`` file become dead letters of the run."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.content import fuzzy as fuzzy_module
from trustwatch.content.fuzzy import available_algorithms
from trustwatch.events.model import FileUploaded

pytestmark = pytest.mark.skipif(
    "tlsh" not in available_algorithms(), reason="needs py-tlsh"
)

GOOD_TLSH = "T18592E162DD0C0C4192D8F74799392F3897924EFBF4252C248CAE21AE5D3093D34A6F79"


def test_each_bad_fuzzy_intel_line_is_a_dead_letter(tmp_path: Path, capsys) -> None:
    content = tmp_path / "content"
    content.mkdir()
    data = b"an uploaded file with nothing in it worth a hash match" * 4
    digest = hashlib.sha256(data).hexdigest()
    (content / digest).write_bytes(data)
    fuzzy = tmp_path / "fuzzy.txt"
    fuzzy.write_text(
        "# known samples\n"
        f"tlsh:{GOOD_TLSH} ; a family\n"
        "tlsh:NOTATLSH\n"
        "\n"
        "bogus line\n"
        "tlsh:T1ZZ ; short\n",
        encoding="utf-8",
    )
    events = tmp_path / "events.jsonl"
    upload = FileUploaded(
        event_id="u1",
        ts=datetime(2026, 3, 1, tzinfo=UTC),
        account="mallory",
        file_id="f1",
        sha256=digest,
    )
    events.write_bytes(msgspec.json.encode(upload) + b"\n")
    db = str(tmp_path / "store.sqlite")
    args = ["run", str(events), "--db", db, "--content-dir", str(content)]
    assert main([*args, "--fuzzy-intel", str(fuzzy)]) == ExitCode.OK
    err = capsys.readouterr().err
    assert "3 fuzzy-intel lines were not loaded (1 loaded)" in err
    assert "invalid_fuzzy_hash (2), unknown_fuzzy_algorithm (1)" in err
    assert "3 records could not be read" in err

    assert main(["dead-letters", "--db", db, "--json"]) == ExitCode.OK
    letters = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["location"], d["reason"]) for d in letters] == [
        (f"{fuzzy}:3", "invalid_fuzzy_hash"),
        (f"{fuzzy}:5", "unknown_fuzzy_algorithm"),
        (f"{fuzzy}:6", "invalid_fuzzy_hash"),
    ]
    assert {d["source"] for d in letters} == {str(fuzzy.resolve())}
    assert [d["raw"] for d in letters] == [
        "tlsh:NOTATLSH",
        "bogus line",
        "tlsh:T1ZZ ; short",
    ]
    assert all(d["message"] for d in letters)

    # the same file loaded again adds no new dead letters
    assert main([*args, "--fuzzy-intel", str(fuzzy)]) == ExitCode.OK
    capsys.readouterr()
    assert main(["dead-letters", "--db", db, "--json"]) == ExitCode.OK
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_ssdeep_lines_without_an_ssdeep_library_are_dead_letters(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fuzzy_module, "_ssdeep", None)
    content = tmp_path / "content"
    content.mkdir()
    data = b"an uploaded file with nothing in it worth a hash match" * 4
    digest = hashlib.sha256(data).hexdigest()
    (content / digest).write_bytes(data)
    fuzzy = tmp_path / "fuzzy.txt"
    fuzzy.write_text("ssdeep:3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C\n")
    events = tmp_path / "events.jsonl"
    upload = FileUploaded(
        event_id="u1",
        ts=datetime(2026, 3, 1, tzinfo=UTC),
        account="mallory",
        file_id="f1",
        sha256=digest,
    )
    events.write_bytes(msgspec.json.encode(upload) + b"\n")
    db = str(tmp_path / "store.sqlite")
    args = ["run", str(events), "--db", db, "--content-dir", str(content)]
    assert main([*args, "--fuzzy-intel", str(fuzzy)]) == ExitCode.OK
    err = " ".join(capsys.readouterr().err.split())
    assert "1 fuzzy-intel lines were not loaded (0 loaded)" in err
    assert "fuzzy_hash_unavailable (1)" in err and "pydeep2" in err
    assert main(["dead-letters", "--db", db, "--json"]) == ExitCode.OK
    [letter] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (letter["location"], letter["reason"]) == (
        f"{fuzzy}:1",
        "fuzzy_hash_unavailable",
    )
