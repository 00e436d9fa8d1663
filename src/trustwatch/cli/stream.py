"""``trustwatch stream``: run the pipeline as a worker of a Kafka consumer group.

Settings come from the command line, ``TRUSTWATCH_*`` variables and a TOML
file (``--config``), in that order of precedence. The file's keys are the
option names (``bootstrap-servers = "kafka-1:9092"``, ``topic = ["events"]``);
its ``[kafka]`` table holds more librdkafka settings (security, timeouts),
which ``--kafka-config KEY=VALUE`` extends. Nothing from the Kafka settings is
ever printed or logged: they may hold credentials.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import signal
import tomllib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from trustwatch.cli.options import (
    CONFIG_FILE_KEY,
    EVENT_FORMATS,
    Seconds,
    intel_source_options,
    kafka_connection_options,
    malicious_file_options,
    option,
    pipeline_options,
)
from trustwatch.cli.render import clean, error_console, output_console
from trustwatch.errors import ConfigError
from trustwatch.events.deadletter import DeadLetter

__all__ = ["stream"]

console = output_console()
errors = error_console()
log = logging.getLogger(__name__)

_KAFKA_TABLE = "kafka"
#: The host of a metrics address: a name, an IPv4 address, or an IPv6 one
#: (bracketed or not)
_METRICS_HOST = re.compile(
    r"\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*|[A-Za-z0-9.-]+"
)
#: Options that change what is acted on or dropped: the command line only,
#: never a settings file or a variable that outlives one run.
_COMMAND_LINE_ONLY = frozenset({"enforce", "reset_state"})
#: The bearer token scrapes of the metrics must send (never a command option,
#: so that it stays out of process listings).
_TOKEN_VARIABLE = "TRUSTWATCH_METRICS_TOKEN"


def _read_config(
    ctx: click.Context, param: click.Parameter, value: Path | None
) -> None:
    """Load a TOML settings file into the command's defaults."""
    if value is None:
        return
    # a bad value from the file is blamed on the file (see SourcedOption)
    ctx.meta[CONFIG_FILE_KEY] = clean(value)
    try:
        data = tomllib.loads(value.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise click.BadParameter(f"cannot read {clean(value)}: {exc}") from exc
    kafka = data.pop(_KAFKA_TABLE, {})
    if not isinstance(kafka, dict) or any(
        isinstance(v, dict | list) for v in kafka.values()
    ):
        raise click.BadParameter(
            f"[{_KAFKA_TABLE}] in {clean(value)} must map librdkafka setting "
            "names to single values"
        )
    # file keys are option names ("add-detector"), defaults go by parameter
    options = {
        flag.lstrip("-"): param
        for param in ctx.command.params
        if isinstance(param, click.Option) and param.name
        for flag in param.opts
        if flag.startswith("--")
    }
    defaults: dict[str, Any] = {}
    for key, setting in data.items():
        option = options.get(key.replace("_", "-"))
        name = option.name if option is not None else None
        if name == "kafka_pairs":
            raise click.BadParameter(
                f"{clean(value)} sets {clean(key)!r}; hint: in a file, put "
                f"librdkafka settings in the [{_KAFKA_TABLE}] table, one "
                '"name" = "value" per line'
            )
        if option is None or name is None or name == "config":
            raise click.BadParameter(
                f"{clean(value)} sets {clean(key)!r}, which `trustwatch stream` "
                "has no option for; hint: see `trustwatch stream --help`"
            )
        if name in _COMMAND_LINE_ONLY and setting is not False:
            raise click.BadParameter(
                f"{clean(value)} sets {clean(key)!r}, which changes what is acted "
                f"on or dropped; hint: give --{key.replace('_', '-')} on the "
                "command line of the run that needs it"
            )
        if option.multiple and isinstance(setting, str):
            setting = [setting]  # `topic = "events"` means one topic
        defaults[name] = setting
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    ctx.meta["trustwatch.kafka_file_config"] = {k: str(v) for k, v in kafka.items()}


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _record_left_out(letters: list[DeadLetter], decisions: Any) -> None:
    """Warn of the intel and fuzzy-intel records not loaded, by reason, and
    keep them as dead letters in the decision store when there is one (each
    worker that starts writes them again; the store keeps one of each)."""
    if not letters:
        return
    reasons = Counter(letter.reason for letter in letters)
    if decisions is not None:
        decisions.write_dead_letters(letters)
        where = "stored as dead letters in the decision store"
    else:
        where = "give --decision-store to keep them as dead letters"
    log.warning(
        "%d intel records left out (%s); %s",
        len(letters),
        ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items())),
        where,
    )


