"""What the Kafka client says, without the values of its settings.

librdkafka's errors, exceptions and log lines may repeat the value of a
setting (``Invalid value "..." for configuration property "..."``, or a
warning that a property is ``set to`` some value), and the values given with
``--kafka-config`` or a ``[kafka]`` table may be credentials. Every text of
the client that reaches output goes through :class:`ClientText` first: it
keeps the names of settings (they are not secret) and hides their values.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

from trustwatch.errors import ConfigError

__all__ = ["HIDDEN", "ClientLogger", "ClientText"]

#: What stands in the client's text where a setting's value was.
HIDDEN = "<hidden>"
#: Values shorter than this are not looked for in the client's text: they
#: carry no secret, and hiding them would blot out common words and numbers.
_SHORTEST_HIDDEN = 4
_NAME = r"[A-Za-z0-9._-]{1,80}"
#: Where librdkafka writes a value, whatever it is (it may also rewrite the
#: value, as when a number overflows, so looking for the given one is not
#: enough).
_VALUE_SHAPES = (
    # Invalid value "X" for configuration property "K"; Unsupported value "X"
    (re.compile(r'\b(value) "[^"]*"'), r"\1"),
    # Configuration property `K` set to `X` (and "set to 'X'")
    (re.compile(r"\b(set to) (`[^`]*`|'[^']*'|\"[^\"]*\")"), rf"\1 {HIDDEN}"),
    # Configuration property "K" value N is outside allowed range
    (re.compile(rf'(property "{_NAME}") value \S+'), r"\1 value"),
)
#: Where librdkafka writes the name of a setting.
_NAME_SHAPES = (
    # No such configuration property: "K"; Invalid value for configuration
    # property "K"; Configuration property "K" value ... is outside ...
    re.compile(rf"property:? [\"`]({_NAME})[\"`]"),
    # Expected bool value for "K": true or false
    re.compile(rf'value for "({_NAME})"'),
    # Failed to create producer: K failed: ... (a file the client cannot read)
    re.compile(rf"(?:^|: )({_NAME}) failed:"),
    # `K1` is mandatory when `K2` is set (a dotted name, not a value)
    re.compile(r"(?<!set to )`([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+)`"),
)


class ClientText:
    """Hides the values of Kafka settings in what the Kafka client says.

    Parameters
    ----------
    config
        The settings given to the client by the user (``--kafka-config``, a
        ``[kafka]`` table): their names may be shown, their values never.

    Examples
    --------
    >>> text = ClientText({"sasl.password": "hunter2-secret"})
    >>> text("SASL authentication failed for hunter2-secret")
    'SASL authentication failed for <hidden>'
    """

    def __init__(self, config: Mapping[str, object]) -> None:
        self._config = {key: str(value) for key, value in config.items()}
        values = {str(value) for value in config.values()}
        found = sorted(
            (v for v in values if len(v) >= _SHORTEST_HIDDEN), key=len, reverse=True
        )
        self._values = frozenset(values)
        self._given = (
            re.compile(
                r"(?<![A-Za-z0-9])(?:"
                + "|".join(re.escape(v) for v in found)
                + r")(?![A-Za-z0-9])"
            )
            if found
            else None
        )

    def __call__(self, text: str) -> str:
        """Return ``text`` with every setting's value hidden."""
        for shape, replacement in _VALUE_SHAPES:
            text = shape.sub(replacement, text)
        if self._given is not None:
            text = self._given.sub(HIDDEN, text)
        return text

    def named(self, text: str) -> list[str]:
        """Return the names of settings that the client's ``text`` speaks of.

        The names librdkafka quotes, in the order they come; failing those,
        the given settings whose names or values the text holds.
        """
        names: list[str] = []
        for shape in _NAME_SHAPES:
            for found in shape.finditer(text):
                _add(names, found.group(1), self._values)
        if names:
            return names
        for key in self._config:
            if _holds(text, key):
                _add(names, key, self._values)
        if names:
            return names
        for key, value in self._config.items():
            if len(value) >= _SHORTEST_HIDDEN and _holds(text, value):
                _add(names, key, ())
        return names

    def refused(self, exc: BaseException, client: str = "Kafka client") -> ConfigError:
        """The error for a client that refused its settings at creation.

        It names the settings the client spoke of, never their values.
        """
        text = str(exc)
        names = self.named(text)
        quoted = ", ".join(repr(name) for name in names)
        if "No such configuration property" in text and names:
            what = f"has no setting {quoted}"
        elif len(names) == 1:
            what = f"refused its setting {quoted}"
        elif names:
            what = f"refused its settings {quoted}"
        else:
            what = "refused its settings"
        return ConfigError(
            f"the {client} {what}; hint: check the names and values given with "
            "--kafka-config or in the [kafka] table"
        )

    def logger(self, name: str = "trustwatch.kafka") -> ClientLogger:
        """A logger for the client's ``logger`` setting that hides values."""
        return ClientLogger(logging.getLogger(name), self)


class ClientLogger:
    """Forwards the Kafka client's log lines to a logger, values hidden.

    The client calls :meth:`log` as it would call :meth:`logging.Logger.log`.
    """

    def __init__(self, logger: logging.Logger, text: ClientText) -> None:
        self._logger = logger
        self._text = text

    def log(self, level: int, msg: object, *args: object, **kwargs: object) -> None:
        """Log the client's line with the values of settings hidden."""
        line = str(msg) % args if args else str(msg)
        self._logger.log(level, "%s", self._text(line))


def _add(names: list[str], name: str, values: Iterable[str]) -> None:
    if name not in names and name not in values:
        names.append(name)


def _holds(text: str, word: str) -> bool:
    """Whether ``text`` holds ``word`` with no letter or digit either side."""
    return (
        re.search(rf"(?<![A-Za-z0-9]){re.escape(word)}(?![A-Za-z0-9])", text)
        is not None
    )
