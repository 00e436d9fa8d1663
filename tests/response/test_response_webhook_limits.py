"""Webhook limits: a whole-request deadline, Retry-After, URL and secret
checks, timeout and budget settings, and where `dispatch --once` reports."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from response_rig import WEBHOOK_SECRET, Webhook, make_action

from trustwatch.cli.main import main
from trustwatch.errors import ConfigError
from trustwatch.response.adapters import (
    AdapterError,
    Delivery,
    WebhookAdapter,
    build_adapters,
)
from trustwatch.response.config import response_config_from_dict
from trustwatch.storage.sqlite import SqliteStore


@pytest.fixture
def dripping() -> Iterator[str]:
    """A loopback platform that answers 200 and then one body byte at a time."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "40")
            self.end_headers()
            for _ in range(40):
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.2)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/actions"
    finally:
        server.shutdown()
        server.server_close()


def _delivery() -> Delivery:
    action = make_action(1)
    return Delivery(action.action_id, "apply", action, action.actor, "r")


def test_a_dripping_answer_ends_at_the_whole_request_deadline(
    dripping: str,
) -> None:
    adapter = WebhookAdapter("platform", dripping, WEBHOOK_SECRET.encode(), timeout=1)
    started = time.monotonic()
    with pytest.raises(AdapterError) as raised:
        adapter.send(_delivery())
    took = time.monotonic() - started
    adapter.close()

    assert raised.value.unreachable
    assert "within 1 s" in str(raised.value)
    assert took < 3.0


def test_the_deadline_does_not_outlive_its_request(webhook: Webhook) -> None:
    adapter = WebhookAdapter(
        "platform", webhook.url, WEBHOOK_SECRET.encode(), timeout=1
    )
    adapter.send(_delivery())
    time.sleep(1.2)
    adapter.send(_delivery())
    adapter.close()
    assert len(webhook.requests) == 2


def test_429_is_throttling_with_its_retry_after(webhook: Webhook) -> None:
    webhook.answers.append(429)
    adapter = WebhookAdapter("platform", webhook.url, WEBHOOK_SECRET.encode())
    original = webhook.server.RequestHandlerClass.send_header

    def with_retry_after(handler: Any, key: str, value: str) -> None:
        original(handler, key, value)
        if key == "Content-Length":
            original(handler, "Retry-After", "90")

    webhook.server.RequestHandlerClass.send_header = with_retry_after  # type: ignore[method-assign]
    with pytest.raises(AdapterError) as raised:
        adapter.send(_delivery())
    adapter.close()

    assert raised.value.throttled and not raised.value.permanent
    assert raised.value.retry_after == 90.0


def test_retry_after_reads_seconds_and_http_dates() -> None:
    from trustwatch.response.adapters import retry_after_seconds

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(minutes=2), usegmt=True)
    assert retry_after_seconds("30", now.timestamp()) == 30.0
    assert retry_after_seconds(later, now.timestamp()) == 120.0
    earlier = format_datetime(now - timedelta(minutes=2), usegmt=True)
    assert retry_after_seconds(earlier, now.timestamp()) == 0.0
    assert retry_after_seconds("soon", now.timestamp()) is None
    assert retry_after_seconds(None, now.timestamp()) is None


@pytest.mark.parametrize(
    "value",
    ["\u00b2", "\u0663", "9" * 400, "Fri, 31 Dec 99999999 23:59:59 GMT", "1e9"],
)
def test_an_unreadable_retry_after_is_ignored_not_a_crash(value: str) -> None:
    from trustwatch.response.adapters import retry_after_seconds

    assert retry_after_seconds(value, 1_700_000_000.0) is None


def _webhook_config(url: str, **extra: Any):
    return response_config_from_dict(
        {
            "adapters": {
                "platform": {
                    "kind": "webhook",
                    "url": url,
                    "secret_env": "TEST_WEBHOOK_SECRET",
                }
                | extra
            },
            "routes": {"default": "platform"},
        },
        "response.toml",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://[::1/hook", "the url is malformed"),
        ("http://127.0.0.1:99999/hook", "the url is malformed"),
        ("ftp://platform.example/hook", "not an http"),
        ("https://user:pw@platform.example/hook", "carries credentials"),
        ("http://platform.example/hook", "http://platform.example:80 is plain http"),
        ("http://10.0.0.7:8080/hook", "http://10.0.0.7:8080 is plain http"),
    ],
)
def test_bad_webhook_urls_are_refused_at_load(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match="hint:") as raised:
        _webhook_config(url)
    assert message in str(raised.value)
    assert "response.toml: adapters.platform" in str(raised.value)


def test_plain_http_off_loopback_needs_the_explicit_opt_out() -> None:
    loopback = ("127.0.0.1:8080", "[::1]:8080", "[::ffff:127.0.0.1]", "LOCALHOST")
    for host in loopback:
        _webhook_config(f"http://{host}/hook")
    for host in ("10.0.0.7", "[::ffff:10.0.0.7]"):
        with pytest.raises(ConfigError, match="plain http off loopback"):
            _webhook_config(f"http://{host}/hook")
    _webhook_config("http://10.0.0.7:8080/hook", insecure_http=True)
    with pytest.raises(ConfigError, match="insecure_http must be true or false"):
        _webhook_config("http://10.0.0.7/hook", insecure_http="yes")


def test_unreachable_errors_name_the_port(monkeypatch) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    adapters = build_adapters(_webhook_config("http://127.0.0.1:9/hook"))
    with pytest.raises(AdapterError, match=r"http://127\.0\.0\.1:9\b"):
        adapters["platform"].send(_delivery())
    adapters["platform"].close()


def test_a_short_webhook_secret_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", "k")
    with pytest.raises(ConfigError, match=r"1 characters, fewer than 16.*hint:"):
        build_adapters(_webhook_config("https://platform.example/hook"))


@pytest.mark.parametrize("timeout", ["0s", "10m", "soon"])
def test_a_bad_adapter_timeout_has_a_hint_about_itself(timeout: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _webhook_config("https://platform.example/hook", timeout=timeout)
    text = str(raised.value)
    assert "adapters.platform: timeout" in text
    assert 'hint: timeout = "10s"' in text
    assert "expires" not in text


def test_a_bad_retry_duration_has_no_policy_wording() -> None:
    with pytest.raises(ConfigError) as raised:
        response_config_from_dict(
            {
                "adapters": {"audit": {"kind": "log"}},
                "routes": {"default": "audit"},
                "retry": {"first_backoff": "0s"},
            },
            "response.toml",
        )
    assert "expires" not in str(raised.value)
    assert "first_backoff" in str(raised.value)


def test_a_budget_on_reviews_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"never held.*hint:"):
        response_config_from_dict(
            {
                "adapters": {"audit": {"kind": "log"}},
                "routes": {"default": "audit"},
                "breaker": {"budgets": {"send_to_review": "5 per minute"}},
            },
            "response.toml",
        )


def test_the_summary_leaves_stdout_to_a_log_adapter_on_it(
    tmp_path: Path, capsys
) -> None:
    db = tmp_path / "store.db"
    with SqliteStore(db) as store:
        store.write_actions([make_action(1), make_action(2)])
    config = tmp_path / "response.toml"
    config.write_text(
        '[adapters.audit]\nkind = "log"\npath = "-"\n\n[routes]\ndefault = "audit"\n'
    )

    assert main(["dispatch", "--config", str(config), "--db", str(db), "--once"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [line["operation"] for line in lines] == ["apply", "apply"]
    summary = json.loads(captured.err.strip().splitlines()[-1])
    assert summary["dispatched"] == 2
