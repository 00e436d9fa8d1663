"""How the command line logs: plain lines for people, JSON lines for machines.

``--log-format json`` writes one JSON object per record (``ts``, ``level``,
``logger``, ``message``, and ``error`` when an exception is attached), ready
for a log shipper. The errors, warnings and notes the commands print
themselves on standard error (:class:`StderrConsole`) become such objects
too, from the ``trustwatch.cli`` logger, so that every line on standard error
is one JSON object. Messages are the same in both formats; trustwatch's log
messages carry ids and counts, never raw records or personal data. The
``httpx`` and ``httpcore`` loggers are held at ``WARNING``: their request lines
would show URLs with their query strings (where API keys often are).
"""

from __future__ import annotations

import io
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec
from rich.console import Console

__all__ = [
    "JsonFormatter",
    "StderrConsole",
    "configure_logging",
    "json_lines",
    "print_json_line",
]

_encode = msgspec.json.Encoder().encode
_QUIET_LOGGERS = ("httpx", "httpcore")
#: The logger named by the lines the commands print themselves.
CLI_LOGGER = "trustwatch.cli"
#: Leading words of a printed line, and the level they give it: the word is
#: dropped from the message (the level says it), a dead letter keeps its own.
_LEVEL_PREFIXES = (
    ("error: ", logging.ERROR, True),
    ("warning: ", logging.WARNING, True),
    ("note: ", logging.INFO, True),
    ("dead letter: ", logging.WARNING, False),
)
#: Whether the command line logs as JSON lines (set by configure_logging).
_json = {"lines": False}


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _encode(entry).decode()


def json_lines() -> bool:
    """Say whether standard error takes JSON lines (``--log-format json``)."""
    return _json["lines"]


def print_json_line(
    message: str, level: int | None = None, *, file: Any = None
) -> None:
    """Write one printed message to standard error as a JSON log line.

    Parameters
    ----------
    message
        The text as it would be printed; a leading ``error:``, ``warning:``
        or ``note:`` gives the level (and is dropped), a ``dead letter:``
        line is a warning, and anything else is information.
    level
        The level, instead of the one read from the message.
    file
        Where to write (standard error at the time of the call by default).
    """
    found = logging.INFO
    for prefix, prefix_level, drop in _LEVEL_PREFIXES:
        if message.startswith(prefix):
            found = prefix_level
            message = message[len(prefix) :] if drop else message
            break
    record = logging.LogRecord(
        CLI_LOGGER, found if level is None else level, "", 0, message, None, None
    )
    out = file if file is not None else sys.stderr
    out.write(JsonFormatter().format(record) + "\n")
    out.flush()


class StderrConsole(Console):
    """The console for errors and progress: JSON lines under ``--log-format json``.

    With JSON logs, each :meth:`print` is one JSON object (see
    :func:`print_json_line`) and the console is no terminal, so that no
    progress display is drawn among the lines; otherwise it is a plain
    :class:`~rich.console.Console`.
    """

    @property
    def is_terminal(self) -> bool:
        """Whether to draw for a terminal: never while logging JSON lines."""
        return not json_lines() and super().is_terminal

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """Print ``objects``, or write them as one JSON line."""
        if not json_lines():
            super().print(*objects, **kwargs)
            return
        buffer = io.StringIO()
        plain = Console(
            file=buffer,
            color_system=None,
            markup=False,
            highlight=False,
            emoji=False,
            soft_wrap=True,
            width=self.width,
        )
        kwargs.pop("style", None)
        plain.print(*objects, **kwargs)
        print_json_line(buffer.getvalue().rstrip("\n"), file=self.file)


def configure_logging(level: int, log_format: str = "text") -> None:
    """Send logs at ``level`` and above to standard error, as text or JSON.

    With ``json``, the lines of :class:`StderrConsole` are JSON objects too.
    """
    _json["lines"] = log_format == "json"
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    # HTTP client libraries log request URLs, query strings (API keys) included
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
