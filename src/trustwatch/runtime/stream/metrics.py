"""Prometheus metrics of a stream worker, on a registry of its own.

Names follow Prometheus conventions (``_total`` counters, ``_seconds`` units).
No label carries data from events: labels are topics, partitions, detector
names, output kinds and dead-letter reason codes.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    make_wsgi_app,
)

from trustwatch.enrichment.ips import is_loopback_host
from trustwatch.errors import ConfigError

__all__ = ["MetricsServer", "StreamMetrics"]

log = logging.getLogger(__name__)

#: Seconds a scrape has, from its connection to its answer (a TLS handshake
#: included); a slower client is disconnected.
SCRAPE_TIMEOUT = 10.0
#: Scrapes served at once; further connections are closed at once.
MAX_SCRAPES = 16

#: Latency buckets in seconds, from a millisecond to a minute.
_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)


class StreamMetrics:
    """The counters, gauges and histograms one worker updates.

    Parameters
    ----------
    registry
        Where the metrics live; a fresh registry when ``None``, so that
        several workers in one process (tests) do not collide.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_in = Counter(
            "trustwatch_events_in_total",
            "Messages consumed from event topics.",
            ["topic"],
            registry=r,
        )
        self.replayed = Counter(
            "trustwatch_events_replayed_total",
            "Messages read again only to rebuild state after a restore; their "
            "outputs were already committed.",
            registry=r,
        )
        self.repeats = Counter(
            "trustwatch_events_repeated_total",
            "Messages not decided because the same message came lately "
            "(re-sent upstream).",
            registry=r,
        )
        self.outputs = Counter(
            "trustwatch_outputs_total",
            "Records produced, by kind (verdict, action, dead_letter).",
            ["kind"],
            registry=r,
        )
        self.dead_letters = Counter(
            "trustwatch_dead_letters_total",
            "Messages and detector failures sent to the dead-letter topic.",
            ["reason"],
            registry=r,
        )
        self.detector_seconds = Counter(
            "trustwatch_detector_seconds_total",
            "Time spent in each detector.",
            ["detector"],
            registry=r,
        )
        self.decision_latency = Histogram(
            "trustwatch_decision_latency_seconds",
            "From an event's Kafka timestamp to the commit of the batch that "
            "decided it.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "trustwatch_batch_seconds",
            "Time to process and commit one micro-batch.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.checkpoint_seconds = Histogram(
            "trustwatch_checkpoint_seconds",
            "Time to save partition state: one partition inline, or from the fork "
            "to the last write for the partitions of a background save.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "trustwatch_consumer_lag",
            "Messages between this worker's position and the end of a partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.assigned = Gauge(
            "trustwatch_assigned_partitions",
            "Partitions this worker owns.",
            registry=r,
        )
        self.rebalances = Counter(
            "trustwatch_rebalances_total",
            "Partition assignments and revocations.",
            ["kind"],
            registry=r,
        )
        self.aborted = Counter(
            "trustwatch_transactions_aborted_total",
            "Micro-batches whose transaction was aborted and redone.",
            registry=r,
        )

    def forget_partitions(
        self, topics: Iterable[str], partitions: Iterable[int]
    ) -> None:
        """Drop the per-partition series of partitions the worker gave up.

        A series left behind would go on reporting the lag of a partition
        that another worker now reads.
        """
        numbers = [str(number) for number in partitions]
        for topic in topics:
            for number in numbers:
                with contextlib.suppress(KeyError):  # never read: no series
                    self.consumer_lag.remove(topic, number)

    def add_detector_seconds(self, seconds: Mapping[str, float]) -> None:
        """Add each detector's time since the last call."""
        for name, spent in seconds.items():
            if spent:
                self.detector_seconds.labels(name).inc(spent)


