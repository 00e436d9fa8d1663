"""``trustwatch publish``: replay event files into a Kafka topic.

Each event is produced as its canonical JSON (what
:func:`~trustwatch.events.readers.write_events_jsonl` writes, and what
:class:`~trustwatch.events.decode.EventDecoder` reads back), keyed by its
account so that one account's events share a partition; events without an
account are keyed by their ``event_id``. The producer is idempotent: its own
retries never duplicate a record (``--kafka-config`` cannot turn that off).
Records that cannot be read are counted and listed with their reasons; they
are not produced. Ctrl-C stops a run: what was sent is flushed for a few
seconds, counted, and the exit status is 130.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click
import msgspec

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.options import (
    Seconds,
    event_reading_options,
    kafka_connection_options,
)
from trustwatch.cli.params import FiniteFloatRange
from trustwatch.cli.render import clean, error_console, output_console
from trustwatch.errors import ConfigError
from trustwatch.events.deadletter import DeadLetter
from trustwatch.runtime.stream.clienttext import ClientText
from trustwatch.runtime.stream.settings import (
    PUBLISH_KAFKA_SETTINGS,
    check_owned_settings,
    checked_servers,
    checked_topic,
    parse_kafka_pairs,
)

if TYPE_CHECKING:
    from confluent_kafka import KafkaError, Message, Producer

__all__ = ["PublishSummary", "TokenBucket", "publish"]

console = output_console()
errors = error_console()

#: Dead letters listed one by one before the rest are only counted.
_LISTED_LETTERS = 20
#: Seconds an interrupted run waits for the delivery of what it has sent.
_INTERRUPTED_FLUSH = 5.0


class TokenBucket:
    """Pace work to ``rate`` units a second, with bursts of up to ``burst``.

    Parameters
    ----------
    rate
        Units a second; ``0`` never waits.
    burst
        Units that may go at once to catch up after a stall (one second's
        worth, at least one, by default). The bucket starts with one unit, so
        a run begins at the rate rather than with a burst.
    clock, sleep
        The monotonic clock and the sleep to use.

    Examples
    --------
    >>> now = [0.0]
    >>> bucket = TokenBucket(2, burst=1, clock=lambda: now[0], sleep=lambda s: None)
    >>> bucket.take(), bucket.take()
    (0.0, 0.5)
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate < 0:
            raise ConfigError(f"rate {rate} is negative; hint: use 0 for no limit")
        self.rate = rate
        self.burst = max(1.0, rate if burst is None else burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = 1.0
        self._last = clock()

    def take(self) -> float:
        """Take one unit, sleeping until it is due; return the seconds slept."""
        if self.rate == 0:
            return 0.0
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        wait = -self._tokens / self.rate
        self._sleep(wait)
        return wait


@dataclass
class PublishSummary:
    """What a publish did: events read, delivered and failed, dead letters."""

    events: int = 0
    #: records read from the files: events and dead letters
    records: int = 0
    delivered: int = 0
    failed: int = 0
    dead_letters: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    delivery_errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def _producer(config: dict[str, Any], text: ClientText) -> Producer:
    try:
        from confluent_kafka import Producer
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ConfigError(
            "confluent-kafka is not installed; hint: python3 -m pip install "
            "confluent-kafka"
        ) from exc
    try:
        return Producer(config)
    except Exception as exc:
        # the client's message may repeat a value, and values may be secret
        raise text.refused(exc, "Kafka producer") from None


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--topic", required=True, help="The topic to produce to.")
@kafka_connection_options
@click.option(
    "--rate",
    type=FiniteFloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Events a second; 0 produces as fast as the broker takes them.",
)
@click.option(
    "--key",
    "key_field",
    type=click.Choice(["account", "event_id"]),
    default="account",
    show_default=True,
    help="What keys each record (and so chooses its partition); events "
    "without an account are keyed by event_id.",
)
@click.option(
    "--delivery-timeout",
    type=Seconds(min=1),
    default=30.0,
    show_default=True,
    help="How long a record may wait for the broker before it counts as "
    "failed: seconds or a duration ('30s', '2m').",
)
@event_reading_options
@click.pass_context
def publish(
    ctx: click.Context,
    files: Sequence[str],
    topic: str,
    bootstrap_servers: str,
    kafka_pairs: Sequence[str],
    rate: float,
    key_field: str,
    delivery_timeout: float,
    event_format: str,
    source_tz: str | None,
) -> None:
    """Replay event FILES (files, folders or globs; - is stdin) into a Kafka topic.

    Events go out as JSON keyed by account, through an idempotent producer;
    unreadable records are counted and listed, not produced. Ctrl-C stops
    the run and reports how many events were delivered (exit status 130).
    """
    from trustwatch.events.decode import EventDecoder
    from trustwatch.events.readers import read_events

    if any(not path.strip() for path in files):
        raise ConfigError("an event path is empty; hint: is a shell variable unset?")
    topic = checked_topic(topic)
    servers = checked_servers(bootstrap_servers)
    settings = parse_kafka_pairs(kafka_pairs)
    check_owned_settings(settings, PUBLISH_KAFKA_SETTINGS, "trustwatch publish")
    decoder = EventDecoder(source_tz=source_tz)
    items = read_events(
        files, decoder=decoder, format=event_format, sshlog_tz=source_tz
    )
    summary = PublishSummary()
    fatal: list[str] = []
    # what the client says may repeat a setting's value: hidden before output
    text = ClientText(settings)

    def on_error(error: KafkaError) -> None:
        if error.fatal():
            fatal.append(text(error.str()))

    def on_delivery(error: KafkaError | None, message: Message) -> None:
        if error is None:
            summary.delivered += 1
        else:
            summary.failed += 1
            summary.delivery_errors[text(error.str())] += 1

    producer = _producer(
        {
            **settings,
            "bootstrap.servers": servers,
            "enable.idempotence": True,
            "message.timeout.ms": int(delivery_timeout * 1000),
            "error_cb": on_error,
            "logger": text.logger(),
        },
        text,
    )
    bucket = TokenBucket(rate)
    encode = msgspec.json.Encoder().encode
    started = time.perf_counter()
    interrupted = False
    try:
        try:
            for item in items:
                if fatal:
                    break
                summary.records += 1
                if isinstance(item, DeadLetter):
                    _note_letter(summary, item)
                    continue
                key = item.event_id if key_field == "event_id" else item.account
                record = encode(item)
                bucket.take()
                _produce(
                    producer,
                    topic,
                    record,
                    (key or item.event_id).encode(),
                    on_delivery,
                )
                summary.events += 1
                producer.poll(0)
        except KeyboardInterrupt:
            interrupted = True
    finally:
        # a second Ctrl-C cuts the shorter wait of an interrupted run
        producer.flush(_INTERRUPTED_FLUSH if interrupted else delivery_timeout + 5)
        summary.seconds = time.perf_counter() - started
    unconfirmed = summary.events - summary.delivered - summary.failed
    if interrupted:
        _report(summary, topic, servers)
        errors.print(
            f"interrupted after {summary.records:,} records read: "
            f"{summary.delivered:,} events delivered, {summary.failed:,} failed, "
            f"{unconfirmed:,} sent but not confirmed; hint: publishing the files "
            "again sends the delivered events again"
        )
        ctx.exit(int(ExitCode.INTERRUPTED))
    if unconfirmed:
        summary.failed += unconfirmed
        summary.delivery_errors["no delivery report before the timeout"] += unconfirmed
    _report(summary, topic, servers)
    if fatal:
        errors.print(f"error: the producer stopped: {clean(fatal[0])}")
        ctx.exit(int(ExitCode.DEPENDENCY_FAILED))
    if summary.failed:
        errors.print(
            f"error: {summary.failed:,} events were not delivered to "
            f"{clean(servers)}; hint: is the broker reachable, and does the topic "
            "exist (or may it be created automatically)?"
        )
        ctx.exit(int(ExitCode.DEPENDENCY_FAILED))
    if summary.events == 0 and summary.dead_letters:
        errors.print("error: no record could be read")
        ctx.exit(int(ExitCode.BAD_INPUT))


def _produce(
    producer: Producer,
    topic: str,
    value: bytes,
    key: bytes,
    on_delivery: Callable[[KafkaError | None, Message], None],
) -> None:
    """Produce one record, waiting for room while the local queue is full."""
    while True:
        try:
            producer.produce(topic, value, key, on_delivery=on_delivery)
            return
        except BufferError:
            producer.poll(0.1)


def _note_letter(summary: PublishSummary, letter: DeadLetter) -> None:
    summary.dead_letters += 1
    summary.reasons[letter.reason] += 1
    if summary.dead_letters <= _LISTED_LETTERS:
        errors.print(
            f"dead letter: {clean(letter.source)} {clean(letter.location)}: "
            f"{clean(letter.reason)}: {clean(letter.message)}"
        )


def _report(summary: PublishSummary, topic: str, servers: str) -> None:
    rate = summary.delivered / summary.seconds if summary.seconds > 0 else 0.0
    console.print(
        f"published {summary.delivered:,} of {summary.events:,} events to "
        f"{clean(topic)} at {clean(servers)} in {summary.seconds:.2f} s "
        f"({rate:,.0f} events/s)"
    )
    if summary.dead_letters:
        more = summary.dead_letters - _LISTED_LETTERS
        if more > 0:
            errors.print(f"... and {more:,} more dead letters")
        reasons = ", ".join(
            f"{clean(reason)} {n:,}" for reason, n in summary.reasons.most_common()
        )
        errors.print(
            f"warning: {summary.dead_letters:,} records could not be read and "
            f"were not published ({reasons})"
        )
    for message, n in summary.delivery_errors.most_common():
        errors.print(f"delivery failed for {n:,} events: {clean(message)}")
