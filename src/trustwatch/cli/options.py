"""Options and parameter types shared by several ``trustwatch`` commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from trustwatch.errors import InvalidEventError

__all__ = ["DEFAULT_DB", "Timestamp", "db_option", "geo_options"]

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


def db_option(func: F) -> F:
    """Add the ``--db`` option shared by the commands that use the store."""
    return click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_DB,
        show_default=True,
        envvar="TRUSTWATCH_DB",
        show_envvar=True,
        help="The embedded store (SQLite file).",
    )(func)


def event_reading_options(func: F) -> F:
    """Add the options that say how event files are read: format and zone."""
    func = click.option(
        "--source-tz",
        envvar="TRUSTWATCH_SOURCE_TZ",
        show_envvar=True,
        help="Zone of timestamps written without one, and of syslog lines "
        "(e.g. UTC, Europe/Berlin); such timestamps are refused without it.",
    )(func)
    return click.option(
        "--format",
        "event_format",
        type=click.Choice(["auto", "jsonl", "parquet", "sshlog"]),
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
