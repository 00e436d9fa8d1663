"""Options and parameter types shared by several ``trustwatch`` commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from trustwatch.errors import ConfigError, InvalidEventError

__all__ = [
    "DEFAULT_DB",
    "Timestamp",
    "db_option",
    "event_reading_options",
    "geo_options",
    "intel_source_options",
    "kafka_connection_options",
    "malicious_file_options",
    "model_options",
    "pipeline_options",
]

DEFAULT_DB = "trustwatch-data/trustwatch.sqlite"
F = TypeVar("F", bound=Callable[..., Any])


class Timestamp(click.ParamType):  # type: ignore[type-arg]
    """A point in time: ISO 8601 with or without a zone (UTC when absent)."""

    name = "time"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        from trustwatch.events.timestamps import parse_timestamp

        try:
            return parse_timestamp(str(value), default_tz="UTC")
        except InvalidEventError as exc:
            self.fail(f"{value!r} is not a time: {exc}", param, ctx)


def checked_sqlite_store(
    ctx: click.Context, param: click.Parameter, value: Path | None
) -> Path | None:
    """Refuse a PostgreSQL URL or libpq string where a SQLite file is read.

    ``TRUSTWATCH_DB`` may name the PostgreSQL store that `serve` reads; taken
    as a path, it would name a file (a password in it, perhaps). It is not
    repeated in the message.
    """
    from trustwatch.storage.checkpoints import POSTGRES_SCHEMES, check_not_keyword_dsn

    if value is None:
        return value
    text = str(value)
    # a path collapses the scheme's two slashes into one
    postgres = text.startswith(tuple(s.rstrip("/") for s in POSTGRES_SCHEMES))
    try:
        check_not_keyword_dsn(text)
    except ConfigError:
        postgres = True
    if postgres:
        raise click.BadParameter(
            "it names a PostgreSQL store, and this command reads and writes a "
            "SQLite file; hint: pass --db FILE (a PostgreSQL decision store is "
            "written by `trustwatch stream --decision-store` and read through "
            "`trustwatch serve --db`)",
            ctx,
            param,
        )
    return value


def db_option(func: F) -> F:
    """Add the ``--db`` option shared by the commands that use the store."""
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_DB,
        show_default=True,
        envvar="TRUSTWATCH_DB",
        show_envvar=True,
        callback=checked_sqlite_store,
        help="The embedded store (SQLite file).",
    )(func)


#: The ``--format`` choices of commands that read events.
EVENT_FORMATS = ("auto", "jsonl", "parquet", "sshlog")


def event_reading_options(func: F) -> F:
    """Add the options that say how event files are read: format and zone."""
    func = click.option(
        "--source-tz",
        envvar="TRUSTWATCH_SOURCE_TZ",
        show_envvar=True,
        help="Zone of timestamps written without one, and of syslog lines "
        "(e.g. UTC, Europe/Berlin). Without it such timestamps are refused, "
        "except syslog lines, read as UTC with a warning.",
    )(func)
    return click.option(
        "--format",
        "event_format",
        type=click.Choice(EVENT_FORMATS),
        default="auto",
        show_default=True,
        help="Format of the event files (auto goes by each file's name).",
    )(func)


def geo_options(func: F) -> F:
    """Add the options that choose how source addresses are geolocated."""
    file = click.Path(exists=True, dir_okay=False, path_type=Path)
    func = click.option(
        "--no-geo", is_flag=True, help="Key networks by address prefix only."
    )(func)
    func = click.option(
        "--maxmind-asn",
        type=file,
        envvar="TRUSTWATCH_MAXMIND_ASN",
        show_envvar=True,
        help="A GeoLite2/GeoIP2 ASN file.",
    )(func)
    return click.option(
        "--maxmind-country",
        type=file,
        envvar="TRUSTWATCH_MAXMIND_COUNTRY",
        show_envvar=True,
        help="A GeoLite2/GeoIP2 country or city file (else the bundled data).",
    )(func)


def pipeline_options(func: F) -> F:
    """Add the options that choose what runs: intel, policy, detectors, geo."""
    func = geo_options(func)
    for option in reversed(_PIPELINE_OPTIONS):
        func = option(func)
    return func


_GRAPH_MODEL = click.option(
    "--graph-model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="TRUSTWATCH_GRAPH_MODEL",
    show_envvar=True,
    help="Also run the graph_scores detector with this account model "
    "(`trustwatch rings train` writes one).",
)
_URL_MODEL = click.option(
    "--url-model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="TRUSTWATCH_URL_MODEL",
    show_envvar=True,
    help="Score URLs, and links in uploaded files, with this model "
    "(`trustwatch url train` or `train urls` writes one) instead of the "
    "shipped one.",
)
_PIPELINE_OPTIONS = [
    click.option(
        "--intel",
        "intel_paths",
        multiple=True,
        help="A threat-intel file, directory or glob; repeat for more.",
    ),
    click.option(
        "--intel-format",
        default="auto",
        show_default=True,
        envvar="TRUSTWATCH_INTEL_FORMAT",
        show_envvar=True,
        help="Format of the intel files (auto sniffs each).",
    ),
    click.option(
        "--policy",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        envvar="TRUSTWATCH_POLICY",
        show_envvar=True,
        help="A policy file; the shipped default otherwise.",
    ),
    click.option(
        "--content-dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        envvar="TRUSTWATCH_CONTENT_DIR",
        show_envvar=True,
        help="A folder of uploaded files named by SHA-256 (flat or ab/cd/ fan-out): "
        "uploads found there are checked for phishing links, forms and lures.",
    ),
    click.option(
        "--add-detector",
        "extra_detectors",
        multiple=True,
        metavar="NAME",
        envvar="TRUSTWATCH_ADD_DETECTORS",
        show_envvar=True,
        help="Also run this registered detector, off by default (communities, "
        "dense_blocks; graph_scores comes with --graph-model); repeat for more "
        "(in the variable, separate names by spaces). `trustwatch detectors` "
        "lists them.",
    ),
    _GRAPH_MODEL,
    _URL_MODEL,
    click.option(
        "--enforce", is_flag=True, help="Mark actions for dispatch, not dry run."
    ),
]


def model_options(func: F) -> F:
    """Add --graph-model and --url-model: the trained models detectors use."""
    return _GRAPH_MODEL(_URL_MODEL(func))


def kafka_connection_options(func: F) -> F:
    """Add the options that reach a Kafka cluster: servers and client settings."""
    func = click.option(
        "--kafka-config",
        "kafka_pairs",
        multiple=True,
        metavar="KEY=VALUE",
        envvar="TRUSTWATCH_KAFKA_CONFIG",
        show_envvar=True,
        help="A librdkafka client setting, e.g. security.protocol=SASL_SSL; "
        "repeat for more (in the variable, separate settings by spaces).",
    )(func)
    return click.option(
        "--bootstrap-servers",
        default="127.0.0.1:9092",
        show_default=True,
        envvar="TRUSTWATCH_BOOTSTRAP_SERVERS",
        show_envvar=True,
        help="Kafka brokers to start from, HOST:PORT[,HOST:PORT...].",
    )(func)


def malicious_file_options(func: F) -> F:
    """Add the options that scan uploads for malware: YARA rules, fuzzy intel."""
    func = click.option(
        "--fuzzy-intel",
        "fuzzy_intel_paths",
        multiple=True,
        type=click.Path(exists=True, dir_okay=False),
        envvar="TRUSTWATCH_FUZZY_INTEL",
        show_envvar=True,
        help="A file of known-bad fuzzy hashes, one `tlsh:HASH` or "
        "`ssdeep:HASH` a line (optional `;comment`); repeat for more. "
        "Needs --content-dir.",
    )(func)
    return click.option(
        "--yara",
        "yara_paths",
        multiple=True,
        envvar="TRUSTWATCH_YARA",
        show_envvar=True,
        help="YARA rule files, folders or globs to scan uploads with; each rule "
        "loads or is rejected on its own. Needs --content-dir.",
    )(func)


def intel_source_options(func: F) -> F:
    """Add the intel database and the allow-lists that filter loaded intel."""
    func = click.option(
        "--allowlist",
        "allowlist_paths",
        multiple=True,
        metavar="PATH",
        envvar="TRUSTWATCH_ALLOWLIST",
        show_envvar=True,
        help="MISP warninglist files (list.json), folders or globs of known-benign "
        "values: --intel and --intel-db indicators they hold are left out as dead "
        "letters (allow_listed); repeat for more (in the variable, separate "
        "paths by spaces).",
    )(func)
    return click.option(
        "--intel-db",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        envvar="TRUSTWATCH_INTEL_DB",
        show_envvar=True,
        help="An intel database kept by `trustwatch intel sync`: its live "
        "indicators are matched too.",
    )(func)
