"""``run --intel``: a URL is refused clearly, one bad record costs only itself.

Messages name the command line's own flag (``--intel-format``), never the
library's ``format=``.
"""

from __future__ import annotations

import json
from pathlib import Path

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main

DEEP = '{"a":' * 1000 + "1" + "}" * 1000
EVENT = {
    "type": "url_posted",
    "event_id": "e1",
    "ts": "2026-03-01T12:00:00Z",
    "account": "acct1",
    "ip": "203.0.113.5",
    "url": "http://evil.example.org/login",
}


def _events(tmp_path: Path) -> str:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(EVENT) + "\n")
    return str(path)


def _deep_stix(tmp_path: Path) -> str:
    indicator = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--00000001-1111-4111-8111-111111111111",
        "created": "2026-02-01T00:00:00Z",
        "modified": "2026-02-01T00:00:00Z",
        "pattern": "[domain-name:value = 'deep.example']",
        "pattern_type": "stix",
        "valid_from": "2026-02-01T00:00:00Z",
        "x_deep": "__DEEP__",
    }
    bundle = json.dumps({"type": "bundle", "id": "bundle--1", "objects": [indicator]})
    path = tmp_path / "deep.json"
    path.write_text(bundle.replace('"__DEEP__"', DEEP))
    return str(path)


def test_an_intel_url_is_refused_with_the_way_to_sync_it(tmp_path: Path, capsys):
    db = str(tmp_path / "store.sqlite")
    url = "http://127.0.0.1:1/x.txt"
    code = main(["run", _events(tmp_path), "--db", db, "--intel", url])
    err = " ".join(capsys.readouterr().err.split())
    assert code == ExitCode.BAD_CONFIG
    assert f"--intel takes files, folders or globs, not URLs: {url}" in err
    assert "trustwatch intel sync" in err and "--intel-db" in err
    assert not Path(db).exists()


def test_an_object_nested_too_deeply_does_not_stop_the_run(tmp_path: Path, capsys):
    good = tmp_path / "good.txt"
    good.write_text("evil.example.org\n")
    db = str(tmp_path / "store.sqlite")
    args = ["run", _events(tmp_path), "--db", db, "--intel", str(good)]
    assert main([*args, "--intel", _deep_stix(tmp_path)]) == ExitCode.OK
    assert "1 records could not be read" in capsys.readouterr().err

    assert main(["dead-letters", "--db", db, "--json"]) == ExitCode.OK
    letters = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["location"], d["reason"]) for d in letters] == [
        ("deep.json:object 1", "too_deep")
    ]


def test_intel_errors_name_the_intel_format_flag(tmp_path: Path, capsys):
    broken = tmp_path / "broken.json"
    broken.write_text("[1")
    db = str(tmp_path / "store.sqlite")
    args = ["run", _events(tmp_path), "--db", db, "--intel", str(broken)]
    assert main([*args, "--intel-format", "stix21"]) == ExitCode.BAD_INPUT
    err = " ".join(capsys.readouterr().err.split())
    assert "pass the right --intel-format" in err
    assert "format=" not in err


def test_a_path_holding_format_equals_is_named_as_it_is(tmp_path, capsys) -> None:
    folder = tmp_path / "source=x" / "format=v2"
    folder.mkdir(parents=True)
    (folder / "feed.json").write_text('{"hello": 1}\n')
    events = tmp_path / "events.jsonl"
    events.write_text("")
    code = main(
        ["run", str(events), "--intel", str(folder / "feed.json"),
         "--db", str(tmp_path / "s.sqlite"), "--no-geo"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code != ExitCode.OK
    assert "format=v2" in err.replace("\n", "") and "--intel-formatv2" not in err
    assert "--intel-format" in err
