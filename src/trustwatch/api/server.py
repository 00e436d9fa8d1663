"""The HTTP server under the API: uvicorn, held to time and connection limits.

uvicorn waits for a request as long as the client likes: a client that
opens connections and sends a few bytes of headers or body now and then (a
"slowloris") holds each one, and with them the process's file descriptors
and its ``max_connections``. :class:`GuardedH11Protocol` closes a connection
whose request head has not arrived whole within ``head_timeout`` seconds of
being awaited (a new connection, or a kept-alive one sending its next
request), or whose body has not within ``body_timeout`` seconds of its head;
:func:`serve_app` caps the connections and requests in flight
(``max_connections``), past which uvicorn answers 503.

:func:`listen` binds the socket before anything is served, so that a caller
reports the address only once it is really held (and learns the port the
system chose for port 0).

The protocol is always the h11 one, whatever else is installed, so that
these limits hold.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_HEAD_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "GuardedH11Protocol",
    "guarded_protocol",
    "listen",
    "serve_app",
    "server_config",
    "server_options",
]

#: Seconds a client has to send a request's whole head.
DEFAULT_HEAD_TIMEOUT = 10.0
#: Seconds a client has to send a request's whole body, from its head.
DEFAULT_BODY_TIMEOUT = 30.0
#: Connections and requests in flight, past which new ones get 503.
DEFAULT_MAX_CONNECTIONS = 512


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection slow to send a request.

    A request's head must arrive within :attr:`head_timeout` seconds of the
    connection waiting for it, and its body within :attr:`body_timeout`
    seconds of its head.
    """

    head_timeout = DEFAULT_HEAD_TIMEOUT
    body_timeout = DEFAULT_BODY_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._timer: asyncio.TimerHandle | None = None
        self._phase: str | None = None
        self._watch()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _waiting_for(self) -> str | None:
        """What the connection waits on from the client: its head, its body."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return "head"
        if cycle.more_body:
            return "body"
        return None

    def _watch(self) -> None:
        """Start the clock of what the client owes, or stop it when nothing."""
        phase = self._waiting_for()
        if phase == self._phase:
            return  # the same wait goes on: its clock keeps running
        self._disarm()
        if phase is not None:
            limit = self.head_timeout if phase == "head" else self.body_timeout
            self._timer = self.loop.call_later(limit, self._timed_out, phase)
            self._phase = phase

    def _disarm(self) -> None:
        timer = getattr(self, "_timer", None)
        if timer is not None:
            timer.cancel()
        self._timer = None
        self._phase = None

    def _timed_out(self, phase: str) -> None:
        self._timer = None
        if self._waiting_for() == phase and not self.transport.is_closing():
            self.transport.close()
        else:
            self._phase = None
            self._watch()


def guarded_protocol(
    head_timeout: float, body_timeout: float = DEFAULT_BODY_TIMEOUT
) -> type[GuardedH11Protocol]:
    """Return :class:`GuardedH11Protocol` with its own time limits."""
    if not head_timeout > 0 or not body_timeout > 0:
        raise ValueError(
            f"head_timeout and body_timeout must be above 0, got {head_timeout} "
            f"and {body_timeout}"
        )
    limits = {"head_timeout": head_timeout, "body_timeout": body_timeout}
    return type("GuardedH11Protocol", (GuardedH11Protocol,), limits)


def server_options(
    host: str,
    port: int,
    *,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    head_timeout: float = DEFAULT_HEAD_TIMEOUT,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> dict[str, Any]:
    """Return the uvicorn settings the API is served with."""
    return {
        "host": host,
        "port": port,
        "http": guarded_protocol(head_timeout, body_timeout),
        "limit_concurrency": max_connections,
        "ssl_certfile": tls_cert,
        "ssl_keyfile": tls_key,
        "proxy_headers": False,
        "server_header": False,
        "access_log": False,
        "log_config": None,
    }


def server_config(app: Any, host: str, port: int, **limits: Any) -> uvicorn.Config:
    """Return :func:`server_options` as a uvicorn configuration of ``app``."""
    return uvicorn.Config(app, **server_options(host, port, **limits))


def listen(host: str, port: int) -> socket.socket:
    """Return a TCP socket bound to ``host`` and ``port`` (0: a free port).

    Raises :class:`OSError` when the address cannot be held (in use, not
    this machine's, not permitted).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve_app(app: Any, sock: socket.socket, **limits: Any) -> None:
    """Serve ``app`` on the bound ``sock`` until interrupted (see
    :func:`server_options` for ``limits``)."""
    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(server_config(app, host, port, **limits))
    server.run(sockets=[sock])