class MetricsServer:
    """Serve a registry at ``/metrics`` over HTTP, behind a bearer token.

    Parameters
    ----------
    registry
        The metrics to serve.
    host, port
        Where to listen. Port ``0`` picks a free one (see :attr:`port`).
    token
        The bearer token a scrape must send (``Authorization: Bearer ...``).
        Without one, only a loopback address may be served.
    tls_cert, tls_key
        A PEM certificate (chain) and its key: serve HTTPS, so that the
        token does not cross the network in the clear.

    A scrape has :data:`SCRAPE_TIMEOUT` seconds from connecting to its
    answer, and at most :data:`MAX_SCRAPES` are served at once, so that
    slow or many clients cannot hold the worker's threads.

    Raises
    ------
    ConfigError
        When a non-loopback address is asked for without a token, the
        address cannot be bound, only one of ``tls_cert`` and ``tls_key`` is
        given, or they cannot be loaded.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        host: str,
        port: int,
        *,
        token: str | None = None,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> None:
        if not token and not is_loopback_host(host):
            raise ConfigError(
                f"metrics on {host} would be open to anyone who can reach it; "
                "hint: set TRUSTWATCH_METRICS_TOKEN (scrapes then send it as a "
                "bearer token), or serve on 127.0.0.1"
            )
        context = _tls_context(tls_cert, tls_key)
        if context is None and not is_loopback_host(host):
            log.warning(
                "metrics on %s are served over plain HTTP: scrapes send their "
                "bearer token in the clear; hint: give a TLS certificate and key "
                "(--metrics-tls-cert, --metrics-tls-key)",
                host,
            )
        self._app = make_wsgi_app(registry)
        self._token = token.encode() if token else None
        server = _QuietServer6 if ":" in host else _QuietServer
        try:
            self._server = make_server(
                host, port, self._serve, server, handler_class=_QuietHandler
            )
            if context is not None:
                # the handshake happens in the scrape's thread, within its time
                self._server.socket = context.wrap_socket(
                    self._server.socket,
                    server_side=True,
                    do_handshake_on_connect=False,
                )
        except OSError as exc:
            hint = (
                "choose a free port (each worker on a host needs its own)"
                if exc.errno == errno.EADDRINUSE
                else "give an address of this host, e.g. 127.0.0.1:9464 or [::1]:9464"
            )
            raise ConfigError(
                f"cannot serve metrics at {host}:{port}: {exc}; hint: {hint}"
            ) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="trustwatch-metrics", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._server.server_port)

    def _serve(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if self._token is not None:
            # WSGI hands headers over as Latin-1 text: back to the bytes sent,
            # so that a token beyond ASCII (sent as UTF-8) matches too
            sent = environ.get("HTTP_AUTHORIZATION", "").encode("latin-1", "replace")
            scheme, _, credentials = sent.strip().partition(b" ")
            # the scheme is case-insensitive (RFC 9110); the token is not
            if scheme.lower() != b"bearer" or not hmac.compare_digest(
                credentials.strip(), self._token
            ):
                start_response(
                    "401 Unauthorized",
                    [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")],
                )
                return [b"a bearer token is required\n"]
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"metrics are at /metrics\n"]
        result: Iterable[bytes] = self._app(environ, start_response)
        return result

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """Return the server's TLS context, or ``None`` without a certificate."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ConfigError(
            "metrics TLS needs both a certificate and its key; hint: give "
            "--metrics-tls-cert and --metrics-tls-key together"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load the metrics TLS certificate {cert} and key {key}: "
            f"{getattr(exc, 'strerror', None) or exc}; hint: give PEM files, the "
            "key unencrypted and matching the certificate"
        ) from exc
    return context


class _QuietServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(MAX_SCRAPES)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve a scrape in its own thread, or close it when all are busy."""
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # cut a scrape off at its time: a slow client, or a stalled handshake
        timer = threading.Timer(SCRAPE_TIMEOUT, _cut, (request,))
        timer.daemon = True
        timer.start()
        try:
            if isinstance(request, ssl.SSLSocket):
                request.do_handshake()
            super().process_request_thread(request, client_address)
        except (OSError, ValueError):
            self.shutdown_request(request)  # a failed handshake or a cut
        finally:
            timer.cancel()
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A scrape that broke off is not worth a traceback."""
        log.debug("metrics scrape from %s failed", client_address[0])


class _QuietServer6(_QuietServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    timeout = SCRAPE_TIMEOUT  # no single read waits longer

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged: they are frequent and say nothing new."""


def _cut(request: socket.socket) -> None:
    """Disconnect a scrape that ran out of time."""
    with contextlib.suppress(OSError):
        request.shutdown(socket.SHUT_RDWR)
