"""The signed webhook adapter against a loopback HTTP server."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from datetime import timedelta

import pytest
from response_rig import (
    T0,
    WEBHOOK_SECRET,
    Webhook,
    make_action,
    start_webhook,
    stop_webhook,
)

from trustwatch.errors import ConfigError
from trustwatch.response.adapters import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    AdapterError,
    Delivery,
    WebhookAdapter,
    build_adapters,
)
from trustwatch.response.config import response_config_from_dict
from trustwatch.response.dispatch import Dispatcher
from trustwatch.response.ledger import DispatchLedger


def _config(url: str, max_attempts: int = 4):
    return response_config_from_dict(
        {
            "adapters": {
                "platform": {
                    "kind": "webhook",
                    "url": url,
                    "secret_env": "TEST_WEBHOOK_SECRET",
                    "timeout": "5s",
                }
            },
            "routes": {"default": "platform"},
            "retry": {
                "max_attempts": max_attempts,
                "first_backoff": "10s",
                "max_backoff": "10m",
            },
        },
        "test",
    )


def _dispatcher(ledger: DispatchLedger, url: str, monkeypatch, **kwargs):
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    config = _config(url, **kwargs)
    return Dispatcher(ledger, config, build_adapters(config), rng=random.Random(7))


def test_request_is_signed_and_carries_the_idempotency_key(webhook: Webhook) -> None:
    adapter = WebhookAdapter(
        "platform", webhook.url, WEBHOOK_SECRET.encode(), clock=lambda: 1_790_000_000
    )
    action = make_action(1)
    adapter.send(Delivery(action.action_id, "apply", action, action.actor, "r"))
    adapter.close()

    [request] = webhook.requests
    headers, body = request["headers"], request["body"]
    assert headers["Idempotency-Key"] == action.action_id
    assert headers[TIMESTAMP_HEADER] == "1790000000"
    expected = hmac.new(
        WEBHOOK_SECRET.encode(), b"1790000000." + body, hashlib.sha256
    ).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"v1={expected}"
    sent = json.loads(body)
    assert sent["operation"] == "apply"
    assert sent["target"] == "acct-1" and sent["type"] == "lock_account"
    forged = hmac.new(b"wrong", b"1790000000." + body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] != f"v1={forged}"


def test_a_redirect_is_refused_not_followed(webhook: Webhook) -> None:
    webhook.answers.append(302)
    adapter = WebhookAdapter("platform", webhook.url, b"k")
    action = make_action(2)
    with pytest.raises(AdapterError) as caught:
        adapter.send(Delivery(action.action_id, "apply", action, action.actor, "r"))
    adapter.close()
    assert caught.value.permanent
    assert len(webhook.requests) == 1


def test_missing_secret_is_a_config_error(monkeypatch, webhook: Webhook) -> None:
    monkeypatch.delenv("TEST_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigError, match=r"TEST_WEBHOOK_SECRET.*hint:"):
        build_adapters(_config(webhook.url))


def test_server_error_then_success_is_retried_with_the_same_key(
    ledger: DispatchLedger, webhook: Webhook, monkeypatch
) -> None:
    ledger.store.write_actions([make_action(3)])
    webhook.answers.append(500)
    dispatcher = _dispatcher(ledger, webhook.url, monkeypatch)

    first = dispatcher.run_once(T0)
    record = ledger.record("act-lock-stuffed-00003")
    assert first.retrying == 1
    assert record is not None and record.state == "pending"
    assert "HTTP 500" in (record.last_error or "")
    assert WEBHOOK_SECRET not in (record.last_error or "")

    assert dispatcher.run_once(T0 + timedelta(seconds=1)).dispatched == 0
    second = dispatcher.run_once(T0 + timedelta(minutes=1))
    assert second.dispatched == 1
    record = ledger.record("act-lock-stuffed-00003")
    assert record is not None and record.state == "dispatched"
    assert record.attempts == 2
    keys = [r["headers"]["Idempotency-Key"] for r in webhook.requests]
    assert keys == ["act-lock-stuffed-00003"] * 2

    assert dispatcher.run_once(T0 + timedelta(hours=1)).dispatched == 0
    assert len(webhook.requests) == 2


def test_refused_until_the_limit_then_failed_and_visible(
    ledger: DispatchLedger, webhook: Webhook, monkeypatch
) -> None:
    ledger.store.write_actions([make_action(4)])
    webhook.answers.extend([503, 503])
    dispatcher = _dispatcher(ledger, webhook.url, monkeypatch, max_attempts=2)
    dispatcher.run_once(T0)
    summary = dispatcher.run_once(T0 + timedelta(hours=1))
    assert summary.failed == 1
    [(record, _action)] = ledger.listing(state="failed")
    assert record.action_id == "act-lock-stuffed-00004"
    assert "HTTP 503" in (record.last_error or "")


def test_server_down_keeps_the_action_pending_until_it_returns(
    ledger: DispatchLedger, webhook: Webhook, monkeypatch
) -> None:
    port = webhook.server.server_address[1]
    url = webhook.url
    stop_webhook(webhook)
    ledger.store.write_actions([make_action(5)])
    dispatcher = _dispatcher(ledger, url, monkeypatch, max_attempts=2)

    for hour in range(4):
        summary = dispatcher.run_once(T0 + timedelta(hours=hour))
        assert summary.failed == 0
    record = ledger.record("act-lock-stuffed-00005")
    assert record is not None and record.state == "pending"
    assert record.attempts == 4
    assert "cannot reach http://127.0.0.1" in (record.last_error or "")
    assert [r.action_id for r, _ in ledger.listing(state="pending")] == [
        "act-lock-stuffed-00005"
    ]

    back = start_webhook(port)
    try:
        summary = dispatcher.run_once(T0 + timedelta(days=1))
        assert summary.dispatched == 1
        assert [r["headers"]["Idempotency-Key"] for r in back.requests] == [
            "act-lock-stuffed-00005"
        ]
    finally:
        stop_webhook(back)
    record = ledger.record("act-lock-stuffed-00005")
    assert record is not None and record.state == "dispatched"


def test_dispatch_once_exits_4_when_an_action_failed(
    ledger: DispatchLedger, webhook: Webhook, monkeypatch, tmp_path, capsys
) -> None:
    from trustwatch.cli.main import main

    ledger.store.write_actions([make_action(5)])
    webhook.answers.append(400)  # refused for good
    monkeypatch.setenv("TEST_WEBHOOK_SECRET", WEBHOOK_SECRET)
    config = tmp_path / "response.toml"
    config.write_text(
        f'[adapters.platform]\nkind = "webhook"\nurl = "{webhook.url}"\n'
        'secret_env = "TEST_WEBHOOK_SECRET"\n\n[routes]\ndefault = "platform"\n'
    )
    args = ["dispatch", "--config", str(config), "--db", ledger.path, "--once"]
    assert main(args) == 4
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["failed"] == 1
