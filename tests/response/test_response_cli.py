"""`trustwatch dispatch` and `trustwatch actions` round trip on a store file."""

from __future__ import annotations

import json
from pathlib import Path

from response_rig import make_action

from trustwatch.cli.main import main
from trustwatch.storage.sqlite import SqliteStore


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_dispatch_list_show_reverse_round_trip(tmp_path: Path, capsys) -> None:
    db = tmp_path / "store.db"
    log = tmp_path / "actions.jsonl"
    with SqliteStore(db) as store:
        store.write_actions(
            [make_action(1), make_action(2), make_action(3, mode="dry_run")]
        )
    config = tmp_path / "response.toml"
    config.write_text(
        f'[adapters.audit]\nkind = "log"\npath = "{log}"\n\n'
        '[routes]\ndefault = "audit"\n'
    )

    assert main(["dispatch", "--config", str(config), "--db", str(db), "--once"]) == 0
    summary = _json_lines(capsys.readouterr().out)[-1]
    assert summary["dispatched"] == 2
    assert len(log.read_text().splitlines()) == 2

    assert main(["actions", "list", "--json", "--db", str(db)]) == 0
    listed = _json_lines(capsys.readouterr().out)
    assert sorted(row["action_id"] for row in listed) == [
        "act-lock-stuffed-00001",
        "act-lock-stuffed-00002",
    ]
    assert {row["state"] for row in listed} == {"dispatched"}

    assert (
        main(
            [
                "actions",
                "reverse",
                "act-lock-stuffed-00001",
                "--actor",
                "ana",
                "--reason",
                "owner confirmed",
                "--db",
                str(db),
            ]
        )
        == 0
    )
    assert "reversal queued" in capsys.readouterr().out
    assert main(["dispatch", "--config", str(config), "--db", str(db), "--once"]) == 0
    assert _json_lines(capsys.readouterr().out)[-1]["reversals_sent"] == 1

    assert (
        main(["actions", "list", "--state", "reversed", "--json", "--db", str(db)]) == 0
    )
    [reversed_row] = _json_lines(capsys.readouterr().out)
    assert reversed_row["action_id"] == "act-lock-stuffed-00001"

    assert main(["actions", "show", "act-lock-stuffed-00001", "--db", str(db)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["dispatch"]["state"] == "reversed"
    assert shown["reversal"]["actor"] == "ana"
    assert shown["reversal"]["reason"] == "owner confirmed"
    assert shown["action"]["actor"] == "policy:test@1#lock-stuffed"

    assert (
        main(
            [
                "actions",
                "reverse",
                "act-lock-stuffed-00003",
                "--actor",
                "ana",
                "--reason",
                "x",
                "--db",
                str(db),
            ]
        )
        != 0
    )
    assert "dry_run" in capsys.readouterr().err


def test_dispatch_refuses_a_bad_config_with_a_hint(tmp_path: Path, capsys) -> None:
    db = tmp_path / "store.db"
    SqliteStore(db).close()
    config = tmp_path / "response.toml"
    config.write_text('[adapters.audit]\nkind = "log"\n\n[routes]\nlock = "audit"\n')
    status = main(["dispatch", "--config", str(config), "--db", str(db), "--once"])
    assert status != 0
    assert "hint:" in capsys.readouterr().err