def _address(text: str | None) -> tuple[str, int] | None:
    if not text:
        return None
    host, sep, port = text.rpartition(":")
    if (
        not sep
        or _is_address(text.strip("[]"))  # an address alone: no port
        or (":" in host and not _is_address(host.strip("[]")))
        or not _METRICS_HOST.fullmatch(host)
        or not (port.isascii() and port.isdigit())
        or not 0 < int(port) < 65536
    ):
        raise ConfigError(
            f"metrics address {clean(text)!r} is not HOST:PORT; hint: e.g. "
            "127.0.0.1:9464, or [::1]:9464 (an IPv6 address in brackets)"
        )
    return host.strip("[]"), int(port)


@click.command()
@option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    callback=_read_config,
    is_eager=True,
    expose_value=False,
    envvar="TRUSTWATCH_STREAM_CONFIG",
    show_envvar=True,
    help="A TOML file of settings: option names as keys, and a [kafka] table "
    "of librdkafka settings.",
)
@option(
    "--topic",
    "topics",
    multiple=True,
    required=True,
    envvar="TRUSTWATCH_TOPICS",
    show_envvar=True,
    help="An event topic to consume; repeat for more (co-partitioned, keyed "
    "by account). In the variable, separate topics by spaces.",
)
@kafka_connection_options
@option(
    "--group",
    default="trustwatch",
    show_default=True,
    envvar="TRUSTWATCH_GROUP",
    show_envvar=True,
    help="The consumer group; its workers split the partitions.",
)
@option(
    "--worker-id",
    envvar="TRUSTWATCH_WORKER_ID",
    show_envvar=True,
    help="This worker's stable name in the group (default: the host name). "
    "A restarted worker must keep its id; two live workers must not share one.",
)
@option(
    "--verdict-topic",
    default="trustwatch.verdicts",
    show_default=True,
    envvar="TRUSTWATCH_VERDICT_TOPIC",
    show_envvar=True,
    help="Where verdicts go.",
)
@option(
    "--action-topic",
    default="trustwatch.actions",
    show_default=True,
    envvar="TRUSTWATCH_ACTION_TOPIC",
    show_envvar=True,
    help="Where actions go.",
)
@option(
    "--dead-letter-topic",
    default="trustwatch.dead-letters",
    show_default=True,
    envvar="TRUSTWATCH_DEAD_LETTER_TOPIC",
    show_envvar=True,
    help="Where unreadable messages go, with the reason and their origin.",
)
@option(
    "--state-store",
    default="trustwatch-data/stream.sqlite",
    show_default=True,
    envvar="TRUSTWATCH_STATE_STORE",
    show_envvar=True,
    help="Where partition state is checkpointed: a SQLite file every worker "
    "on this host can reach, or a postgresql:// DSN for workers on several "
    "hosts.",
)
@option(
    "--decision-store",
    envvar="TRUSTWATCH_DECISION_STORE",
    show_envvar=True,
    help="Also write verdicts, actions and dead letters here (a postgresql:// "
    "DSN or a SQLite file), for the review side.",
)
@option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    envvar="TRUSTWATCH_BATCH_SIZE",
    show_envvar=True,
    help="Most messages in one micro-batch (one transaction).",
)
@option(
    "--batch-wait",
    type=Seconds(min=0),
    default=0.0,
    show_default=True,
    envvar="TRUSTWATCH_BATCH_WAIT",
    show_envvar=True,
    help="How long a batch waits, from its first message, for more: seconds "
    "or a duration ('2s') (0: a batch is what has arrived; batches grow with "
    "a backlog).",
)
@option(
    "--checkpoint-interval",
    type=Seconds(min=0.1),
    default=10.0,
    show_default=True,
    envvar="TRUSTWATCH_CHECKPOINT_INTERVAL",
    show_envvar=True,
    help="Time between saves of each partition's state, seconds or a duration "
    "('10s', '5m'); a restart re-reads "
    "what came after the last save to rebuild it (the whole topic if nothing "
    "was saved yet).",
)
@option(
    "--background-checkpoints/--inline-checkpoints",
    default=True,
    show_default=True,
    envvar="TRUSTWATCH_BACKGROUND_CHECKPOINTS",
    show_envvar=True,
    help="Serialise the periodic state saves in a forked child, so that "
    "deciding stalls only for the fork; inline saves stop the loop for the "
    "whole save.",
)
@option(
    "--static-membership",
    is_flag=True,
    envvar="TRUSTWATCH_STATIC_MEMBERSHIP",
    show_envvar=True,
    help="Join the group as a static member named by --worker-id: a worker "
    "restarted within the session timeout (session.timeout.ms) gets its "
    "partitions back without a rebalance; a stopped one does not leave the "
    "group, so its partitions move on only after that timeout.",
)
@option(
    "--overlap-commits/--serial-commits",
    default=True,
    show_default=True,
    envvar="TRUSTWATCH_OVERLAP_COMMITS",
    show_envvar=True,
    help="Commit each batch's transaction while the next batch is read and "
    "decided (its records wait for the commit: one transaction at a time); "
    "serial commits wait for each commit before reading on.",
)
@option(
    "--full-collection-interval",
    type=Seconds(min=0),
    default=3600.0,
    show_default=True,
    envvar="TRUSTWATCH_FULL_COLLECTION_INTERVAL",
    show_envvar=True,
    help="Time between garbage collections over all detector state, seconds "
    "or a duration ('1h') (0: never). Between them the state is frozen out of "
    "the collector, whose passes then see one batch's objects only.",
)
@option(
    "--metrics-address",
    envvar="TRUSTWATCH_METRICS_ADDRESS",
    show_envvar=True,
    metavar="HOST:PORT",
    help="Serve Prometheus metrics at http://HOST:PORT/metrics (off unless "
    "given; e.g. 127.0.0.1:9464). Any address but loopback needs a bearer "
    "token in TRUSTWATCH_METRICS_TOKEN, and should have --metrics-tls-cert.",
)
@option(
    "--metrics-tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="TRUSTWATCH_METRICS_TLS_CERT",
    show_envvar=True,
    help="PEM certificate (chain): serve the metrics over HTTPS, so that the "
    "bearer token does not cross the network in the clear.",
)
@option(
    "--metrics-tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="TRUSTWATCH_METRICS_TLS_KEY",
    show_envvar=True,
    help="The PEM key of --metrics-tls-cert (unencrypted).",
)
@option(
    "--exit-when-idle",
    type=Seconds(min=0.1),
    help="Stop once no message has come for this long, seconds or a duration "
    "('30s', '5m') (backfills, tests); "
    "waiting for partitions counts after the first minute, and restoring "
    "the state of assigned ones does not count. A broker that does not "
    "answer then is an error (exit status 4), not the end of the topics.",
)
@option(
    "--reset-state",
    is_flag=True,
    help="Drop the group's saved partition states and start each partition "
    "from its committed offset with fresh detector state (stop every worker "
    "of the group first).",
)
@option(
    "--format",
    "event_format",
    type=click.Choice(EVENT_FORMATS),
    default="auto",
    show_default=True,
    help="Messages are JSON events, one per message (auto and jsonl; the "
    "file formats of `trustwatch run` do not apply).",
)
@option(
    "--source-tz",
    envvar="TRUSTWATCH_SOURCE_TZ",
    show_envvar=True,
    help="Zone of message timestamps written without one (e.g. UTC, "
    "Europe/Berlin). Without it such messages are dead letters.",
)
@pipeline_options
@intel_source_options
@malicious_file_options
@click.pass_context
def stream(
    ctx: click.Context,
    topics: Sequence[str],
    bootstrap_servers: str,
    kafka_pairs: Sequence[str],
    group: str,
    worker_id: str | None,
    verdict_topic: str,
    action_topic: str,
    dead_letter_topic: str,
    state_store: str,
    decision_store: str | None,
    batch_size: int,
    batch_wait: float,
    checkpoint_interval: float,
    background_checkpoints: bool,
    overlap_commits: bool,
    static_membership: bool,
    full_collection_interval: float,
    metrics_address: str | None,
    metrics_tls_cert: Path | None,
    metrics_tls_key: Path | None,
    exit_when_idle: float | None,
    reset_state: bool,
    event_format: str,
    source_tz: str | None,
    intel_paths: Sequence[str],
    intel_format: str,
    policy: Path | None,
    content_dir: Path | None,
    extra_detectors: Sequence[str],
    graph_model: Path | None,
    url_model: Path | None,
    enforce: bool,
    maxmind_country: Path | None,
    maxmind_asn: Path | None,
    no_geo: bool,
    intel_db: Path | None,
    allowlist_paths: Sequence[str],
    yara_paths: Sequence[str],
    fuzzy_intel_paths: Sequence[str],
) -> None:
    """Consume event topics as a worker of a consumer group and decide.

    Verdicts, actions and dead letters are produced to their topics in Kafka
    transactions with the input offsets; each partition's detector state is
    checkpointed behind them, so a restarted or rebalanced worker carries on
    where the last owner stopped. SIGTERM (or Ctrl-C) finishes the batch,
    commits, checkpoints and leaves the group. A broker that does not answer
    for the transaction timeout (transaction.timeout.ms) ends the worker with
    exit status 4, and so does a stop request while it waits on one.
    """
    from trustwatch.cli.pipeline_setup import (
        build_detectors,
        build_geo,
        checked_policy,
        load_file_scanning,
        load_intel_sources,
    )
    from trustwatch.content.store import ContentStore
    from trustwatch.decisions.engine import DecisionEngine
    from trustwatch.decisions.model import Mode
    from trustwatch.events.decode import EventDecoder
    from trustwatch.runtime.pipeline import Pipeline
    from trustwatch.runtime.stream import StreamMetrics, StreamSettings, StreamWorker
    from trustwatch.runtime.stream.metrics import MetricsServer
    from trustwatch.runtime.stream.settings import parse_kafka_pairs
    from trustwatch.runtime.stream.worker import STREAM_TIME_EVERY
    from trustwatch.storage.checkpoints import open_store

    if event_format not in {"auto", "jsonl"}:
        raise ConfigError(
            f"--format {event_format} does not apply to a stream; hint: messages "
            "are JSON events, as `trustwatch publish` writes them"
        )
    from_file = ctx.meta.get("trustwatch.kafka_file_config", {})
    extra = {} if worker_id is None else {"worker_id": worker_id}
    settings = StreamSettings(
        bootstrap_servers=bootstrap_servers,
        topics=tuple(topics),
        group=group,
        verdict_topic=verdict_topic,
        action_topic=action_topic,
        dead_letter_topic=dead_letter_topic,
        batch_size=batch_size,
        batch_wait=batch_wait,
        checkpoint_interval=checkpoint_interval,
        background_checkpoints=background_checkpoints,
        overlap_commits=overlap_commits,
        static_membership=static_membership,
        full_collection_interval=full_collection_interval,
        kafka_config=parse_kafka_pairs(kafka_pairs, from_file),
        **extra,
    )
    metrics_at = _address(metrics_address)
    chosen = checked_policy(policy)
    intel = load_intel_sources(intel_paths, intel_format, intel_db, allowlist_paths)
    geo = build_geo(maxmind_country, maxmind_asn, no_geo)
    content = ContentStore(content_dir) if content_dir else None
    mode: Mode = "enforce" if enforce else "dry_run"
    # loaded once: every partition's pipeline shares the rules and fuzzy intel
    scanning = load_file_scanning(content, yara_paths, fuzzy_intel_paths)
    # checks the detector names before connecting
    build_detectors(
        intel,
        content,
        extra_detectors,
        graph_model,
        scanning=scanning,
        url_model=url_model,
    )

    def build_pipeline() -> Pipeline:
        detectors = build_detectors(
            intel,
            content,
            extra_detectors,
            graph_model,
            scanning=scanning,
            url_model=url_model,
        )
        # the per-detector time metric is estimated from a regular sample
        return Pipeline(
            detectors,
            DecisionEngine(chosen, mode),
            geo,
            timed=True,
            time_every=STREAM_TIME_EVERY,
        )

    metrics = StreamMetrics()
    server = None
    if metrics_at is not None:
        server = MetricsServer(
            metrics.registry,
            *metrics_at,
            token=os.environ.get(_TOKEN_VARIABLE),
            tls_cert=metrics_tls_cert,
            tls_key=metrics_tls_key,
        )
    checkpoints = open_store(state_store)
    decisions = open_store(decision_store) if decision_store else None
    _record_left_out(
        [
            *(intel.rejected if intel is not None else ()),
            *(scanning.rejected if scanning is not None else ()),
        ],
        decisions,
    )
    worker = StreamWorker(
        settings,
        build_pipeline,
        checkpoints,
        decisions=decisions,
        decoder=EventDecoder(source_tz=source_tz),
        metrics=metrics,
        reset_state=reset_state,
    )

    def graceful(signum: int, frame: object) -> None:
        log.warning("signal %d: finishing the batch, then stopping", signum)
        worker.stop()

    previous = {
        sig: signal.signal(sig, graceful) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    log.info(
        "stream worker %s of group %s starting on %s",
        settings.worker_id,
        settings.group,
        ", ".join(settings.topics),
    )
    try:
        summary = worker.run(idle_timeout=exit_when_idle)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if server is not None:
            server.close()
        checkpoints.close()
        if decisions is not None:
            decisions.close()
    table = Table(
        title=f"trustwatch stream → {clean(settings.verdict_topic)}",
        show_header=False,
        title_justify="left",
    )
    table.add_column(style="bold")
    table.add_column(justify="right")
    rate = summary.events / summary.seconds if summary.seconds else 0.0
    for label, value in (
        ("events", f"{summary.events:,}"),
        ("events/s", f"{rate:,.0f}"),
        ("re-read to rebuild state", f"{summary.replayed:,}"),
        ("re-sent, not decided again", f"{summary.repeats:,}"),
        ("verdicts", f"{summary.verdicts:,}"),
        ("actions", f"{summary.actions:,}"),
        ("dead letters", f"{summary.dead_letters:,}"),
        ("batches (aborted)", f"{summary.batches:,} ({summary.aborted:,})"),
        ("checkpoints", f"{summary.checkpoints:,}"),
    ):
        table.add_row(label, value)
    for decision, n in summary.decisions.most_common():
        table.add_row(f"  {decision}", f"{n:,}")
    console.print(table)
