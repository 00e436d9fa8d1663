"""Adapters: how an action reaches the platform (webhook, Kafka topic, log).

Each adapter takes a :class:`Delivery` and either returns (the platform has
it) or raises :class:`AdapterError`. Every delivery carries an idempotency key
(the action id, or the reversal id), so a platform that sees a delivery twice
(a retry after a lost answer) can apply it once. Error messages name the
adapter and what went wrong, never a secret, a URL's query or personal data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import re
import ssl
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import httpcore

from trustwatch.decisions.model import Action
from trustwatch.errors import ConfigError
from trustwatch.response.config import (
    AdapterSettings,
    ResponseConfig,
    check_webhook_url,
    shown_variable,
)

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Adapter",
    "AdapterError",
    "Delivery",
    "KafkaAdapter",
    "LogAdapter",
    "WebhookAdapter",
    "build_adapter",
    "build_adapters",
    "retry_after_seconds",
    "sign",
]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Trustwatch-Signature"
TIMESTAMP_HEADER = "X-Trustwatch-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class AdapterError(Exception):
    """A delivery did not reach the platform.

    Parameters
    ----------
    message
        What went wrong, without secrets.
    unreachable
        The platform could not be reached at all (the action waits for it
        however long it takes); otherwise it answered and refused.
    permanent
        The platform refused in a way a retry cannot change.
    throttled
        The platform asked to slow down (HTTP 429): it applied nothing, and
        the attempt does not count towards the retry limit.
    retry_after
        Seconds the platform asked to wait before the next attempt
        (``Retry-After``), or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        unreachable: bool = False,
        permanent: bool = False,
        throttled: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.unreachable = unreachable
        self.permanent = permanent
        self.throttled = throttled
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Delivery:
    """One thing to send: an action to apply, or the reversal of one.

    ``key`` is the idempotency key: the action id, or for a reversal the
    reversal's own id. ``actor`` and ``reason`` are the reversal's when
    ``operation`` is ``"reverse"``, the action's otherwise.
    """

    key: str
    operation: Literal["apply", "reverse"]
    action: Action
    actor: str
    reason: str

    def payload(self) -> dict[str, Any]:
        """Return the JSON document platforms receive."""
        action = self.action
        return {
            "idempotency_key": self.key,
            "operation": self.operation,
            "action_id": action.action_id,
            "type": action.type,
            "target_type": action.target_type,
            "target": action.target,
            "actor": self.actor,
            "reason": self.reason,
            "verdict_id": action.verdict_id,
            "event_id": action.event_id,
            "created_at": _iso(action.created_at),
            "expires_at": _iso(action.expires_at) if action.expires_at else None,
        }

    def log_record(self) -> dict[str, Any]:
        """Return the record a log line carries: ids, no reasons or names."""
        return {
            "idempotency_key": self.key,
            "operation": self.operation,
            "action_id": self.action.action_id,
            "type": self.action.type,
            "target_type": self.action.target_type,
            "target": self.action.target,
            "verdict_id": self.action.verdict_id,
            "event_id": self.action.event_id,
        }


def _iso(moment: datetime) -> str:
    return moment.isoformat()


