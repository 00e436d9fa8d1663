"""Options and parameter types shared by several ``trustwatch`` commands.

:class:`Seconds` is the type of every time option: a finite number of seconds
or a duration such as ``"10s"`` or ``"5m"``. :func:`option` declares an option
whose errors name where its value came from: the command line, an
environment variable, or a settings file (``trustwatch stream --config``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from trustwatch.cli.params import FiniteFloatRange
from trustwatch.errors import ConfigError, InvalidEventError

__all__ = [
    "CONFIG_FILE_KEY",
    "DEFAULT_DB",
    "Seconds",
    "SourcedOption",
    "Timestamp",
    "db_option",
    "event_reading_options",
    "geo_options",
    "intel_source_options",
    "kafka_connection_options",
    "malicious_file_options",
    "model_options",
    "option",
    "pipeline_options",
    "unsourced_option_hint",
]

DEFAULT_DB = "trustwatch-data/trustwatch.sqlite"
F = TypeVar("F", bound=Callable[..., Any])
#: ``ctx.meta`` key of the settings file whose values are the command's
#: defaults (its name, as shown in messages).
CONFIG_FILE_KEY = "trustwatch.config_file"
#: ``ctx.meta`` key of where each :class:`SourcedOption` took its value from.
_SOURCES_KEY = "trustwatch.option_sources"
#: A duration of nothing, which the duration parser (positive only) refuses.
_ZERO_DURATION = re.compile(r"0+[smhdw]", re.ASCII)


class Seconds(FiniteFloatRange):
    """A time option: seconds, or a duration such as ``"10s"`` or ``"5m"``.

    A plain number is seconds (fractions allowed); a whole number and a unit
    (s, m, h, d, w) is read as a feed list's ``timeout`` is, by
    :func:`trustwatch.intel.feedlist.parse_duration`. ``nan`` and infinities
    are refused, and so is anything outside the range.

    Examples
    --------
    >>> Seconds(min=0.1).convert("5m", None, None)
    300.0
    >>> Seconds(min=0.1).convert("2.5", None, None)
    2.5
    """

    name = "seconds"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Any:
        from trustwatch.intel.feedlist import parse_duration

        given = value
        if isinstance(value, bool):  # a TOML true is no number of seconds
            self._refuse(value, param, ctx)
        if isinstance(value, str):
            text = value.strip()
            if _ZERO_DURATION.fullmatch(text):
                value = 0.0
            else:
                try:
                    value = parse_duration(text).total_seconds()
                except ConfigError:
                    try:
                        value = float(text)
                    except ValueError:
                        self._refuse(value, param, ctx)
        if isinstance(value, int | float) and not math.isfinite(value):
            self.fail(
                f"{given!r} is not a finite number of seconds in the range "
                f"{self._describe_range()}; hint: give seconds or a duration, "
                "e.g. 30 or '5m'",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)

    def _refuse(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> None:
        self.fail(
            f"{value!r} is not seconds or a duration; hint: give seconds (30, "
            "2.5) or a whole number and a unit: '10s', '5m', '1h', '1d'",
            param,
            ctx,
        )


class SourcedOption(click.Option):
    """An option whose errors name where its bad value came from.

    click names an option's environment variable in every error about its
    value, whether the variable is set or not. This option names it only
    when the value came from it, names the settings file (the
    :data:`CONFIG_FILE_KEY` of ``ctx.meta``) when the value came from there,
    and names just the option when it was given on the command line. An
    error about a missing value still names the variable, a way to give it.
    """

    def consume_value(
        self, ctx: click.Context, opts: Mapping[str, click.Parameter]
    ) -> tuple[Any, ParameterSource]:
        value, source = super().consume_value(ctx, opts)
        ctx.meta.setdefault(_SOURCES_KEY, {})[self] = source
        return value, source

    def get_error_hint(self, ctx: click.Context | None) -> str:
        plain = " / ".join(f"'{flag}'" for flag in self.opts)
        source = ctx.meta.get(_SOURCES_KEY, {}).get(self) if ctx is not None else None
        if source is ParameterSource.COMMANDLINE:
            return plain
        if source is ParameterSource.ENVIRONMENT:
            names = [self.envvar] if isinstance(self.envvar, str) else self.envvar
            found = next((name for name in names or () if os.environ.get(name)), None)
            return f"{plain} (env var: '{found}')" if found else plain
        if source is ParameterSource.DEFAULT_MAP and ctx is not None:
            origin = ctx.meta.get(CONFIG_FILE_KEY)
            key = max(self.opts, key=len).lstrip("-")
            return f"'{key}' in {origin}" if origin else plain
        return super().get_error_hint(ctx)


def option(*decls: str, **attrs: Any) -> Callable[[F], F]:
    """Declare an option as :func:`click.option` does, as a :class:`SourcedOption`."""
    return click.option(*decls, cls=SourcedOption, **attrs)


def unsourced_option_hint(exc: click.BadParameter) -> None:
    """Stop an error blaming an environment variable that is not set.

    For an option declared without :func:`option`, click names the variable
    in every error about the value; when the variable is not set, the value
    came from elsewhere, and the error names the option only.
    """
    param, ctx = exc.param, exc.ctx
    if (
        isinstance(exc, click.MissingParameter)
        or exc.param_hint is not None
        or not isinstance(param, click.Option)
        or isinstance(param, SourcedOption)
        or not param.envvar
        or ctx is None
    ):
        return
    if param.resolve_envvar_value(ctx) is None:
        exc.param_hint = " / ".join(f"'{flag}'" for flag in param.opts)


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
    return option(
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
    func = option(
        "--source-tz",
        envvar="TRUSTWATCH_SOURCE_TZ",
        show_envvar=True,
        help="Zone of timestamps written without one, and of syslog lines "
        "(e.g. UTC, Europe/Berlin). Without it such timestamps are refused, "
        "except syslog lines, read as UTC with a warning.",
    )(func)
    return option(
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
    func = option(
        "--no-geo", is_flag=True, help="Key networks by address prefix only."
    )(func)
    func = option(
        "--maxmind-asn",
        type=file,
        envvar="TRUSTWATCH_MAXMIND_ASN",
        show_envvar=True,
        help="A GeoLite2/GeoIP2 ASN file.",
    )(func)
    return option(
        "--maxmind-country",
        type=file,
        envvar="TRUSTWATCH_MAXMIND_COUNTRY",
        show_envvar=True,
        help="A GeoLite2/GeoIP2 country or city file (else the bundled data).",
    )(func)


def pipeline_options(func: F) -> F:
    """Add the options that choose what runs: intel, policy, detectors, geo."""
    func = geo_options(func)
    for add in reversed(_PIPELINE_OPTIONS):
        func = add(func)
    return func


_GRAPH_MODEL = option(
    "--graph-model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="TRUSTWATCH_GRAPH_MODEL",
    show_envvar=True,
    help="Also run the graph_scores detector with this account model "
    "(`trustwatch rings train` writes one).",
)
_URL_MODEL = option(
    "--url-model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="TRUSTWATCH_URL_MODEL",
    show_envvar=True,
    help="Score URLs, and links in uploaded files, with this model "
    "(`trustwatch url train` or `train urls` writes one) instead of the "
    "shipped one.",
)
_PIPELINE_OPTIONS = [
    option(
        "--intel",
        "intel_paths",
        multiple=True,
        help="A threat-intel file, directory or glob; repeat for more.",
    ),
    option(
        "--intel-format",
        default="auto",
        show_default=True,
        envvar="TRUSTWATCH_INTEL_FORMAT",
        show_envvar=True,
        help="Format of the intel files (auto sniffs each).",
    ),
    option(
        "--policy",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        envvar="TRUSTWATCH_POLICY",
        show_envvar=True,
        help="A policy file; the shipped default otherwise.",
    ),
    option(
        "--content-dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        envvar="TRUSTWATCH_CONTENT_DIR",
        show_envvar=True,
        help="A folder of uploaded files named by SHA-256 (flat or ab/cd/ fan-out): "
        "uploads found there are checked for phishing links, forms and lures.",
    ),
    option(
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
    option("--enforce", is_flag=True, help="Mark actions for dispatch, not dry run."),
]


def model_options(func: F) -> F:
    """Add --graph-model and --url-model: the trained models detectors use."""
    return _GRAPH_MODEL(_URL_MODEL(func))


def kafka_connection_options(func: F) -> F:
    """Add the options that reach a Kafka cluster: servers and client settings."""
    func = option(
        "--kafka-config",
        "kafka_pairs",
        multiple=True,
        metavar="KEY=VALUE",
        envvar="TRUSTWATCH_KAFKA_CONFIG",
        show_envvar=True,
        help="A librdkafka client setting, e.g. security.protocol=SASL_SSL; "
        "repeat for more (in the variable, separate settings by spaces).",
    )(func)
    return option(
        "--bootstrap-servers",
        default="127.0.0.1:9092",
        show_default=True,
        envvar="TRUSTWATCH_BOOTSTRAP_SERVERS",
        show_envvar=True,
        help="Kafka brokers to start from, HOST:PORT[,HOST:PORT...].",
    )(func)


def malicious_file_options(func: F) -> F:
    """Add the options that scan uploads for malware: YARA rules, fuzzy intel."""
    func = option(
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
    return option(
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
    func = option(
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
    return option(
        "--intel-db",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        envvar="TRUSTWATCH_INTEL_DB",
        show_envvar=True,
        help="An intel database kept by `trustwatch intel sync`: its live "
        "indicators are matched too.",
    )(func)
