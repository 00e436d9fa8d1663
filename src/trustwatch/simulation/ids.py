"""Deterministic identifiers and timestamps for simulated events.

Simulated time is kept as float seconds since the Unix epoch (cheap to add
and compare) and turned into an aware :class:`~datetime.datetime` only when an
event is built. Identifiers come from counters or from the run's seeded
:class:`random.Random`, never from the clock, so one seed gives one stream.
"""

from __future__ import annotations

import itertools
from base64 import urlsafe_b64encode
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from random import Random

__all__ = [
    "IdSpace",
    "at",
    "counter",
    "epoch_seconds",
    "hex_token",
    "link_token",
    "token",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"


def at(seconds: float) -> datetime:
    """Return the aware UTC datetime ``seconds`` after the Unix epoch."""
    return datetime.fromtimestamp(seconds, UTC)


def epoch_seconds(moment: datetime) -> float:
    """Return an aware datetime as float seconds since the Unix epoch."""
    return (moment - _EPOCH).total_seconds()


def token(rng: Random, length: int, *, lower: bool = False) -> str:
    """Return a random alphanumeric token (lowercase only with ``lower``)."""
    alphabet = _LOWER if lower else _ALPHABET
    return "".join(rng.choices(alphabet, k=length))


def hex_token(rng: Random, bits: int) -> str:
    """Return ``bits`` random bits (a multiple of 8) as lowercase hex."""
    return rng.randbytes(bits >> 3).hex()


def link_token(rng: Random) -> str:
    """Return a 12-character URL-safe random id, as shared-link ids look."""
    return urlsafe_b64encode(rng.randbytes(9)).decode("ascii")


def counter(prefix: str) -> Callable[[], str]:
    """Return a callable handing out unique ids ``<prefix><n>``, ``n`` in hex.

    The callable is built from C-level pieces (``next`` over a ``map`` of
    ``str.format``), as the simulator calls it once per event.
    """
    return partial(next, map(f"{prefix}{{:x}}".format, itertools.count(1)))


class IdSpace:
    """The counters of one run: events, sessions and files.

    Parameters
    ----------
    seed
        Seed of the run, written into every id so runs can be told apart.
    """

    __slots__ = ("event", "file", "session")

    def __init__(self, seed: int) -> None:
        self.event = counter(f"ev-{seed}-")
        self.session = counter(f"ses-{seed}-")
        self.file = counter(f"file-{seed}-")
