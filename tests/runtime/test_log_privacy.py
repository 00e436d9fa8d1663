"""Logs carry ids and counts, never raw content or personal data."""

import logging
from datetime import UTC, datetime

import msgspec

from trustwatch.events.model import FileUploaded, Login, UrlPosted
from trustwatch.runtime.embedded import load_intel, run_embedded
from trustwatch.storage.sqlite import SqliteStore

SECRETS = ("alice.private", "198.51.100.77", "secret-token-path", "hunter2-file")


def test_debug_logs_of_a_run_hold_no_personal_data(tmp_path, caplog):
    t0 = datetime(2026, 2, 1, tzinfo=UTC)
    events = [
        Login(
            event_id=f"l{i}",
            ts=t0,
            account="alice.private",
            username="alice.private",
            ip="198.51.100.77",
            success=False,
        )
        for i in range(12)
    ]
    events.append(
        UrlPosted(
            event_id="u",
            ts=t0,
            account="alice.private",
            url="http://198.51.100.77/secret-token-path/x.exe",
        )
    )
    events.append(
        FileUploaded(
            event_id="f",
            ts=t0,
            account="alice.private",
            file_id="f1",
            name="hunter2-file.pdf",
            sha256="0" * 64,
        )
    )
    path = tmp_path / "e.jsonl"
    lines = [msgspec.json.encode(e) for e in events]
    lines.append(b'{"type":"login","event_id":"bad","account":"alice.private"')
    path.write_bytes(b"\n".join(lines) + b"\n")
    intel = tmp_path / "intel.txt"
    intel.write_text("198.51.100.77\nhttp://198.51.100.77/secret-token-path/x.exe\n")

    with (
        caplog.at_level(logging.DEBUG, logger="trustwatch"),
        SqliteStore(tmp_path / "s.sqlite") as store,
    ):
        summary = run_embedded([path], store, intel=load_intel([intel]))
    assert summary.verdicts > 0 and summary.dead_letters == 1
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert caplog.records
    for secret in SECRETS:
        assert secret not in text
