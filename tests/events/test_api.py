"""Pin the public API of trustwatch.events."""

from __future__ import annotations

import trustwatch.events as events


def test_public_names_are_pinned() -> None:
    assert sorted(events.__all__) == sorted(
        [
            "EVENT_TYPES", "SCHEMA_VERSION", "AccountCreated", "ApiTokenCreated",
            "AuthLogParser", "AuthLogStats", "DeadLetter", "EmailChanged", "Event",
            "EventBase", "EventDecoder", "FileDownloaded", "FileShared", "FileUploaded",
            "LinkAccessed", "LinkCreated", "Login", "Logout", "MfaChanged",
            "PasswordChanged", "UrlPosted", "arrow_schema", "json_schema",
            "parse_auth_log", "parse_timestamp", "parse_timestamp_flags",
            "read_auth_log", "read_events", "resolve_inputs", "type_name",
            "write_events_jsonl",
            "write_events_parquet",
        ]
    )  # fmt: skip


def test_every_public_name_exists() -> None:
    for name in events.__all__:
        assert getattr(events, name) is not None, name


def test_importing_events_does_not_import_pyarrow() -> None:
    import subprocess
    import sys

    code = "import sys, trustwatch.events; print('pyarrow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
