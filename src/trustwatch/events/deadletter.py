"""Records that could not become events, kept for inspection and reprocessing.

A :class:`DeadLetter` says where a bad record came from, why it was refused (a
stable ``reason`` code shared with :class:`~trustwatch.errors.InvalidEventError`)
and holds the record itself so that it can be replayed once the cause is fixed.
Its ``raw`` text may hold personal data: it is stored, never logged, and left
out of ``repr``.
"""

from __future__ import annotations

import hashlib

import msgspec

__all__ = ["MAX_RAW_CHARS", "DeadLetter"]

MAX_RAW_CHARS = 4096
"""Characters of the offending record a dead letter keeps."""


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """An input record that could not become an event.

    Attributes
    ----------
    source
        The file path or stream topic the record came from.
    location
        Where in the source: ``"line 17"``, ``"row 3"``, ``"offset 42"``.
    reason
        A stable code such as ``"malformed_json"`` or ``"timestamp"``.
    message
        What was wrong, in words.
    raw
        The record as read, cut to :data:`MAX_RAW_CHARS` characters.
    dead_letter_id
        A deterministic id: the first 32 hex digits of a SHA-256 over source,
        location and the whole record, so the same record read twice from the
        same place gets the same id.
    """

    source: str
    location: str
    reason: str
    message: str
    raw: str
    dead_letter_id: str

    @classmethod
    def build(
        cls, source: str, location: str, reason: str, message: str, raw: bytes | str
    ) -> DeadLetter:
        """Make a dead letter, computing its id and truncating ``raw``.

        Bytes that are not UTF-8 (and lone surrogates in text) are kept as
        ``\\xNN`` escapes so that the record stays distinguishable and encodable.

        Examples
        --------
        >>> letter = DeadLetter.build("in.jsonl", "line 3", "malformed_json",
        ...                           "JSON is malformed", b"{oops")
        >>> letter.raw, len(letter.dead_letter_id)
        ('{oops', 32)
        """
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        digest = hashlib.sha256()
        for part in (source.encode("utf-8", "surrogatepass"), location.encode()):
            digest.update(part)
            digest.update(b"\x00")
        digest.update(data)
        # A character takes at most four bytes, so this prefix is long enough.
        head = data[: 4 * MAX_RAW_CHARS].decode("utf-8", "backslashreplace")
        return cls(
            source=source,
            location=location,
            reason=reason,
            message=message,
            raw=head[:MAX_RAW_CHARS],
            dead_letter_id=digest.hexdigest()[:32],
        )

    def __repr__(self) -> str:
        """Show everything but the raw record, which may hold personal data."""
        return (
            f"DeadLetter(source={self.source!r}, location={self.location!r}, "
            f"reason={self.reason!r}, message={self.message!r}, "
            f"raw=<{len(self.raw)} chars>, dead_letter_id={self.dead_letter_id!r})"
        )
