"""The HTTP server under the API: uvicorn, held to time and connection limits.

uvicorn waits for a request's head as long as the client likes: a client
that opens connections and sends a few bytes of headers now and then (a
"slowloris") holds each one, and with them the process's file descriptors.
:class:`GuardedH11Protocol` closes a connection whose request head has not
arrived whole within ``head_timeout`` seconds of its first byte being
awaited (a new connection, or a kept-alive one sending its next request),
and :func:`serve_app` caps the connections and requests in flight
(``max_connections``), past which uvicorn answers 503.

The protocol is always the h11 one, whatever else is installed, so that
these limits hold.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "DEFAULT_HEAD_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "GuardedH11Protocol",
    "guarded_protocol",
    "serve_app",
    "server_config",
    "server_options",
]

#: Seconds a client has to send a request's whole head.
DEFAULT_HEAD_TIMEOUT = 10.0
#: Connections and requests in flight, past which new ones get 503.
DEFAULT_MAX_CONNECTIONS = 512


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection slow to send a request head."""

    head_timeout = DEFAULT_HEAD_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._awaiting_head():
            if self._head_timer is None:
                self._arm()  # a kept-alive connection started its next request
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _awaiting_head(self) -> bool:
        """Whether the connection waits for a request head (none in progress)."""
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout, self._timed_out)

    def _disarm(self) -> None:
        timer = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
            self._head_timer = None

    def _timed_out(self) -> None:
        self._head_timer = None
        if self._awaiting_head() and not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(head_timeout: float) -> type[GuardedH11Protocol]:
    """Return :class:`GuardedH11Protocol` with its own ``head_timeout``."""
    if not head_timeout > 0:
        raise ValueError(f"head_timeout must be above 0, got {head_timeout}")
    return type(
        "GuardedH11Protocol", (GuardedH11Protocol,), {"head_timeout": head_timeout}
    )


def server_options(
    host: str,
    port: int,
    *,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    head_timeout: float = DEFAULT_HEAD_TIMEOUT,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> dict[str, Any]:
    """Return the uvicorn settings the API is served with."""
    return {
        "host": host,
        "port": port,
        "http": guarded_protocol(head_timeout),
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


def serve_app(app: Any, host: str, port: int, **limits: Any) -> None:
    """Serve ``app`` until interrupted (see :func:`server_options`)."""
    uvicorn.run(app, **server_options(host, port, **limits))
