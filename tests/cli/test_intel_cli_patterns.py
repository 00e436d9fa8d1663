"""``intel match`` and ``url score`` with STIX pattern indicators and validity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import cli, main


def _indicator(n: int, pattern: str, valid_from: str) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
        "created": "2026-11-01T00:00:00.000Z",
        "modified": "2026-11-01T00:00:00.000Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": valid_from,
    }


def _bundle(tmp_path: Path) -> Path:
    chain = "[" + "domain-name:value = 'c.example.com' AND " * 600
    objects = [
        _indicator(
            1, "[url:value LIKE 'http://like.example.com/%']", "2026-11-01T00:00:00Z"
        ),
        _indicator(
            2, "[domain-name:value = 'future.example.com']", "2999-06-01T00:00:00Z"
        ),
        _indicator(
            3, chain + "domain-name:value = 'end.example.com']", "2026-11-01T00:00:00Z"
        ),
        _indicator(4, "[domain-name:value LIKE '%']", "2026-11-01T00:00:00Z"),
    ]
    path = tmp_path / "bundle.json"
    bundle = {"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000009"}
    path.write_text(json.dumps({**bundle, "objects": objects}))
    return path


def test_intel_match_consults_pattern_indicators_after_sync(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nname = "pat"\npath = "{bundle}"\n')
    db = str(tmp_path / "intel.sqlite")
    runner = CliRunner()
    synced = runner.invoke(cli, ["intel", "sync", "--feeds", str(feeds), "--db", db])
    assert synced.exit_code == ExitCode.OK, synced.output
    args = ["intel", "match", "--db", db, "--json"]
    urls = ["http://like.example.com/abc", "http://future.example.com/"]
    result = runner.invoke(cli, [*args, *urls], catch_exceptions=False)
    assert result.exit_code == ExitCode.OK
    found = json.loads(result.stdout)
    assert [m["matched_on"] for m in found[urls[0]]] == ["pattern"]
    assert found[urls[0]][0]["sources"][0]["reference"].endswith("000000000001")
    assert found[urls[1]] == []
    other = runner.invoke(cli, [*args, "http://ok.example.com/"])
    assert json.loads(other.stdout) == {"http://ok.example.com/": []}


def test_intel_match_consults_patterns_for_addresses_and_host_names(
    tmp_path: Path,
) -> None:
    pattern = (
        "[ipv4-addr:value ISSUBSET '203.0.113.0/24'] OR "
        "[domain-name:value LIKE '%.orpart.example']"
    )
    bundle = tmp_path / "bundle.json"
    objects = [_indicator(5, pattern, "2026-11-01T00:00:00Z")]
    bundle.write_text(
        json.dumps({"type": "bundle", "id": "bundle--1", "objects": objects})
    )
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nname = "pat"\npath = "{bundle}"\n')
    db = str(tmp_path / "intel.sqlite")
    runner = CliRunner()
    synced = runner.invoke(cli, ["intel", "sync", "--feeds", str(feeds), "--db", db])
    assert synced.exit_code == ExitCode.OK, synced.output

    values = ["203.0.113.9", "x.orpart.example", "198.51.100.1", "orpart.example"]
    result = runner.invoke(cli, ["intel", "match", "--db", db, "--json", *values])

    found = json.loads(result.stdout)
    hits = {value: [m["matched_on"] for m in found[value]] for value in values}
    assert hits == {
        "203.0.113.9": ["pattern"],
        "x.orpart.example": ["pattern"],
        "198.51.100.1": [],
        "orpart.example": [],
    }


def test_url_score_matches_patterns_and_survives_hostile_ones(
    tmp_path: Path, capsys: Any
) -> None:
    bundle = _bundle(tmp_path)
    urls = [
        "http://like.example.com/abc",
        "http://future.example.com/",
        "http://ok.example.com/",
    ]
    assert (
        main(["url", "score", *urls, "--intel", str(bundle), "--json"]) == ExitCode.OK
    )
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [row["intel"] for row in rows] == [["pattern listed by bundle"], [], []]
    assert "1 intel records could not be read" in captured.err
