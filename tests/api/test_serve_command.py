"""``trustwatch serve`` settings and ``trustwatch serve token``."""

from __future__ import annotations

import json

import pytest

from trustwatch.api.server import GuardedH11Protocol
from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.review.store import open_review_store
from trustwatch.storage.sqlite import SqliteStore


@pytest.fixture
def served(monkeypatch, tmp_path):
    """Run ``serve`` with uvicorn replaced: return what it would have run."""
    import uvicorn

    calls: list[dict] = []

    def fake_run(app, **options):
        calls.append({"app": app, **options})

    monkeypatch.setattr(uvicorn, "run", fake_run)
    SqliteStore(tmp_path / "store.sqlite").close()
    assert (
        main(
            [
                "serve",
                "token",
                "add",
                "ops",
                "--role",
                "admin",
                "--tokens",
                str(tmp_path / "tokens.json"),
            ]
        )
        == ExitCode.OK
    )
    base = [
        "serve",
        "--db",
        str(tmp_path / "store.sqlite"),
        "--review-db",
        str(tmp_path / "review.sqlite"),
        "--tokens",
        str(tmp_path / "tokens.json"),
    ]
    return base, calls


def test_serve_binds_loopback_by_default(served) -> None:
    base, calls = served
    assert main(base) == ExitCode.OK
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 8080
    assert calls[0]["ssl_certfile"] is None and calls[0]["access_log"] is False
    assert calls[0]["app"].state.policy.rules
    # slow request heads are cut off, and connections capped
    assert issubclass(calls[0]["http"], GuardedH11Protocol)
    assert calls[0]["limit_concurrency"] == 512


def test_serve_refuses_plain_http_on_other_addresses(served, capsys) -> None:
    base, calls = served
    assert main([*base, "--host", "0.0.0.0"]) == ExitCode.BAD_CONFIG
    assert "--tls-cert" in capsys.readouterr().err
    assert calls == []
    assert main([*base, "--host", "0.0.0.0", "--insecure-bind"]) == ExitCode.OK
    assert calls[0]["host"] == "0.0.0.0"


def test_serve_refuses_a_damaged_token_file_before_it_starts(
    served, tmp_path, capsys
) -> None:
    base, calls = served
    for damaged in ("{bad", "[" * 100_000):
        (tmp_path / "tokens.json").write_text(damaged)
        assert main(base) == ExitCode.BAD_CONFIG
        assert "token file" in capsys.readouterr().err
    assert calls == []


def test_serve_warns_that_a_missing_token_file_accepts_no_token(
    served, tmp_path, capsys
) -> None:
    base, calls = served
    (tmp_path / "tokens.json").unlink()
    assert main(base) == ExitCode.OK
    assert "does not exist: no API token is accepted" in capsys.readouterr().err
    assert len(calls) == 1


def test_serve_needs_both_tls_files(served, tmp_path) -> None:
    base, calls = served
    (tmp_path / "cert.pem").write_text("x")
    assert main([*base, "--tls-cert", str(tmp_path / "cert.pem")]) == (
        ExitCode.BAD_CONFIG
    )
    (tmp_path / "key.pem").write_text("x")
    both = [
        "--tls-cert",
        str(tmp_path / "cert.pem"),
        "--tls-key",
        str(tmp_path / "key.pem"),
        "--host",
        "192.0.2.10",
    ]
    assert main([*base, *both]) == ExitCode.OK
    assert calls[0]["ssl_keyfile"] == str(tmp_path / "key.pem")
    assert calls[0]["app"].state.settings.https


def test_serve_reads_trustwatch_environment(served, monkeypatch, tmp_path) -> None:
    _, calls = served
    monkeypatch.setenv("TRUSTWATCH_DB", str(tmp_path / "store.sqlite"))
    monkeypatch.setenv("TRUSTWATCH_REVIEW_DB", str(tmp_path / "review.sqlite"))
    monkeypatch.setenv("TRUSTWATCH_TOKENS", str(tmp_path / "tokens.json"))
    monkeypatch.setenv("TRUSTWATCH_PORT", "9191")
    monkeypatch.setenv("TRUSTWATCH_MAX_CONNECTIONS", "64")
    assert main(["serve"]) == ExitCode.OK
    assert calls[0]["port"] == 9191 and calls[0]["limit_concurrency"] == 64


def test_serve_explains_missing_settings(served, tmp_path, capsys) -> None:
    base, _ = served
    assert main(base[:3] + base[5:]) == ExitCode.BAD_CONFIG
    assert "--review-db" in capsys.readouterr().err
    no_tokens = base[:5]
    assert main(no_tokens) == ExitCode.BAD_CONFIG
    assert "token add" in capsys.readouterr().err
    missing = ["serve", "--db", str(tmp_path / "none.sqlite"), *base[3:]]
    assert main(missing) != ExitCode.OK


def test_token_commands_show_a_token_once_and_audit_changes(tmp_path, capsys) -> None:
    tokens = str(tmp_path / "t.json")
    review = str(tmp_path / "review.sqlite")
    args = ["--tokens", tokens, "--review-db", review, "--actor", "ops"]
    assert main(["serve", "token", "add", "alice", "--role", "analyst", *args]) == 0
    shown = capsys.readouterr().out.strip()
    assert shown.startswith("tw_") and len(shown) > 40
    assert shown not in (tmp_path / "t.json").read_text()
    assert main(["serve", "token", "list", "--tokens", tokens]) == 0
    listed = capsys.readouterr().out
    assert "alice" in listed and "analyst" in listed and shown not in listed
    again = ["serve", "token", "add", "alice", "--role", "viewer", *args]
    assert main(again) == ExitCode.BAD_CONFIG
    assert main(["serve", "token", "revoke", "alice", *args]) == 0
    assert main(["serve", "token", "revoke", "alice", *args]) == ExitCode.BAD_CONFIG
    assert json.loads((tmp_path / "t.json").read_text())["tokens"] == []
    with open_review_store(review) as store:
        entries = store.audit_log()
    assert [(e.action, e.actor, e.target) for e in entries] == [
        ("token.revoke", "ops", "alice"),
        ("token.add", "ops", "alice"),
    ]