class Adapter(Protocol):
    """What the dispatcher needs of an adapter."""

    name: str

    def send(self, delivery: Delivery) -> None:
        """Deliver, or raise :class:`AdapterError`."""

    def close(self) -> None:
        """Release connections and files."""


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``timestamp`` + ``"."`` + ``body``."""
    return hmac.new(
        secret, timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()


def _seconds(settings: dict[str, Any], default: float) -> float:
    from trustwatch.decisions.policy import parse_duration

    if "timeout" not in settings:
        return default
    return parse_duration(str(settings["timeout"])).total_seconds()


#: The shortest webhook signing secret accepted, in characters.
MIN_SECRET_CHARS = 16


def _secret(variable: str, adapter: str) -> bytes:
    value = os.environ.get(variable, "")
    if not value:
        raise ConfigError(
            f"adapter {adapter}: {shown_variable(variable, 'secret_env')} is "
            "empty or unset; hint: set it to the secret the platform shares with "
            "trustwatch"
        )
    if len(value) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"adapter {adapter}: the secret in "
            f"{shown_variable(variable, 'secret_env')} has {len(value)} "
            f"characters, fewer than {MIN_SECRET_CHARS}; hint: share a long "
            "random one with the platform, e.g. `openssl rand -hex 32`"
        )
    return value.encode()


#: Delay-seconds as RFC 9110 writes them: ASCII digits (at most ten here).
_SECONDS = re.compile(r"[0-9]{1,10}")


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Read a ``Retry-After`` header: seconds, or an HTTP date.

    Returns the seconds to wait from ``now`` (Unix time), never below zero,
    or ``None`` when the header is missing or unreadable: whatever the
    platform (or a proxy before it) sends, the normal back-off then applies.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    if text.isdigit():  # other digits (²), or more than a year of them
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - now)


class _Deadline:
    """The time by which the request in progress must be over (monotonic)."""

    def __init__(self) -> None:
        self.at = math.inf

    def left(self, timeout: float | None) -> float:
        """The time an operation may take: ``timeout``, cut to what is left."""
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise httpcore.ReadTimeout("the request ran past its deadline")
        return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.left(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, self._deadline.left(timeout)
        )
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """Connections that end every operation by the request's deadline.

    httpx's timeouts bound each read and write; a platform answering a byte
    at a time would otherwise hold one request for as long as it likes.
    """

    def __init__(self, deadline: _Deadline) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, self._deadline.left(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, self._deadline.left(timeout), socket_options
        )
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class WebhookAdapter:
    """POST each delivery as JSON to one URL, signed with HMAC-SHA256.

    Headers: ``X-Trustwatch-Timestamp`` (Unix seconds),
    ``X-Trustwatch-Signature`` (``v1=`` and the hex HMAC-SHA256 of the
    timestamp, a dot and the body) and ``Idempotency-Key``. Redirects are not
    followed: a 3xx answer is a refusal. ``docs/webhooks.md`` tells platform
    teams how to verify and answer.

    Parameters
    ----------
    name
        The adapter's name in the configuration.
    url
        An ``http`` or ``https`` URL (see :func:`check_webhook_url`).
    secret
        The shared signing key.
    timeout
        Seconds the whole request may take: connecting, sending and reading
        the answer together.
    clock
        Returns the Unix time to sign with.
    insecure_http
        Allow plain ``http`` off loopback (behind a TLS proxy only).
    """

    def __init__(
        self,
        name: str,
        url: str,
        secret: bytes,
        *,
        timeout: float = 10.0,
        clock: Any = time.time,
        insecure_http: bool = False,
    ) -> None:
        import httpx

        self._where = check_webhook_url(
            url, f"adapter {name}", plain_http=insecure_http
        )
        self.name = name
        self._url = url
        self._secret = secret
        self._clock = clock
        self._timeout = timeout
        self._deadline = _Deadline()
        transport = httpx.HTTPTransport(trust_env=False)
        # httpx has no public way to give its pool a network layer; without
        # one, the timeout bounds each read rather than the whole request
        pool = getattr(transport, "_pool", None)
        if pool is not None and hasattr(pool, "_network_backend"):
            pool._network_backend = _DeadlineBackend(self._deadline)
        else:  # pragma: no cover - another httpx than the one tested
            log.warning(
                "webhook adapter: this httpx keeps its connections otherwise; "
                "the timeout bounds each read, not the whole request"
            )
        self._client = httpx.Client(
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )

    def send(self, delivery: Delivery) -> None:
        """POST the delivery; raise :class:`AdapterError` unless answered 2xx."""
        import httpx

        body = json.dumps(delivery.payload(), sort_keys=True).encode()
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: "v1=" + sign(self._secret, timestamp, body),
            IDEMPOTENCY_HEADER: delivery.key,
        }
        self._deadline.at = time.monotonic() + self._timeout
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise AdapterError(
                f"{self.name}: no complete answer from {self._where} within "
                f"{self._timeout:g} s ({type(exc).__name__})",
                unreachable=True,
            ) from None
        except httpx.TransportError as exc:
            raise AdapterError(
                f"{self.name}: cannot reach {self._where} ({type(exc).__name__})",
                unreachable=True,
            ) from None
        finally:
            self._deadline.at = math.inf
        status = response.status_code
        if 200 <= status < 300:
            return
        wait = retry_after_seconds(response.headers.get("Retry-After"), self._clock())
        retryable = status >= 500 or status in (408, 409, 425, 429)
        asked = f", Retry-After {wait:g} s" if wait is not None else ""
        raise AdapterError(
            f"{self.name}: {self._where} answered HTTP {status}{asked}",
            permanent=not retryable,
            throttled=status == 429,
            retry_after=wait,
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()


class KafkaAdapter:
    """Produce each delivery to a topic, keyed by target, with its key in a header.

    Parameters
    ----------
    name
        The adapter's name in the configuration.
    servers
        ``bootstrap.servers``.
    topic
        The topic the platform reads actions from.
    timeout
        Seconds to wait for the broker to acknowledge a record.
    """

    def __init__(
        self, name: str, servers: str, topic: str, *, timeout: float = 10.0
    ) -> None:
        from confluent_kafka import Producer

        self.name = name
        self._topic = topic
        self._timeout = timeout
        self._producer = Producer(
            {
                "bootstrap.servers": servers,
                "enable.idempotence": True,
                "acks": "all",
                "message.timeout.ms": int(timeout * 1000),
            }
        )

    def send(self, delivery: Delivery) -> None:
        """Produce the delivery and wait for the broker's acknowledgement."""
        from confluent_kafka import KafkaError, KafkaException, Message

        outcome: list[KafkaError | None] = []

        def on_delivery(error: KafkaError | None, _message: Message) -> None:
            outcome.append(error)

        body = json.dumps(delivery.payload(), sort_keys=True).encode()
        try:
            self._producer.produce(
                self._topic,
                value=body,
                key=delivery.action.target.encode(),
                headers=[(IDEMPOTENCY_HEADER, delivery.key.encode())],
                on_delivery=on_delivery,
            )
        except (KafkaException, BufferError) as exc:
            raise AdapterError(
                f"{self.name}: cannot produce to {self._topic} ({type(exc).__name__})",
                unreachable=True,
            ) from None
        self._producer.flush(self._timeout + 1)
        if not outcome:
            raise AdapterError(
                f"{self.name}: no acknowledgement from the broker in time",
                unreachable=True,
            )
        error = outcome[0]
        if error is not None:
            raise AdapterError(
                f"{self.name}: the broker refused the record ({error.name()})",
                unreachable=error.retriable() or error.code() < 0,
            )

    def close(self) -> None:
        """Send what is queued and let the producer go."""
        self._producer.flush(self._timeout)


