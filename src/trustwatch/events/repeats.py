"""Recognise a record sent again: the same bytes within a recent window.

Producers upstream of trustwatch deliver at least once, and replays re-send
whole files: the same record can arrive twice. Deciding it twice would count
it twice in every window and baseline. :class:`RepeatFilter` remembers an
8-byte BLAKE2b digest of each of the last ``size`` records it has let through
and tells a repeat from a new record; its memory is a plain bytes blob, so it
can be checkpointed with the state it protects. :class:`RepeatedEvents` tells
a decoded event read again from a new one, by the event's encoding whatever
the file format it came in: every command that reads event files as
``trustwatch run`` does skips repeats with it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import msgspec

from trustwatch.events.model import EventBase

__all__ = ["DEFAULT_WINDOW", "RepeatFilter", "RepeatedEvents"]

#: Records remembered by default (per partition in a stream worker).
DEFAULT_WINDOW = 50_000
_DIGEST = 8  # bytes: among 50,000 records a false repeat has odds of ~1e-10


class RepeatFilter:
    """Remember the last ``size`` records; say whether one is a repeat.

    Examples
    --------
    >>> seen = RepeatFilter(size=2)
    >>> [seen.is_repeat(r) for r in (b"a", b"b", b"a", b"c", b"a")]
    [False, False, True, False, True]
    """

    def __init__(self, size: int = DEFAULT_WINDOW) -> None:
        if size < 1:
            raise ValueError("a repeat filter remembers at least one record")
        self.size = size
        self._seen: OrderedDict[bytes, None] = OrderedDict()

    def is_repeat(self, record: bytes) -> bool:
        """Return whether ``record`` was seen lately; remember it if not."""
        digest = hashlib.blake2b(record, digest_size=_DIGEST).digest()
        if digest in self._seen:
            self._seen.move_to_end(digest)
            return True
        self._seen[digest] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._seen)

    def get_state(self) -> bytes:
        """Return the remembered digests, oldest first, as one blob."""
        return b"".join(self._seen)

    def set_state(self, state: bytes) -> None:
        """Restore what :meth:`get_state` returned.

        Raises
        ------
        ValueError
            When the blob is not a whole number of digests.
        """
        if len(state) % _DIGEST:
            raise ValueError("the remembered digests are damaged")
        digests = [state[i : i + _DIGEST] for i in range(0, len(state), _DIGEST)]
        self._seen = OrderedDict.fromkeys(digests[-self.size :])


class RepeatedEvents:
    """Tell an event identical to one read lately from a new one; count repeats.

    An event repeats another when their MessagePack encodings are the same
    bytes, so a line repeated or a file given twice is told whatever format
    the file is in. ``trustwatch run``, ``backtest`` and the commands that
    train on event files all skip repeats this way.

    Parameters
    ----------
    recent
        The records remembered; a fresh window of :data:`DEFAULT_WINDOW`
        when ``None`` (pass a restored one to carry a checkpoint over).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> from trustwatch.events.model import Login
    >>> when = datetime(2026, 1, 1, tzinfo=UTC)
    >>> login = Login(event_id="e1", ts=when, account="a", success=True)
    >>> repeated = RepeatedEvents()
    >>> [repeated.is_repeat(login), repeated.is_repeat(login)], repeated.skipped
    ([False, True], 1)
    """

    def __init__(self, recent: RepeatFilter | None = None) -> None:
        self.recent = RepeatFilter() if recent is None else recent
        #: Events told as repeats so far.
        self.skipped = 0
        self._encode = msgspec.msgpack.Encoder().encode

    def is_repeat(self, event: EventBase) -> bool:
        """Return whether ``event`` repeats one read lately; remember it if not."""
        if self.recent.is_repeat(self._encode(event)):
            self.skipped += 1
            return True
        return False
