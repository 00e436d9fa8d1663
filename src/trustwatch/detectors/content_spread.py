"""Malicious content spreading: one file fanned out across many accounts.

Malware and phishing documents spread on a file-sharing platform in three
visible ways, each counted over an event-time window:

- the **same content** (by hash) uploaded by many distinct accounts;
- **one file shared** to many distinct recipients;
- **one link opened** from many distinct sources.

Fan-out alone is not proof (a popular template is uploaded by many people),
so the scores here are moderate; a policy combines them with intel matches
and URL scores before it quarantines anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.registry import register
from trustwatch.events.model import (
    EventBase,
    FileDownloaded,
    FileShared,
    FileUploaded,
    LinkAccessed,
    LinkCreated,
)
from trustwatch.features.context import EventContext
from trustwatch.features.windows import DistinctCounter, LruDict

__all__ = ["ContentSpreadDetector", "content_key"]


def content_key(event: FileUploaded) -> str | None:
    """Return the strongest hash of an upload as ``algo:hex``, or ``None``."""
    for algo in ("sha256", "sha1", "md5"):
        value = getattr(event, algo)
        if value:
            return f"{algo}:{value.strip().lower()}"
    return None


@register
class ContentSpreadDetector(Detector):
    """Flag content uploaded, shared or opened with unusual fan-out.

    Parameters
    ----------
    window
        Event-time window in seconds.
    uploaders
        Distinct accounts uploading the same content that make a spread.
    recipients
        Distinct recipients of one file (across its copies) that make a spread.
    link_sources
        Distinct source addresses opening one link that make a spread.
    max_keys
        Bound on the keys each window keeps, and on the file-to-content map.
    """

    name = "content_spread"
    version = "1"
    event_types = frozenset(
        {FileUploaded, FileShared, LinkCreated, LinkAccessed, FileDownloaded}
    )
    signal_kinds = ("content_spread_uploads", "content_spread_shares", "link_fanout")

    def __init__(
        self,
        window: float = 86_400.0,
        uploaders: int = 5,
        recipients: int = 25,
        link_sources: int = 50,
        max_keys: int = 500_000,
    ) -> None:
        self._params = {
            "window": window,
            "uploaders": uploaders,
            "recipients": recipients,
            "link_sources": link_sources,
            "max_keys": max_keys,
        }
        self.uploaders = uploaders
        self.recipients = recipients
        self.link_sources = link_sources
        self.max_keys = max_keys
        self._uploaders: DistinctCounter[str] = DistinctCounter(
            window, max_values=10_000, max_keys=max_keys
        )
        self._recipients: DistinctCounter[str] = DistinctCounter(
            window, max_values=10_000, max_keys=max_keys
        )
        self._link_sources: DistinctCounter[str] = DistinctCounter(
            window, max_values=10_000, max_keys=max_keys
        )
        self._file_content: LruDict[str, str] = LruDict(max_keys)
        self._link_file: LruDict[str, str] = LruDict(max_keys)

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Update fan-out counts and flag content that passes a threshold."""
        kind = type(event)
        if kind is FileUploaded:
            return self._on_upload(event, ctx.t)  # type: ignore[arg-type]
        if kind is FileShared:
            return self._on_share(event, ctx.t)  # type: ignore[arg-type]
        if kind is LinkCreated:
            return self._on_link_created(event)  # type: ignore[arg-type]
        if kind is LinkAccessed:
            return self._on_link_access(event, ctx.t)  # type: ignore[arg-type]
        if kind is FileDownloaded and event.link_id:  # type: ignore[attr-defined]
            return self._on_link_access(event, ctx.t)  # type: ignore[arg-type]
        return ()

    def _content_of(self, file_id: str | None) -> str | None:
        return self._file_content.get(file_id) if file_id else None

    def _on_upload(self, event: FileUploaded, t: float) -> list[Signal]:
        content = content_key(event)
        if content is None:
            return []
        self._file_content.put(event.file_id, content)
        count = self._uploaders.add(content, event.account or "", t)
        return self.count_signal(
            event,
            kind="content_spread_uploads",
            count=count,
            threshold=self.uploaders,
            weight=0.9,
            entity_type="file",
            entity=content,
            reason=f"same content uploaded by {count} accounts",
            evidence={"uploaders": count, "file_id": event.file_id},
        )

    def _on_share(self, event: FileShared, t: float) -> list[Signal]:
        content = self._content_of(event.file_id) or f"file:{event.file_id}"
        count = 0
        for recipient in event.recipients:
            count = self._recipients.add(content, recipient, t)
        return self.count_signal(
            event,
            kind="content_spread_shares",
            count=count,
            threshold=self.recipients,
            weight=0.9,
            entity_type="file",
            entity=content,
            reason=f"content shared with {count} distinct recipients",
            evidence={"recipients": count, "file_id": event.file_id},
        )

    def _on_link_created(self, event: LinkCreated) -> list[Signal]:
        if event.file_id:
            self._link_file.put(event.link_id, event.file_id)
        return []

    def _on_link_access(
        self, event: LinkAccessed | FileDownloaded, t: float
    ) -> list[Signal]:
        link = event.link_id or ""
        count = self._link_sources.add(link, event.ip or event.account or "", t)
        file_id = event.file_id or self._link_file.get(link) or ""
        return self.count_signal(
            event,
            kind="link_fanout",
            count=count,
            threshold=self.link_sources,
            weight=0.8,
            entity_type="link",
            entity=link,
            reason=f"link opened from {count} distinct sources",
            evidence={"sources": count, "file_id": file_id},
        )

    def get_state(self) -> dict[str, Any]:
        """Return the windows and the file and link maps."""
        return {
            "uploaders": self._uploaders.get_state(),
            "recipients": self._recipients.get_state(),
            "link_sources": self._link_sources.get_state(),
            "file_content": list(self._file_content.items()),
            "link_file": list(self._link_file.items()),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._uploaders.set_state(state["uploaders"])
        self._recipients.set_state(state["recipients"])
        self._link_sources.set_state(state["link_sources"])
        self._file_content = LruDict(
            self.max_keys, ((str(k), str(v)) for k, v in state["file_content"])
        )
        self._link_file = LruDict(
            self.max_keys, ((str(k), str(v)) for k, v in state["link_file"])
        )
