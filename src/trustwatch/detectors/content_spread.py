"""Malicious content spreading: one file fanned out across many accounts.

Malware and phishing documents spread on a file-sharing platform in visible
ways, each counted over an event-time window:

- the **same content** uploaded by many distinct accounts, where the same
  content is the same hash or a near TLSH fuzzy hash (a recompiled or
  re-saved variant joins the cluster of the first copy seen);
- **one file shared** to many distinct recipients;
- **one link opened** from many distinct sources, and a **public link** opened
  from many distinct addresses;
- **download fan-out**: many distinct downloaders of a file in the window
  after it was shared or linked, against few before.

Fan-out alone is not proof (a popular template is uploaded by many people),
so the scores here are moderate; a policy combines them with intel matches
and URL scores before it quarantines anything.

The detector also ties a malicious file to everything it reached. Per content
it remembers the copies (file ids), the accounts that uploaded them, and the
links created to each copy. Content becomes *known malicious* when an earlier
detector flags the upload (``intel_hash``, ``yara_match`` or
``fuzzy_hash_match`` in :attr:`EventContext.raised`) or when a spread reaches
``malicious_spread`` times its threshold. The detector then raises
``malicious_content``, whose ``evidence["targets"]`` lists every copy, every
link and every uploading account, so that policy rules with
``target = "evidence:<type>"`` quarantine each file, disable each link and
send each account to review. Later, a link created to known-malicious content
and an upload of it by another account raise ``malicious_content`` naming the
new link, or the new file and account.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from trustwatch.content.fuzzy import available_algorithms, tlsh_distance
from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.registry import register
from trustwatch.errors import ConfigError
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

__all__ = ["MALICIOUS_SIGNAL_KINDS", "ContentSpreadDetector", "content_key"]

logger = logging.getLogger(__name__)

#: Signal kinds of earlier detectors that mark an upload's content malicious.
MALICIOUS_SIGNAL_KINDS = frozenset({"intel_hash", "yara_match", "fuzzy_hash_match"})


def content_key(event: FileUploaded) -> str | None:
    """Return the strongest hash of an upload as ``algo:hex``, or ``None``."""
    for algo in ("sha256", "sha1", "md5"):
        value = getattr(event, algo)
        if value:
            return f"{algo}:{value.strip().lower()}"
    return None


_TLSH_DIGEST = re.compile(r"(?:T1)?[0-9A-F]{70}")


def _tlsh_header(tlsh: str) -> tuple[int, int, int]:
    """Return the length code and the two quartile ratios of a TLSH digest.

    ``tlsh`` is a checked digest with its ``T1`` prefix; the header bytes
    after the checksum are stored with their nibbles swapped.
    """
    length, ratios = int(tlsh[5] + tlsh[4], 16), int(tlsh[7] + tlsh[6], 16)
    return length, ratios >> 4, ratios & 15


def _near_headers(limit: int) -> tuple[tuple[int, int, int], ...] | None:
    """Return the header steps (length, ratio 1, ratio 2) costing ``limit`` at most.

    ``None`` when there are so many that reading every cluster is cheaper.
    """

    def length_cost(step: int) -> int:
        step = min(step, 256 - step)
        return step if step <= 1 else step * 12

    def ratio_cost(step: int) -> int:
        step = min(step, 16 - step)
        return step if step <= 1 else (step - 1) * 12

    lengths = [s for s in range(256) if length_cost(s) <= limit]
    ratios = [s for s in range(16) if ratio_cost(s) <= limit]
    steps = tuple(
        (a, b, c)
        for a in lengths
        for b in ratios
        for c in ratios
        if length_cost(a) + ratio_cost(b) + ratio_cost(c) <= limit
    )
    return steps if len(steps) <= 512 else None


def _remember(values: list[str], value: str, limit: int) -> bool:
    """Append ``value`` to ``values`` unless present or full; tell if appended."""
    if value in values or len(values) >= limit:
        return False
    values.append(value)
    return True


@register
class ContentSpreadDetector(Detector):
    """Flag content spreading with unusual fan-out, and what a bad file reached.

    Parameters
    ----------
    window
        Event-time window in seconds, for every count and for how long after
        a share or link downloads count as its fan-out.
    uploaders
        Distinct accounts uploading the same content that make a spread.
    recipients
        Distinct recipients of one file (across its copies) that make a spread.
    link_sources
        Distinct source addresses opening one link that make a spread.
    max_keys
        Bound on the keys each window keeps, and on each per-file map.
    public_link_ips
        Distinct addresses opening one public link that make a spread.
    downloaders
        Distinct downloaders of a file since it was shared or linked that
        make a fan-out.
    download_growth
        The downloaders since the share must also reach this many times the
        distinct downloaders of the window before it.
    fuzzy_distance
        Largest TLSH distance at which an upload joins a recent cluster.
    max_clusters
        Recent TLSH clusters kept, each compared with a new upload's TLSH.
    malicious_score
        Lowest score of an ``intel_hash``, ``yara_match`` or
        ``fuzzy_hash_match`` signal that marks the content malicious.
    malicious_spread
        A spread whose count reaches this many times its threshold also
        marks the content malicious; ``None`` leaves that to intel and scans.
    max_targets
        Most copies, uploaders and links remembered per content or file, and
        listed per target type in one signal.
    """

    name = "content_spread"
    version = "2"
    event_types = frozenset(
        {FileUploaded, FileShared, LinkCreated, LinkAccessed, FileDownloaded}
    )
    signal_kinds = (
        "content_spread_uploads",
        "content_spread_shares",
        "link_fanout",
        "public_link_fanout",
        "download_fanout",
        "malicious_content",
    )

    def __init__(
        self,
        window: float = 86_400.0,
        uploaders: int = 5,
        recipients: int = 25,
        link_sources: int = 50,
        max_keys: int = 500_000,
        public_link_ips: int = 50,
        downloaders: int = 25,
        download_growth: float = 5.0,
        fuzzy_distance: int = 30,
        max_clusters: int = 4_096,
        malicious_score: float = 0.5,
        malicious_spread: float | None = 4.0,
        max_targets: int = 1_000,
    ) -> None:
        _check_params(
            counts={
                "uploaders": uploaders,
                "recipients": recipients,
                "link_sources": link_sources,
                "public_link_ips": public_link_ips,
                "downloaders": downloaders,
                "max_clusters": max_clusters,
                "max_targets": max_targets,
            },
            download_growth=download_growth,
            fuzzy_distance=fuzzy_distance,
            malicious_score=malicious_score,
            malicious_spread=malicious_spread,
        )
        self._params = {
            "window": window,
            "uploaders": uploaders,
            "recipients": recipients,
            "link_sources": link_sources,
            "max_keys": max_keys,
            "public_link_ips": public_link_ips,
            "downloaders": downloaders,
            "download_growth": download_growth,
            "fuzzy_distance": fuzzy_distance,
            "max_clusters": max_clusters,
            "malicious_score": malicious_score,
            "malicious_spread": malicious_spread,
            "max_targets": max_targets,
        }
        self.window = window
        self.uploaders = uploaders
        self.recipients = recipients
        self.link_sources = link_sources
        self.max_keys = max_keys
        self.public_link_ips = public_link_ips
        self.downloaders = downloaders
        self.download_growth = download_growth
        self.fuzzy_distance = fuzzy_distance
        self.max_clusters = max_clusters
        self.malicious_score = malicious_score
        self.malicious_spread = malicious_spread
        self.max_targets = max_targets
        #: Uploads whose TLSH could not be read (clustered by exact hash only).
        self.unreadable_tlsh = 0
        #: Uploads whose TLSH was not compared: py-tlsh is not installed.
        self.uncompared_tlsh = 0
        self._can_compare_tlsh = "tlsh" in available_algorithms()

        def distinct() -> DistinctCounter[str]:
            return DistinctCounter(window, max_values=10_000, max_keys=max_keys)

        self._uploaders = distinct()
        self._recipients = distinct()
        self._link_sources = distinct()
        self._public_link_ips = distinct()
        self._downloads = distinct()
        # downloaders since a share, keyed by file id and share time
        self._downloads_since_share = distinct()
        # file id -> content (cluster) key; link id -> file id
        self._file_content: LruDict[str, str] = LruDict(max_keys)
        self._link_file: LruDict[str, str] = LruDict(max_keys)
        self._public_links: LruDict[str, bool] = LruDict(max_keys)
        # exact content key -> the cluster it joined
        self._content_cluster: LruDict[str, str] = LruDict(max_keys)
        # cluster key -> [representative TLSH, last upload time], and the
        # clusters filed by TLSH header (rebuilt from them, never saved)
        self._clusters: LruDict[str, list[Any]] = LruDict(max_clusters)
        self._tlsh_index: dict[tuple[int, int, int], dict[str, None]] = {}
        self._indexed = 0
        self._near_headers = _near_headers(fuzzy_distance)
        # cluster key -> its copies and their uploaders; file id -> its links
        self._content_files: LruDict[str, list[str]] = LruDict(max_keys)
        self._content_uploaders: LruDict[str, list[str]] = LruDict(max_keys)
        self._file_links: LruDict[str, list[str]] = LruDict(max_keys)
        # file id -> [share time, distinct downloaders in the window before]
        self._shared_at: LruDict[str, list[float]] = LruDict(max_keys)
        # cluster key -> [score, what made it malicious]
        self._malicious: LruDict[str, list[Any]] = LruDict(max_keys)

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Update fan-out counts and flag content that passes a threshold."""
        kind = type(event)
        if kind is FileUploaded:
            return self._on_upload(event, ctx)  # type: ignore[arg-type]
        if kind is FileShared:
            return self._on_share(event, ctx.t)  # type: ignore[arg-type]
        if kind is LinkCreated:
            return self._on_link_created(event, ctx.t)  # type: ignore[arg-type]
        if kind is LinkAccessed:
            return self._on_link_access(event, ctx)  # type: ignore[arg-type]
        if kind is FileDownloaded:
            found = self._on_download(event, ctx)  # type: ignore[arg-type]
            if event.link_id:  # type: ignore[attr-defined]
                found += self._on_link_access(event, ctx)  # type: ignore[arg-type]
            return found
        return ()

    # -- content and clusters ------------------------------------------------

    def _content_of(self, file_id: str | None) -> str | None:
        return self._file_content.get(file_id) if file_id else None

    def _cluster_of(self, key: str, tlsh: str | None, t: float) -> tuple[str, int]:
        """Return the cluster an upload's content belongs to, and the distance.

        Known content keeps its cluster. New content with a TLSH joins the
        nearest recent cluster within ``fuzzy_distance``, or starts its own.
        """
        cluster = self._content_cluster.touch(key)
        if cluster is not None:
            entry = self._clusters.touch(cluster)
            if entry is not None:
                entry[1] = max(entry[1], t)
            return cluster, 0
        cluster, distance = key, 0
        if tlsh:
            nearest = self._nearest_cluster(tlsh, t)
            if nearest is None:
                self._clusters.put(key, [tlsh, t])
                self._index_cluster(key, tlsh)
            else:
                cluster, distance = nearest
                entry = self._clusters.touch(cluster)
                if entry is not None:
                    entry[1] = max(entry[1], t)
        self._content_cluster.put(key, cluster)
        return cluster, distance

    def _readable_tlsh(self, text: str | None) -> str | None:
        """Return an upload's TLSH, checked and with ``T1``, or ``None``.

        An unreadable TLSH is counted, and without py-tlsh none is compared:
        such uploads are clustered by their exact hashes only.
        """
        digest = (text or "").strip().upper()
        if not digest or digest == "TNULL":
            return None  # no digest: the file was too small or too uniform
        if not _TLSH_DIGEST.fullmatch(digest):
            self.unreadable_tlsh += 1
            return None
        if not self._can_compare_tlsh:
            if not self.uncompared_tlsh:
                logger.warning(
                    "uploads carry TLSH digests but py-tlsh is not installed: "
                    "near copies are not clustered; hint: pip install "
                    "'trustwatch[fuzzy]'"
                )
            self.uncompared_tlsh += 1
            return None
        return digest if digest.startswith("T1") else f"T1{digest}"

    def _index_cluster(self, cluster: str, tlsh: str) -> None:
        """File a cluster under its TLSH header, rebuilding a stale index."""
        if self._indexed >= 2 * self.max_clusters + 1_024:
            self._rebuild_index()
        self._tlsh_index.setdefault(_tlsh_header(tlsh), {})[cluster] = None
        self._indexed += 1

    def _rebuild_index(self) -> None:
        self._tlsh_index = {}
        self._indexed = 0
        for cluster, (representative, _) in self._clusters.items():
            bucket = self._tlsh_index.setdefault(_tlsh_header(representative), {})
            bucket[cluster] = None
            self._indexed += 1

    def _candidates(self, tlsh: str) -> Iterator[str]:
        """Yield the clusters whose TLSH header is near enough to ``tlsh``'s.

        Header differences alone (length, quartile ratios) cost at least
        their share of the distance, so only the buckets within
        ``fuzzy_distance`` of the new header are read; with a threshold so
        wide that they are too many, every cluster is.
        """
        if self._near_headers is None:
            yield from list(self._clusters)
            return
        length, q1, q2 = _tlsh_header(tlsh)
        for step_l, step_1, step_2 in self._near_headers:
            bucket = self._tlsh_index.get(
                ((length + step_l) % 256, (q1 + step_1) % 16, (q2 + step_2) % 16)
            )
            if not bucket:
                continue
            for cluster in list(bucket):
                if cluster in self._clusters:
                    yield cluster
                else:  # evicted since it was filed
                    del bucket[cluster]
                    self._indexed -= 1

    def _nearest_cluster(self, tlsh: str, t: float) -> tuple[str, int] | None:
        """Return the nearest recent cluster within ``fuzzy_distance``, if any.

        Ties go to the smallest cluster key, so replays cluster alike.
        """
        best: tuple[int, str] | None = None
        horizon = t - self.window
        for cluster in self._candidates(tlsh):
            representative, last_seen = self._clusters.get(cluster) or ("", -1.0)
            if last_seen < horizon:
                continue
            distance = tlsh_distance(tlsh, representative)
            if distance <= self.fuzzy_distance and (
                best is None or (distance, cluster) < best
            ):
                best = (distance, cluster)
        return None if best is None else (best[1], best[0])

    # -- events ---------------------------------------------------------------

    def _on_upload(self, event: FileUploaded, ctx: EventContext) -> list[Signal]:
        key = content_key(event)
        tlsh = self._readable_tlsh(event.tlsh)
        if key is None and tlsh is not None:
            key = f"tlsh:{tlsh.upper()}"
        distance = 0
        if key is None:
            content = f"file:{event.file_id}"
        else:
            content, distance = self._cluster_of(key, tlsh, ctx.t)
        self._file_content.put(event.file_id, content)
        files = self._content_files.touch(content)
        if files is None:
            files = []
            self._content_files.put(content, files)
        _remember(files, event.file_id, self.max_targets)
        known = self._content_uploaders.touch(content)
        if known is None:
            known = []
            self._content_uploaders.put(content, known)
        account = event.account or ""
        new_uploader = bool(account) and _remember(known, account, self.max_targets)

        signals: list[Signal] = []
        if key is not None:
            count = self._uploaders.add(content, account, ctx.t)
            # the reason and evidence are built only for a count that signals
            if count >= self.uploaders:
                evidence: dict[str, Any] = {
                    "uploaders": count,
                    "file_id": event.file_id,
                }
                if content != key:
                    evidence.update(content=key, tlsh_distance=distance)
                signals += self.count_signal(
                    event,
                    kind="content_spread_uploads",
                    count=count,
                    threshold=self.uploaders,
                    weight=0.9,
                    entity_type="file",
                    entity=content,
                    reason=f"same content uploaded by {count} accounts",
                    evidence=evidence,
                )
        if content in self._malicious:
            # a further copy of known-malicious content
            targets: dict[str, list[str]] = {"file": [event.file_id]}
            if new_uploader:
                targets["account"] = [account]
            signals.append(self._malicious_signal(event, content, targets))
            return signals
        flagged = [
            s
            for s in ctx.raised
            if s.kind in MALICIOUS_SIGNAL_KINDS and s.score >= self.malicious_score
        ]
        if flagged:
            score = max(s.score for s in flagged)
            because = sorted({s.kind for s in flagged})
            self._malicious.put(content, [score, ", ".join(because)])
            signals.append(self._malicious_signal(event, content, None))
            return signals
        if not signals:
            return signals
        return signals + self._escalate(event, content, signals)

    def _on_share(self, event: FileShared, t: float) -> list[Signal]:
        content = self._content_of(event.file_id) or f"file:{event.file_id}"
        self._start_fanout(event.file_id, t)
        count = 0
        add = self._recipients.add
        for recipient in event.recipients:
            count = add(content, recipient, t)
        if count < self.recipients:
            return []
        signals = self.count_signal(
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
        return signals + self._escalate(event, content, signals)

    def _on_link_created(self, event: LinkCreated, t: float) -> list[Signal]:
        self._public_links.put(event.link_id, event.public)
        if not event.file_id:
            return []
        self._link_file.put(event.link_id, event.file_id)
        links = self._file_links.touch(event.file_id)
        if links is None:
            links = []
            self._file_links.put(event.file_id, links)
        _remember(links, event.link_id, self.max_targets)
        self._start_fanout(event.file_id, t)
        content = self._content_of(event.file_id) or f"file:{event.file_id}"
        if content in self._malicious:
            # a new way to reach known-malicious content: disable it at once
            targets = {"link": [event.link_id]}
            return [self._malicious_signal(event, content, targets)]
        return []

    def _on_link_access(
        self, event: LinkAccessed | FileDownloaded, ctx: EventContext
    ) -> list[Signal]:
        link = event.link_id or ""
        t = ctx.t
        count = self._link_sources.add(link, event.ip or event.account or "", t)
        # the file is looked up (without touching its order) only to be named
        # in a signal, and a signal's reason is built only past its threshold
        file_id = ""
        signals: list[Signal] = []
        if count >= self.link_sources:
            file_id = event.file_id or self._link_file.get(link) or ""
            signals = self.count_signal(
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
        source = ctx.source() if self._public_links.get(link) else ""
        if source:
            addresses = self._public_link_ips.add(link, source, t)
            if addresses >= self.public_link_ips:
                file_id = event.file_id or self._link_file.get(link) or ""
                signals += self.count_signal(
                    event,
                    kind="public_link_fanout",
                    count=addresses,
                    threshold=self.public_link_ips,
                    weight=0.8,
                    entity_type="link",
                    entity=link,
                    reason=f"public link opened from {addresses} distinct addresses",
                    evidence={"addresses": addresses, "file_id": file_id},
                )
        if not signals or not file_id:
            return signals
        content = self._content_of(file_id) or f"file:{file_id}"
        return signals + self._escalate(event, content, signals)

    def _start_fanout(self, file_id: str, t: float) -> None:
        """Open a download fan-out period for a file just shared or linked.

        A share within the window of an open period extends nothing: the
        period runs from the first share, against the downloads before it.
        """
        opened = self._shared_at.touch(file_id)
        if opened is not None and t - opened[0] <= self.window:
            return
        before = self._downloads.count(file_id, t)
        self._shared_at.put(file_id, [t, float(before)])

    def _on_download(self, event: FileDownloaded, ctx: EventContext) -> list[Signal]:
        downloader = event.account or ctx.source() or event.ip or ""
        t = ctx.t
        file_id = event.file_id
        self._downloads.add(file_id, downloader, t)
        opened = self._shared_at.get(file_id)
        if opened is None or not 0 <= t - opened[0] <= self.window:
            return []
        shared_t, before = opened
        period = f"{file_id}\x1f{shared_t!r}"
        count = self._downloads_since_share.add(period, downloader, t)
        if count < self.download_growth * before or count < self.downloaders:
            return []
        signals = self.count_signal(
            event,
            kind="download_fanout",
            count=count,
            threshold=self.downloaders,
            weight=0.8,
            entity_type="file",
            entity=event.file_id,
            reason=(
                f"{count} distinct downloaders since the file was shared or "
                f"linked, against {int(before)} in the window before"
            ),
            evidence={
                "downloaders": count,
                "downloaders_before": int(before),
                "seconds_since_share": ctx.t - shared_t,
                "file_id": event.file_id,
            },
        )
        content = self._content_of(event.file_id) or f"file:{event.file_id}"
        return signals + self._escalate(event, content, signals)

    # -- known-malicious content ---------------------------------------------

    def _escalate(
        self, event: EventBase, content: str, spread: list[Signal]
    ) -> list[Signal]:
        """Mark content malicious when a spread is far past its threshold."""
        if not spread or self.malicious_spread is None or content in self._malicious:
            return []
        strong = [s for s in spread if self._far_past_threshold(s)]
        if not strong:
            return []
        score = max(s.score for s in strong)
        self._malicious.put(content, [score, ", ".join(s.kind for s in strong)])
        return [self._malicious_signal(event, content, None)]

    def _far_past_threshold(self, signal: Signal) -> bool:
        """Tell whether a spread signal's count reaches ``malicious_spread``."""
        field, threshold = {
            "content_spread_uploads": ("uploaders", self.uploaders),
            "content_spread_shares": ("recipients", self.recipients),
            "link_fanout": ("sources", self.link_sources),
            "public_link_fanout": ("addresses", self.public_link_ips),
            "download_fanout": ("downloaders", self.downloaders),
        }[signal.kind]
        factor = self.malicious_spread
        return factor is not None and signal.evidence[field] >= factor * threshold

    def _all_targets(self, content: str) -> dict[str, list[str]]:
        """Return every copy, link and uploader of ``content``, bounded."""
        files = list(self._content_files.get(content) or ())
        links: list[str] = []
        for file_id in files:
            for link in self._file_links.get(file_id) or ():
                _remember(links, link, self.max_targets)
        accounts = list(self._content_uploaders.get(content) or ())
        return {"file": files, "link": links, "account": accounts}

    def _malicious_signal(
        self,
        event: EventBase,
        content: str,
        targets: dict[str, list[str]] | None,
    ) -> Signal:
        """Build a ``malicious_content`` signal naming what to act on.

        ``targets=None`` names everything the content reached (it has just
        become known malicious); otherwise only the new targets given.
        """
        score, because = self._malicious.get(content) or [1.0, "known"]
        listed = self._all_targets(content) if targets is None else targets
        counts = ", ".join(
            f"{len(v)} {k}{'' if len(v) == 1 else 's'}" for k, v in listed.items() if v
        )
        reached = f"; reached {counts}" if counts else ""
        return self.signal(
            event,
            kind="malicious_content",
            score=float(score),
            entity_type="file",
            entity=content,
            reasons=(f"content known malicious ({because}){reached}",),
            evidence={"because": because, "targets": listed},
        )

    # -- checkpoints ------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """Return the windows, the file and link maps and the clusters."""
        return {
            "uploaders": self._uploaders.get_state(),
            "recipients": self._recipients.get_state(),
            "link_sources": self._link_sources.get_state(),
            "public_link_ips": self._public_link_ips.get_state(),
            "downloads": self._downloads.get_state(),
            "downloads_since_share": self._downloads_since_share.get_state(),
            "file_content": list(self._file_content.items()),
            "link_file": list(self._link_file.items()),
            "public_links": list(self._public_links.items()),
            "content_cluster": list(self._content_cluster.items()),
            "clusters": [[k, list(v)] for k, v in self._clusters.items()],
            "content_files": [[k, list(v)] for k, v in self._content_files.items()],
            "content_uploaders": [
                [k, list(v)] for k, v in self._content_uploaders.items()
            ],
            "file_links": [[k, list(v)] for k, v in self._file_links.items()],
            "shared_at": [[k, list(v)] for k, v in self._shared_at.items()],
            "malicious": [[k, list(v)] for k, v in self._malicious.items()],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        bound = self.max_keys
        self._uploaders.set_state(state["uploaders"])
        self._recipients.set_state(state["recipients"])
        self._link_sources.set_state(state["link_sources"])
        self._public_link_ips.set_state(state["public_link_ips"])
        self._downloads.set_state(state["downloads"])
        self._downloads_since_share.set_state(state["downloads_since_share"])
        self._file_content = LruDict(bound, _pairs(state["file_content"]))
        self._link_file = LruDict(bound, _pairs(state["link_file"]))
        self._public_links = LruDict(
            bound, ((str(k), bool(v)) for k, v in state["public_links"])
        )
        self._content_cluster = LruDict(bound, _pairs(state["content_cluster"]))
        self._clusters = LruDict(
            self.max_clusters,
            ((str(k), [str(v[0]), float(v[1])]) for k, v in state["clusters"]),
        )
        self._rebuild_index()
        self._content_files = LruDict(bound, _lists(state["content_files"]))
        self._content_uploaders = LruDict(bound, _lists(state["content_uploaders"]))
        self._file_links = LruDict(bound, _lists(state["file_links"]))
        self._shared_at = LruDict(
            bound,
            ((str(k), [float(v[0]), float(v[1])]) for k, v in state["shared_at"]),
        )
        self._malicious = LruDict(
            bound, ((str(k), [float(v[0]), str(v[1])]) for k, v in state["malicious"])
        )


def _check_params(
    counts: dict[str, int],
    *,
    download_growth: float,
    fuzzy_distance: int,
    malicious_score: float,
    malicious_spread: float | None,
) -> None:
    """Refuse parameters that would make a count meaningless."""
    problems = [
        f"{name}={value} is below 1" for name, value in counts.items() if value < 1
    ]
    if download_growth < 0:
        problems.append(f"download_growth={download_growth} is negative")
    if fuzzy_distance < 0:
        problems.append(f"fuzzy_distance={fuzzy_distance} is negative")
    if not 0.0 <= malicious_score <= 1.0:
        problems.append(f"malicious_score={malicious_score} is not in [0, 1]")
    if malicious_spread is not None and malicious_spread < 1:
        problems.append(f"malicious_spread={malicious_spread} is below 1")
    if problems:
        raise ConfigError(
            "content_spread: "
            + "; ".join(problems)
            + "; hint: thresholds count accounts, recipients or addresses (1 or "
            "more), a TLSH distance is 0 or more, and malicious_spread is a "
            "multiple of a threshold (or leave it out)"
        )


def _pairs(items: Iterable[Any]) -> Iterable[tuple[str, str]]:
    return ((str(k), str(v)) for k, v in items)


def _lists(items: Iterable[Any]) -> Iterable[tuple[str, list[str]]]:
    return ((str(k), [str(x) for x in v]) for k, v in items)
