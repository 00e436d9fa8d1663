"""``trustwatch serve`` settings and ``trustwatch serve token``."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from tests.api.api_world import serve_args
from tests.certificates import self_signed

from trustwatch.api.server import GuardedH11Protocol
from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.review.store import open_review_store
from trustwatch.storage.sqlite import SqliteStore


@pytest.fixture
def served(fake_serving, tmp_path):
    """Run ``serve`` with uvicorn replaced: return what it would have run."""
    calls = fake_serving
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
    base = serve_args(tmp_path)
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
    cert, key = self_signed(tmp_path)
    assert main([*base, "--tls-cert", str(cert)]) == ExitCode.BAD_CONFIG
    both = ["--tls-cert", str(cert), "--tls-key", str(key), "--host", "192.0.2.10"]
    assert main([*base, *both]) == ExitCode.OK
    assert calls[0]["ssl_keyfile"] == str(key)
    assert calls[0]["app"].state.settings.https


def test_serve_refuses_tls_files_it_cannot_use_before_it_serves(
    served, tmp_path, capsys
) -> None:
    base, calls = served
    cert, key = self_signed(tmp_path)
    (tmp_path / "other").mkdir()
    other_cert, _ = self_signed(tmp_path / "other")
    (tmp_path / "not.pem").write_text("x")
    for pair in ((cert, tmp_path / "not.pem"), (other_cert, key)):
        args = ["--tls-cert", str(pair[0]), "--tls-key", str(pair[1])]
        assert main([*base, *args]) == ExitCode.BAD_CONFIG
        err = capsys.readouterr().err
        assert "cannot serve TLS with" in err and "serving on" not in err
    assert calls == []


def test_serve_takes_an_ipv6_address_in_brackets(served) -> None:
    base, calls = served
    assert main([*base, "--host", "[::1]"]) == ExitCode.OK
    assert calls[0]["host"] == "::1"


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


def test_serve_says_it_cannot_take_a_port_held_by_another_program(
    tmp_path, capsys
) -> None:
    SqliteStore(tmp_path / "store.sqlite").close()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code = main([*serve_args(tmp_path), "--port", str(port)])

    err = capsys.readouterr().err
    assert code == ExitCode.BAD_CONFIG
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port 0" in err
    assert "serving on" not in err


def test_serve_on_port_0_names_the_port_it_serves_on(tmp_path) -> None:
    SqliteStore(tmp_path / "store.sqlite").close()
    server = subprocess.Popen(
        [sys.executable, "-m", "trustwatch", *serve_args(tmp_path), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        shown = ""
        deadline = time.monotonic() + 60
        while "serving on" not in shown and time.monotonic() < deadline:
            line = server.stderr.readline()
            if not line:
                break
            shown = line
        found = re.search(r"serving on http://127\.0\.0\.1:(\d+) ", shown)
        assert found, shown
        port = int(found.group(1))
        assert port != 0
        status = None
        while status is None and time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    sock.sendall(
                        b"GET /api/v1/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                        b"Connection: close\r\n\r\n"
                    )
                    status = sock.recv(64).split(b" ")[1]
            except ConnectionRefusedError:  # listening, not yet accepting
                time.sleep(0.1)
        assert status == b"401"  # served, and no route without a token
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)


def test_serve_refuses_an_encrypted_tls_key_without_asking_for_it(
    served, tmp_path, capsys
) -> None:
    from cryptography.hazmat.primitives import serialization

    base, calls = served
    cert, key = self_signed(tmp_path)
    loaded = serialization.load_pem_private_key(key.read_bytes(), password=None)
    locked = tmp_path / "locked.pem"
    locked.write_bytes(
        loaded.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"abcd"),
        )
    )
    args = ["--tls-cert", str(cert), "--tls-key", str(locked)]

    assert main([*base, *args]) == ExitCode.BAD_CONFIG
    err = capsys.readouterr().err
    assert "is encrypted" in err and "serving on" not in err
    assert calls == []


@pytest.mark.parametrize("host", ["", "[::1]:8080", "127.0.0.1:8080", "[::1"])
def test_serve_refuses_a_host_that_is_not_an_address(served, capsys, host) -> None:
    base, calls = served
    assert main([*base, "--host", host]) == ExitCode.BAD_CONFIG
    assert "is not an address; hint: give the address alone" in capsys.readouterr().err
    assert calls == []
