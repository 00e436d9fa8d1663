"""The API's HTTP server closes slow request heads and caps connections."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from trustwatch.api.server import guarded_protocol, server_config

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read the whole body, then answer with its length."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


@pytest.fixture
def serving() -> Iterator[int]:
    """A server on a free loopback port: heads within 0.5 s, bodies within 1 s,
    2 connections."""
    config = server_config(
        _hello, "127.0.0.1", 0, head_timeout=0.5, body_timeout=1.0, max_connections=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    thread.join(timeout=10)


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``sock``, or ``None`` if it did not."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    return time.monotonic() - started


def test_a_head_sent_slowly_is_cut_off(serving: int) -> None:
    with _connect(serving) as slow, _connect(serving) as silent:
        slow.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        waited = _closed_within(slow, 4.0)
        assert waited is not None and waited < 3.0
        assert _closed_within(silent, 4.0) is not None
    with _connect(serving) as prompt:
        prompt.sendall(REQUEST)
        assert _response(prompt).startswith(b"HTTP/1.1 200")


def test_a_kept_alive_connection_gets_the_same_limit_per_head(serving: int) -> None:
    with _connect(serving) as sock:
        sock.sendall(REQUEST)
        assert _response(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET / HTTP/1.1\r\n")  # the next head, never finished
        waited = _closed_within(sock, 4.0)
    assert waited is not None and waited < 3.0


def test_a_body_sent_slowly_is_cut_off(serving: int) -> None:
    head = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n"
    with _connect(serving) as slow:
        slow.sendall(head)
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 4.0:
            try:
                slow.sendall(b"x")  # a byte now and then: never the whole body
            except OSError:
                closed = True
                break
            slow.settimeout(0.2)
            try:
                if slow.recv(4096) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
        assert closed and time.monotonic() - started < 3.0
    with _connect(serving) as prompt:  # a body sent at once is read and answered
        prompt.sendall(head + b"y" * 1000)
        assert _response(prompt).startswith(b"HTTP/1.1 200")


def test_past_the_connection_cap_requests_get_503(serving: int) -> None:
    with _connect(serving) as one, _connect(serving) as two, _connect(serving) as three:
        time.sleep(0.1)  # all three accepted
        three.sendall(REQUEST)
        assert _response(three).startswith(b"HTTP/1.1 503")
        one.close()
        two.close()
    time.sleep(0.2)
    with _connect(serving) as later:
        later.sendall(REQUEST)
        assert _response(later).startswith(b"HTTP/1.1 200")


def test_the_head_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="head_timeout"):
        guarded_protocol(0)
