"""Malware in uploaded files: YARA rules and known fuzzy hashes.

On each upload whose SHA-256 is in the content store, the file's bytes are
scanned with the loaded YARA rules (within a time and size limit) and its
fuzzy hashes (TLSH, ssdeep) are looked up in fuzzy-hash intel:

- **yara_match**: a public rule matched. The score comes from the rule's
  ``score`` or ``severity`` metadata (see
  :func:`~trustwatch.content.yara_rules.rule_score`); the reasons name the
  rule and the file it is written in; the evidence lists the matched string
  identifiers and whether the scan was cut short.
- **yara_scan_incomplete**: the scan ran out of time or failed, so the file
  is not known clean. YARA reports nothing from a scan that runs out of
  time; the first and last mebibyte are then rescanned and their hits still
  raise ``yara_match`` (saying which part). The reasons and evidence say
  what was scanned and how each rescan went.
- **fuzzy_hash_match**: the file's TLSH is within the distance threshold, or
  its ssdeep scores at least the threshold, of a known-bad hash. A close
  fuzzy hash is a lead rather than proof, so its score stays between
  ``fuzzy_floor`` and 1 (closer is higher).

Exact hash matches (MD5, SHA-1, SHA-256) are the ``intel_match`` detector's.
Results are a function of the content alone, so they are cached by SHA-256
(least recently used evicted) and the detector keeps no state.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from trustwatch.content.fuzzy import FuzzyIntel, FuzzyMatch, fuzzy_hashes
from trustwatch.content.store import ContentSource
from trustwatch.content.yara_rules import (
    DEFAULT_SCAN_BYTES,
    DEFAULT_SCAN_TIMEOUT,
    RuleLoad,
    ScanHits,
)
from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.file_phishing import FileFinding, upload_signals
from trustwatch.detectors.registry import register
from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase, FileUploaded
from trustwatch.features.context import EventContext

__all__ = ["MaliciousFileDetector"]

logger = logging.getLogger(__name__)

_MAX_HITS = 5


@register
class MaliciousFileDetector(Detector):
    """Flag uploaded files that YARA rules or known fuzzy hashes call malware.

    Parameters
    ----------
    store
        Where uploaded files are read by SHA-256.
    rules
        Compiled YARA rules from :func:`~trustwatch.content.yara_rules.load_rules`.
    fuzzy_intel
        Known-bad fuzzy hashes (:class:`~trustwatch.content.fuzzy.FuzzyIntel`).
    scan_timeout
        Seconds one YARA scan may take.
    max_scan_bytes
        Bytes of a file scanned; the rest is left unscanned and hits say so.
    fuzzy_floor
        The score of the loosest fuzzy match that still counts.
    incomplete_score
        The score of ``yara_scan_incomplete``: a scan that ran out of time
        or failed, which the shipped policy sends to review.
    cache_size
        Files whose findings are kept, least recently used evicted.
    """

    name = "malicious_file"
    version = "1"
    event_types = frozenset({FileUploaded})
    signal_kinds = ("yara_match", "yara_scan_incomplete", "fuzzy_hash_match")

    def __init__(
        self,
        store: ContentSource,
        rules: RuleLoad | None = None,
        fuzzy_intel: FuzzyIntel | None = None,
        *,
        scan_timeout: float = DEFAULT_SCAN_TIMEOUT,
        max_scan_bytes: int = DEFAULT_SCAN_BYTES,
        fuzzy_floor: float = 0.6,
        incomplete_score: float = 0.6,
        cache_size: int = 4096,
    ) -> None:
        if cache_size < 0:
            raise ConfigError(f"cache_size={cache_size} is negative; hint: a count")
        if not 0.0 <= fuzzy_floor <= 1.0:
            raise ConfigError(f"fuzzy_floor={fuzzy_floor} is outside [0, 1]")
        if not 0.0 <= incomplete_score <= 1.0:
            raise ConfigError(
                f"incomplete_score={incomplete_score} is outside [0, 1]; "
                "hint: a score in [0, 1]"
            )
        if not scan_timeout > 0 or max_scan_bytes <= 0:
            raise ConfigError(
                "scan_timeout and max_scan_bytes must be positive; "
                "hint: seconds and bytes"
            )
        self._params = {
            "scan_timeout": scan_timeout,
            "max_scan_bytes": max_scan_bytes,
            "fuzzy_floor": fuzzy_floor,
            "incomplete_score": incomplete_score,
            "cache_size": cache_size,
        }
        self.store = store
        self.rules = rules
        self.fuzzy_intel = fuzzy_intel
        self.scan_timeout = scan_timeout
        self.max_scan_bytes = max_scan_bytes
        self.fuzzy_floor = fuzzy_floor
        self.incomplete_score = incomplete_score
        self.cache_size = cache_size
        self._cache: OrderedDict[str, tuple[FileFinding, ...]] = OrderedDict()

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Scan an uploaded file whose content the store holds."""
        return upload_signals(self, event, self._findings)

    def _findings(self, digest: str, upload: FileUploaded) -> tuple[FileFinding, ...]:
        cached = self._cache.get(digest)
        if cached is not None:
            self._cache.move_to_end(digest)
            return cached
        blob = self.store.read(digest)
        if blob is None:
            return ()  # not cached: the file may reach the store later
        findings: list[FileFinding] = []
        if self.rules is not None:
            findings.extend(
                _yara_findings(self, self.rules, blob.data, blob.size, upload.name)
            )
        if self.fuzzy_intel is not None and self.fuzzy_intel.entries:
            findings.extend(
                _fuzzy_findings(self, self.fuzzy_intel, blob.data, blob.complete)
            )
        result = tuple(findings)
        logger.debug("file scanned findings=%d", len(result))
        if self.cache_size:
            self._cache[digest] = result
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return result

    def get_state(self) -> dict[str, Any]:
        """Return an empty state: findings depend on the content alone."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Accept the empty state."""


