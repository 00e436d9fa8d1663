"""``trustwatch file rules`` and ``trustwatch run --yara --fuzzy-intel``, end to end."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.events.model import FileUploaded

RULES = """
rule EICAR_Test_File { meta: score = 90
    strings: $e = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!" condition: $e }
rule Needs_Missing_Module { condition: missing_module.value == 1 }
"""


def eicar() -> bytes:
    """The EICAR anti-virus test file, assembled here so no file holds it whole."""
    head = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
    tail = "EICAR-STANDARD-" + "ANTIVIRUS-TEST-FILE!$H+H*"
    return (head + tail).encode("ascii")


def test_file_rules_prints_counts_and_reasons(tmp_path: Path, capsys) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "test.yar").write_text(RULES, encoding="utf-8")
    assert main(["file", "rules", str(rules), "--rejects"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "1 rules compiled, 1 rejected, from 1 files" in out
    assert 'undefined identifier "missing_module"' in out
    assert "test.yar:4: Needs_Missing_Module" in out


def test_file_rules_exits_1_on_rejects_only_when_strict(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "test.yar").write_text(RULES, encoding="utf-8")
    assert main(["file", "rules", str(rules)]) == ExitCode.OK
    assert main(["file", "rules", str(rules), "--strict"]) == 1
    (rules / "test.yar").write_text(RULES.split("rule Needs")[0], encoding="utf-8")
    assert main(["file", "rules", str(rules), "--strict"]) == ExitCode.OK


def test_file_rules_json_has_counts_rejects_and_duplicate_names(
    tmp_path: Path, capsys
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "test.yar").write_text(RULES, encoding="utf-8")
    (rules / "copy.yar").write_text(RULES.split("rule Needs")[0], encoding="utf-8")
    assert main(["file", "rules", str(rules), "--json"]) == ExitCode.OK
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert (report["compiled"], report["rejected"], report["files"]) == (2, 1, 2)
    [reject] = report["rejects"]
    assert reject["file"].endswith("test.yar") and reject["line"] == 4
    assert reject["rule"] == "Needs_Missing_Module"
    assert "missing_module" in reject["reason"]
    assert report["reasons"] == {reject["reason"]: 1}
    [duplicate] = report["duplicate_names"]
    assert duplicate["name"] == "EICAR_Test_File"
    assert [Path(f).name for f in duplicate["files"]] == ["copy.yar", "test.yar"]


def test_file_rules_text_names_duplicates_across_files(tmp_path: Path, capsys) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a.yar").write_text(RULES.split("rule Needs")[0], encoding="utf-8")
    (rules / "b.yar").write_text(RULES.split("rule Needs")[0], encoding="utf-8")
    assert main(["file", "rules", str(rules)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "1 rule name is defined in more than one file" in out
    assert "EICAR_Test_File (2 files:" in out


def test_file_rules_refuses_a_path_without_rules(tmp_path: Path, capsys) -> None:
    assert main(["file", "rules", str(tmp_path / "none")]) == ExitCode.BAD_CONFIG
    assert "no YARA rule file" in capsys.readouterr().err


def test_run_with_yara_quarantines_an_eicar_upload(tmp_path: Path, capsys) -> None:
    content = tmp_path / "content"
    content.mkdir()
    digest = hashlib.sha256(eicar()).hexdigest()
    (content / digest).write_bytes(eicar())
    (tmp_path / "test.yar").write_text(RULES, encoding="utf-8")
    (tmp_path / "fuzzy.txt").write_text("# nothing known yet\n", encoding="utf-8")
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
    yara_args = ["--yara", str(tmp_path / "test.yar")]
    fuzzy_args = ["--fuzzy-intel", str(tmp_path / "fuzzy.txt")]
    assert main([*args, *yara_args, *fuzzy_args]) == ExitCode.OK
    captured = capsys.readouterr()
    assert "1 YARA rules or file parts were rejected (1 loaded)" in captured.err
    assert main(["alerts", "--db", db, "--kind", "yara_match", "--json"]) == 0
    verdicts = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(v["event_id"], v["decision"]) for v in verdicts] == [
        ("u1", "quarantine_file")
    ]


def test_yara_without_a_content_dir_is_refused(tmp_path: Path, capsys) -> None:
    (tmp_path / "test.yar").write_text(RULES, encoding="utf-8")
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"")
    code = main(["run", str(events), "--yara", str(tmp_path / "test.yar")])
    assert code == ExitCode.BAD_CONFIG
    assert "--content-dir" in capsys.readouterr().err


SLOW_RULES = """
rule Quick { strings: $q = "QUICK" condition: $q }
rule SlowDot { strings: $r = /.*.*.*a/ condition: $r }
"""


def test_file_rules_names_the_rules_yara_warns_are_slow(tmp_path: Path, capsys) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "slow.yar").write_text(SLOW_RULES, encoding="utf-8")
    assert main(["file", "rules", str(rules)]) == ExitCode.OK
    out = " ".join(capsys.readouterr().out.split())  # as if never wrapped
    assert "2 rules compiled, 0 rejected" in out
    assert "1 rule holds a string YARA warns may slow scanning down" in out
    assert "SlowDot (" in out and 'string "$r" may slow down scanning' in out
    assert main(["file", "rules", str(rules), "--json"]) == ExitCode.OK
    report = json.loads(capsys.readouterr().out)
    assert report["slow"] == 1
    [slow] = report["slow_rules"]
    assert slow["rule"] == "SlowDot" and slow["file"].endswith("slow.yar")
    assert "slow down scanning" in slow["warning"]


def test_file_rules_strict_accepts_a_file_starting_with_a_byte_order_mark(
    tmp_path: Path, capsys
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    good = RULES.split("rule Needs")[0]
    (rules / "bom.yar").write_bytes(b"\xef\xbb\xbf" + good.encode("utf-8"))
    assert main(["file", "rules", str(rules), "--strict"]) == ExitCode.OK
    assert "1 rules compiled, 0 rejected" in capsys.readouterr().out
