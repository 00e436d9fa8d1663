"""Helpers for enforcement tests: actions, configs, a loopback webhook."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from trustwatch.decisions.model import Action, ActionType, Mode
from trustwatch.response.config import ResponseConfig, response_config_from_dict
from trustwatch.response.ledger import DispatchLedger

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WEBHOOK_SECRET = "loopback-webhook-secret-for-tests"


def make_action(
    number: int,
    *,
    type: ActionType = "lock_account",
    mode: Mode = "enforce",
    rule: str = "lock-stuffed",
    created_at: datetime = T0,
    expires: timedelta | None = None,
) -> Action:
    """An action of a policy rule on account ``acct-<number>``."""
    return Action(
        action_id=f"act-{rule}-{number:05d}",
        verdict_id=f"ver-{number:05d}",
        event_id=f"evt-{number:05d}",
        type=type,
        target_type="account",
        target=f"acct-{number}",
        mode=mode,
        actor=f"policy:test@1#{rule}",
        reason="credential stuffing from a listed address",
        created_at=created_at,
        expires_at=created_at + expires if expires else None,
    )


def log_config(path: Path, **extra: Any) -> ResponseConfig:
    """Every action type routed to one log adapter writing ``path``."""
    data: dict[str, Any] = {
        "adapters": {"audit": {"kind": "log", "path": str(path)}},
        "routes": {"default": "audit"},
        "retry": {"max_attempts": 3, "first_backoff": "10s", "max_backoff": "5m"},
    }
    data.update(extra)
    return response_config_from_dict(data, "test-response.toml")


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[DispatchLedger]:
    with DispatchLedger(tmp_path / "store.db") as opened:
        yield opened


@dataclass
class Webhook:
    """A loopback HTTP server that records requests and answers as scripted."""

    server: ThreadingHTTPServer
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/actions"


def start_webhook(port: int = 0) -> Webhook:
    """Start a recording webhook on 127.0.0.1 (``port`` 0 picks a free one)."""
    hook: Webhook

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.requests.append(
                {"headers": dict(self.headers.items()), "body": body, "path": self.path}
            )
            status = hook.answers.pop(0) if hook.answers else 200
            payload = json.dumps({"ok": status < 300}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    hook = Webhook(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return hook


def stop_webhook(hook: Webhook) -> None:
    hook.server.shutdown()
    hook.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = start_webhook()
    try:
        yield hook
    finally:
        stop_webhook(hook)