def _yara_findings(
    detector: MaliciousFileDetector,
    rules: RuleLoad,
    data: bytes,
    size: int,
    name: str | None,
) -> list[FileFinding]:
    """Scan with the rules; one finding per matched rule, strongest first."""
    hits = rules.scan(
        data[: detector.max_scan_bytes],
        timeout=detector.scan_timeout,
        max_bytes=detector.max_scan_bytes,
        file_name=name,
        size=size,
    )
    ranked = sorted(hits, key=lambda hit: -hit.score)[:_MAX_HITS]
    findings = []
    for hit in ranked:
        reasons = [f"YARA rule {hit.rule} ({hit.source}) matched"]
        description = hit.meta.get("description")
        if isinstance(description, str) and description.strip():
            reasons.append(description.strip()[:200])
        if hit.evidence.get("truncated"):
            reasons.append(
                f"only the first {hit.evidence['scanned_bytes']:,} bytes were scanned"
            )
        evidence: dict[str, Any] = {
            "rule": hit.rule,
            "namespace": hit.namespace,
            "rule_source": hit.source,
            "tags": list(hit.tags),
            "strings": list(hit.strings),
            **hit.evidence,
            "rules_matched": len(hits),
        }
        findings.append(FileFinding("yara_match", hit.score, tuple(reasons), evidence))
    if not hits.complete:
        logger.warning(
            "yara scan incomplete timed_out=%s error=%s", hits.timed_out, hits.error
        )
        findings.append(_incomplete_finding(detector, hits))
    return findings


def _incomplete_finding(detector: MaliciousFileDetector, hits: ScanHits) -> FileFinding:
    """The finding of a scan that did not run every rule over the file."""
    if hits.timed_out:
        reasons = [
            f"the YARA scan of {hits.scanned_bytes:,} bytes ran out of time "
            f"after {detector.scan_timeout:g} s, so the file is not known clean"
        ]
    else:
        reasons = [
            f"the YARA scan failed ({hits.error}), so the file is not known clean"
        ]
    for part in hits.parts:
        outcome = "ran out of time too" if part["timed_out"] else "completed"
        reasons.append(
            f"rescan of the {part['part']} ({part['bytes']:,} bytes at offset "
            f"{part['offset']:,}) {outcome}: {part['rules_matched']} rules matched"
        )
    evidence: dict[str, Any] = {
        "timed_out": hits.timed_out,
        "error": hits.error,
        "scanned_bytes": hits.scanned_bytes,
        "size": hits.size,
        "truncated": hits.truncated,
        "scan_timeout": detector.scan_timeout,
        "parts": hits.parts,
        "rules_matched": len(hits),
    }
    return FileFinding(
        "yara_scan_incomplete", detector.incomplete_score, tuple(reasons), evidence
    )


def _fuzzy_findings(
    detector: MaliciousFileDetector, intel: FuzzyIntel, data: bytes, complete: bool
) -> list[FileFinding]:
    """Look the file's fuzzy hashes up; one finding for the closest match."""
    window = data if complete else data[: detector.max_scan_bytes]
    hashes = fuzzy_hashes(window)
    matches = intel.match(hashes)
    if not matches:
        return []
    scored = sorted(
        (
            (_fuzzy_score(intel, detector.fuzzy_floor, match), entry, match)
            for entry, match in matches
        ),
        key=lambda item: -item[0],
    )
    score, entry, match = scored[0]
    closeness = (
        f"distance {match.value}"
        if match.algorithm == "tlsh"
        else f"score {match.value}"
    )
    reasons = [
        f"{match.algorithm} hash is close ({closeness}) to a known-bad hash "
        f"in feed {entry.feed}"
    ]
    if entry.comment:
        reasons.append(entry.comment[:200])
    evidence = {
        "algorithm": match.algorithm,
        "known": match.known,
        "closeness": match.value,
        "feed": entry.feed,
        "location": entry.location,
        "hashes": hashes,
        "matches": len(matches),
        "complete": complete,
    }
    return [FileFinding("fuzzy_hash_match", score, tuple(reasons), evidence)]


def _fuzzy_score(intel: FuzzyIntel, floor: float, match: FuzzyMatch) -> float:
    """Map closeness to ``[floor, 1]``: the threshold scores the floor."""
    index = intel.index
    if match.algorithm == "tlsh":
        limit = max(1, index.tlsh_max_distance)
        closeness = 1.0 - min(match.value, limit) / limit
    else:
        span = max(1, 100 - index.ssdeep_min_score)
        closeness = (match.value - index.ssdeep_min_score) / span
    return floor + (1.0 - floor) * max(0.0, closeness)
