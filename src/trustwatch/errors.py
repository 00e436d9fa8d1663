"""One exception tree for the whole package.

Every error trustwatch raises on purpose derives from :class:`TrustwatchError`.
Messages name the bad value, the step that met it, and a hint where one helps.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "IntelSourceError",
    "InvalidEventError",
    "InvalidIndicatorError",
    "InvalidUrlError",
    "PolicyError",
    "StorageError",
    "TrustwatchError",
]


class TrustwatchError(Exception):
    """Base of every error raised by trustwatch."""


class InvalidEventError(TrustwatchError, ValueError):
    """An input record cannot become an event; it goes to the dead-letter store.

    ``reason`` is a short stable code (``"malformed_json"``, ``"duplicate_key"``,
    ``"too_deep"``, ``"too_large"``, ``"schema"``, ``"timestamp"``...) and the
    message says what was wrong in words.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidUrlError(TrustwatchError, ValueError):
    """A string is not a URL that a browser would load; it gets no score."""


class InvalidIndicatorError(TrustwatchError, ValueError):
    """A threat-intel record cannot become an indicator."""


class IntelSourceError(TrustwatchError):
    """A threat-intel server could not be read: HTTP, auth, TLS or protocol.

    The message names the server and collection, never the credentials, and
    ends with a hint.
    """


class PolicyError(TrustwatchError):
    """A policy file is invalid; the message points at the rule."""


class ConfigError(TrustwatchError):
    """A setting or option has a value trustwatch cannot use."""


class StorageError(TrustwatchError):
    """The embedded or external store refused an operation."""
