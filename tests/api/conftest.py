"""Fixtures for the analyst API: stores with alerts, cases and a ring, tokens
for each role, and a client that reaches nothing but the app itself."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.api_world import T0, ApiWorld, fill_decisions, make_tokens, ring

from trustwatch.api.app import create_app
from trustwatch.api.settings import ServeSettings
from trustwatch.response.ledger import DispatchLedger
from trustwatch.review.cases import build_cases
from trustwatch.review.store import open_review_store
from trustwatch.storage.sqlite import SqliteStore


@pytest.fixture
def no_outbound(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Fail any socket connection to a non-loopback address; list attempts."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else None
        try:
            loopback = host is not None and ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback and self.family != socket.AF_UNIX:
            attempts.append(address)
            raise ConnectionRefusedError(f"test blocks outbound {address!r}")
        return real_connect(self, address)

    real_getaddrinfo = socket.getaddrinfo

    def guarded_lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in (None, "localhost", "127.0.0.1", "::1"):
            attempts.append(("resolve", host))
            raise OSError(f"test blocks resolving {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_lookup)
    return attempts


@pytest.fixture
def world(tmp_path: Path, no_outbound: list[Any]) -> Iterator[ApiWorld]:
    """SQLite stores with alerts, cases built from them, a ring and a ledger."""
    db = tmp_path / "store.sqlite"
    with SqliteStore(db) as store:
        actions = fill_decisions(store)
        store.write_rings([ring()])
        with open_review_store(tmp_path / "review.sqlite") as review:
            build_cases(store, review, clock=lambda: T0 + timedelta(hours=1))
    DispatchLedger(db).close()
    settings = ServeSettings(
        db=str(db),
        review_db=str(tmp_path / "review.sqlite"),
        ledger=db,
        tokens=tmp_path / "tokens.json",
        max_failed_logins=5,
    )
    tokens = make_tokens(settings.tokens)  # type: ignore[arg-type]
    app = create_app(settings)
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        yield ApiWorld(app, client, tokens, settings, actions)
    assert no_outbound == [], f"the API tried to reach {no_outbound}"


class _BoundNowhere:
    """What ``listen`` returns while serving is faked: the address asked for."""

    def __init__(self, host: str, port: int) -> None:
        self._address = (host, port)

    def getsockname(self) -> tuple[str, int]:
        return self._address


@pytest.fixture
def fake_serving(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Make ``trustwatch serve`` bind nothing and serve nothing: list the
    app and server settings of each server it would have run."""
    import uvicorn

    from trustwatch.api import server

    calls: list[dict[str, Any]] = []
    shown = (
        "host",
        "port",
        "http",
        "limit_concurrency",
        "ssl_certfile",
        "ssl_keyfile",
        "access_log",
    )

    def run(self: uvicorn.Server, sockets: Any = None) -> None:
        config = self.config
        calls.append({"app": config.app, **{k: getattr(config, k) for k in shown}})

    monkeypatch.setattr(server, "listen", _BoundNowhere)
    monkeypatch.setattr(uvicorn.Server, "run", run)
    return calls
