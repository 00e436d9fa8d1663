"""``trustwatch intel show`` says when a record is not valid yet."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import cli


def _indicator(number: int, value: str, valid_from: str) -> dict[str, object]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{number:012d}",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "valid_from": valid_from,
        "pattern": f"[domain-name:value = '{value}']",
        "pattern_type": "stix",
    }


def test_show_says_a_record_valid_from_a_later_time_is_not_yet_valid(
    tmp_path: Path,
) -> None:
    start = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    bundle = tmp_path / "bundle.json"
    bundle.write_text(
        json.dumps(
            [
                _indicator(1, "later.example", start.strftime("%Y-%m-%dT%H:%M:%SZ")),
                _indicator(2, "now.example", "2026-01-01T00:00:00Z"),
            ]
        )
    )
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nname = "s"\npath = "{bundle}"\nformat = "stix21"\n')
    db = str(tmp_path / "intel.sqlite")
    runner = CliRunner()
    synced = runner.invoke(cli, ["intel", "sync", "--feeds", str(feeds), "--db", db])
    assert synced.exit_code == ExitCode.OK, synced.output
    later = runner.invoke(cli, ["intel", "show", "later.example", "--db", db])
    assert later.exit_code == ExitCode.OK
    assert f"not yet valid: matches from {start:%Y-%m-%d %H:%M:%S} UTC" in later.stdout
    current = runner.invoke(cli, ["intel", "show", "now.example", "--db", db])
    assert current.exit_code == ExitCode.OK
    assert "now.example" in current.stdout and "not yet valid" not in current.stdout
