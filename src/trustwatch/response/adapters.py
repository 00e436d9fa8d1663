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
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from trustwatch.decisions.model import Action
from trustwatch.errors import ConfigError
from trustwatch.response.config import AdapterSettings, ResponseConfig

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Adapter",
    "AdapterError",
    "Delivery",
    "KafkaAdapter",
    "LogAdapter",
    "WebhookAdapter",
    "build_adapters",
    "sign",
]

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
    """

    def __init__(
        self, message: str, *, unreachable: bool = False, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.unreachable = unreachable
        self.permanent = permanent


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


def _secret(variable: str, adapter: str) -> bytes:
    value = os.environ.get(variable, "")
    if not value:
        raise ConfigError(
            f"adapter {adapter}: the environment variable {variable} is empty; "
            "hint: set it to the secret the platform shares with trustwatch"
        )
    return value.encode()


class WebhookAdapter:
    """POST each delivery as JSON to one URL, signed with HMAC-SHA256.

    Headers: ``X-Trustwatch-Timestamp`` (Unix seconds),
    ``X-Trustwatch-Signature`` (``v1=`` and the hex HMAC-SHA256 of the
    timestamp, a dot and the body) and ``Idempotency-Key``. Redirects are not
    followed: a 3xx answer is a refusal.

    Parameters
    ----------
    name
        The adapter's name in the configuration.
    url
        An ``http`` or ``https`` URL.
    secret
        The shared signing key.
    timeout
        Seconds for connecting and for the answer.
    clock
        Returns the Unix time to sign with.
    """

    def __init__(
        self,
        name: str,
        url: str,
        secret: bytes,
        *,
        timeout: float = 10.0,
        clock: Any = time.time,
    ) -> None:
        import httpx

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"adapter {name}: the url is not an http(s) URL; hint: "
                'url = "https://platform.example/trustwatch/actions"'
            )
        self.name = name
        self._url = url
        self._where = f"{parts.scheme}://{parts.hostname}"
        self._secret = secret
        self._clock = clock
        self._client = httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=False
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
        try:
            response = self._client.post(self._url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise AdapterError(
                f"{self.name}: no answer from {self._where} in time "
                f"({type(exc).__name__})",
                unreachable=True,
            ) from None
        except httpx.TransportError as exc:
            raise AdapterError(
                f"{self.name}: cannot reach {self._where} ({type(exc).__name__})",
                unreachable=True,
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        retryable = status >= 500 or status in (408, 409, 425, 429)
        raise AdapterError(
            f"{self.name}: {self._where} answered HTTP {status}",
            permanent=not retryable,
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
