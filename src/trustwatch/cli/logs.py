"""How the command line logs: plain lines for people, JSON lines for machines.

``--log-format json`` writes one JSON object per record (``ts``, ``level``,
``logger``, ``message``, and ``error`` when an exception is attached), ready
for a log shipper. Messages are the same in both formats; trustwatch's log
messages carry ids and counts, never raw records or personal data. The
``httpx`` and ``httpcore`` loggers are held at ``WARNING``: their request lines
would show URLs with their query strings (where API keys often are).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import msgspec

__all__ = ["JsonFormatter", "configure_logging"]

_encode = msgspec.json.Encoder().encode
_QUIET_LOGGERS = ("httpx", "httpcore")


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


def configure_logging(level: int, log_format: str = "text") -> None:
    """Send logs at ``level`` and above to standard error, as text or JSON."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    # HTTP client libraries log request URLs, query strings (API keys) included
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