class LogAdapter:
    """Append one JSON line per delivery: ids only, no reasons or names.

    Parameters
    ----------
    name
        The adapter's name in the configuration.
    path
        The file to append to, or ``"-"`` for standard output.
    """

    def __init__(self, name: str, path: str = "-") -> None:
        self.name = name
        self._path = None if path == "-" else Path(path)

    def send(self, delivery: Delivery) -> None:
        """Write the line; a file that cannot be written leaves it pending."""
        line = json.dumps(delivery.log_record(), sort_keys=True) + "\n"
        if self._path is None:
            sys.stdout.write(line)
            sys.stdout.flush()
            return
        try:
            with self._path.open("a", encoding="utf-8") as out:
                out.write(line)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise AdapterError(
                f"{self.name}: cannot write {self._path} ({exc.strerror})",
                unreachable=True,
            ) from None

    def close(self) -> None:
        """Nothing to release: every line is written and closed at once."""


def _build(settings: AdapterSettings) -> Adapter:
    raw = settings.settings
    if settings.kind == "webhook":
        return WebhookAdapter(
            settings.name,
            str(raw["url"]),
            _secret(str(raw["secret_env"]), settings.name),
            timeout=_seconds(raw, 10.0),
            insecure_http=raw.get("insecure_http") is True,
        )
    if settings.kind == "kafka":
        return KafkaAdapter(
            settings.name,
            str(raw["bootstrap_servers"]),
            str(raw["topic"]),
            timeout=_seconds(raw, 10.0),
        )
    return LogAdapter(settings.name, str(raw.get("path", "-")))


def build_adapters(config: ResponseConfig) -> dict[str, Adapter]:
    """Build every adapter the routes use, by name."""
    used = sorted(set(config.routes.values()))
    return {name: _build(config.adapters[name]) for name in used}


def build_adapter(config: ResponseConfig, name: str) -> Adapter:
    """Build one configured adapter by name (one no route uses any more, for
    the reversal of an action sent through it)."""
    return _build(config.adapters[name])
