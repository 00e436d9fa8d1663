"""The records a stream worker produces, and the batch that gathers them.

Every record carries its deterministic id in the ``trustwatch-id`` header
(and in its body), so a consumer that reads without transactions can still
drop repeats. Dead letters say where the message came from: topic, partition
and offset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from trustwatch.decisions.model import Action, Verdict
from trustwatch.events.deadletter import DeadLetter
from trustwatch.runtime.pipeline import Decision

__all__ = [
    "BATCH_HEADER",
    "ID_HEADER",
    "MessageOrigin",
    "OutputBatch",
    "StreamDeadLetter",
]

#: The header holding a record's deterministic id.
ID_HEADER = "trustwatch-id"
#: The header naming the batch that produced a record:
#: ``<worker id>/<session>/<batch number>``, where the session is new each
#: time a worker starts. Operators can tell which worker wrote what, and a
#: record of a session's last batch may belong to a transaction that a crash
#: cut short.
BATCH_HEADER = "trustwatch-batch"
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class MessageOrigin:
    """Where a consumed message sits: its topic, partition and offset."""

    topic: str
    partition: int
    offset: int


class StreamDeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """A dead letter as it goes to the dead-letter topic: where it came from."""

    dead_letter_id: str
    reason: str
    message: str
    source: str
    location: str
    raw: str
    topic: str
    partition: int
    offset: int

    @classmethod
    def of(cls, letter: DeadLetter, origin: MessageOrigin) -> StreamDeadLetter:
        """Add a message's origin to a dead letter."""
        return cls(
            dead_letter_id=letter.dead_letter_id,
            reason=letter.reason,
            message=letter.message,
            source=letter.source,
            location=letter.location,
            raw=letter.raw,
            topic=origin.topic,
            partition=origin.partition,
            offset=origin.offset,
        )


@dataclass(slots=True)
class OutputBatch:
    """Verdicts, actions and dead letters of one micro-batch."""

    verdicts: list[Verdict] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    stream_letters: list[StreamDeadLetter] = field(default_factory=list)
    #: messages not decided because the same bytes came lately
    repeats: int = 0

    def add(self, decision: Decision) -> None:
        """Keep one decision's verdict and actions."""
        self.verdicts.append(decision.verdict)
        self.actions.extend(decision.actions)

    def add_letter(self, letter: DeadLetter, origin: MessageOrigin) -> None:
        """Keep a dead letter and where its message came from."""
        self.letters.append(letter)
        self.stream_letters.append(StreamDeadLetter.of(letter, origin))

    def records(
        self, verdict_topic: str, action_topic: str, dead_letter_topic: str
    ) -> list[tuple[str, bytes, bytes, str]]:
        """Return ``(topic, key, value, id)`` for each record to produce.

        Verdicts are keyed by account (or event id), actions by their target,
        dead letters by their id.
        """
        out: list[tuple[str, bytes, bytes, str]] = []
        for v in self.verdicts:
            key = (v.account or v.event_id).encode()
            out.append((verdict_topic, key, _encode(v), v.verdict_id))
        for a in self.actions:
            key = f"{a.target_type}:{a.target}".encode()
            out.append((action_topic, key, _encode(a), a.action_id))
        for d in self.stream_letters:
            key = d.dead_letter_id.encode()
            out.append((dead_letter_topic, key, _encode(d), d.dead_letter_id))
        return out

    def __len__(self) -> int:
        return len(self.verdicts) + len(self.actions) + len(self.letters)
