"""`trustwatch dispatch` and `trustwatch actions` on a PostgreSQL decision store,
sending through a signed webhook on loopback."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from response_rig import WEBHOOK_SECRET, Webhook, make_action

from trustwatch.cli.main import main
from trustwatch.storage.postgres import PostgresStore


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_dispatch_over_postgres_sends_expires_and_reverses(
    postgres_store_target, webhook: Webhook, tmp_path: Path, capsys, monkeypatch
) -> None:
    dsn, schema = postgres_store_target
    now = datetime.now(UTC)
    fresh = make_action(1, created_at=now - timedelta(minutes=1))
    stale = make_action(
        2, created_at=now - timedelta(hours=2), expires=timedelta(hours=1)
    )
    with PostgresStore(dsn, schema=schema) as store:
        store.write_actions([fresh, stale, make_action(3, mode="dry_run")])
    config = tmp_path / "response.toml"
    config.write_text(
        f'[adapters.platform]\nkind = "webhook"\nurl = "{webhook.url}"\n'
        'secret_env = "TEST_WEBHOOK_SECRET"\n\n[routes]\ndefault = "platform"\n'
    )
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    store_args = ["--db", dsn, "--db-schema", schema]
    dispatch = ["dispatch", "--config", str(config), *store_args, "--once"]

    assert main(dispatch) == 0
    summary = _json_lines(capsys.readouterr().out)[-1]
    assert (summary["dispatched"], summary["expired"]) == (1, 1)
    sent = [json.loads(r["body"]) for r in webhook.requests]
    assert [(s["operation"], s["action_id"]) for s in sent] == [
        ("apply", fresh.action_id)
    ]

    assert main(["actions", "list", "--json", *store_args]) == 0
    states = {r["action_id"]: r["state"] for r in _json_lines(capsys.readouterr().out)}
    assert states == {fresh.action_id: "dispatched", stale.action_id: "expired"}

    reverse = ["actions", "reverse", fresh.action_id, "--actor", "ana"]
    assert main([*reverse, "--reason", "owner confirmed", *store_args]) == 0
    assert "reversal queued" in capsys.readouterr().out
    assert main(dispatch) == 0
    assert _json_lines(capsys.readouterr().out)[-1]["reversals_sent"] == 1
    assert main(dispatch) == 0
    assert _json_lines(capsys.readouterr().out)[-1]["reversals_sent"] == 0
    operations = [json.loads(r["body"])["operation"] for r in webhook.requests]
    assert operations == ["apply", "reverse"]

    assert main(["actions", "show", fresh.action_id, *store_args]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["dispatch"]["state"] == "reversed"
    assert (shown["reversal"]["actor"], shown["reversal"]["reason"]) == (
        "ana",
        "owner confirmed",
    )


def test_an_unreachable_store_is_refused_without_showing_its_password(capsys) -> None:
    # a loopback listener of our own that hangs up on every connection
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        hang_up = threading.Thread(target=lambda: listener.accept()[0].close())
        hang_up.start()
        dsn = f"postgresql://postgres:sup3r-secret-pw@127.0.0.1:{port}/test"
        status = main(["actions", "list", "--db", dsn])
        hang_up.join()
    err = capsys.readouterr().err
    assert status != 0
    assert "sup3r-secret-pw" not in err
    assert "hint:" in err
