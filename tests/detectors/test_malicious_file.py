"""The malicious file detector: YARA hits and fuzzy-hash matches on upload."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime
from typing import Any

import pytest
import yara

from trustwatch.content.fuzzy import FuzzyIntel, available_algorithms, fuzzy_hashes
from trustwatch.content.store import Blob
from trustwatch.content.yara_rules import FALLBACK_PART_BYTES, load_rule_text
from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors import MaliciousFileDetector, known_signal_kinds
from trustwatch.detectors.base import Signal
from trustwatch.errors import ConfigError
from trustwatch.events.model import FileUploaded
from trustwatch.features.context import EventContext
from trustwatch.runtime.pipeline import Pipeline

EICAR_RULE = """
rule EICAR_Test_File : test {
    meta:
        description = "The EICAR anti-virus test file"
        score = 90
    strings:
        $eicar = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!"
    condition:
        $eicar at 0 or $eicar in (0..128)
}
rule Weak_Marker { meta: severity = "low" strings: $m = "weak-marker" condition: $m }
"""

fuzzy_installed = pytest.mark.skipif(
    available_algorithms() != ("tlsh", "ssdeep"),
    reason="the fuzzy extra (py-tlsh, pydeep2) is not installed",
)


def eicar() -> bytes:
    """The EICAR anti-virus test file, assembled here so no file holds it whole."""
    head = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$"
    tail = "EICAR-STANDARD-" + "ANTIVIRUS-TEST-FILE!$H+H*"
    return (head + tail).encode("ascii")


def sample(seed: int, size: int = 8192) -> bytes:
    rng = random.Random(seed)
    words = ["".join(rng.choice("qrstuvwxyz") for _ in range(6)) for _ in range(300)]
    return " ".join(rng.choice(words) for _ in range(size // 6)).encode()[:size]


class MemoryContent:
    """Uploaded files held in memory, cut at ``limit`` bytes like the store."""

    def __init__(self, *files: bytes, limit: int | None = None) -> None:
        self.files = {hashlib.sha256(data).hexdigest(): data for data in files}
        self.limit = limit
        self.reads = 0

    def read(self, sha256: str) -> Blob | None:
        self.reads += 1
        data = self.files.get(sha256)
        if data is None:
            return None
        kept = data if self.limit is None else data[: self.limit + 1]
        return Blob(kept, len(data))


def upload(data: bytes, event_id: str = "e1", name: str | None = None) -> FileUploaded:
    return FileUploaded(
        event_id=event_id,
        ts=datetime(2026, 3, 1, tzinfo=UTC),
        account="mallory",
        file_id=f"file-{event_id}",
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def run(detector: MaliciousFileDetector, event: FileUploaded) -> list[Signal]:
    return list(detector.process_one(event, EventContext(event)))


def test_eicar_upload_raises_a_yara_signal_naming_the_rule() -> None:
    detector = MaliciousFileDetector(MemoryContent(eicar()), load_rule_text(EICAR_RULE))
    signals = run(detector, upload(eicar()))
    assert [s.kind for s in signals] == ["yara_match"]
    signal = signals[0]
    assert signal.score == pytest.approx(0.9)
    assert signal.reasons[0] == "YARA rule EICAR_Test_File (inline.yar) matched"
    assert signal.reasons[1] == "The EICAR anti-virus test file"
    assert signal.entity == f"sha256:{hashlib.sha256(eicar()).hexdigest()}"
    assert signal.evidence["strings"] == ["$eicar@0x1c"]
    assert signal.evidence["truncated"] is False
    assert signal.evidence["file_id"] == "file-e1"


def test_eicar_upload_is_quarantined_by_the_default_policy() -> None:
    benign = b"quarterly report, nothing to see"
    detectors = [
        MaliciousFileDetector(
            MemoryContent(eicar(), benign), load_rule_text(EICAR_RULE)
        )
    ]
    pipeline = Pipeline(detectors, DecisionEngine(default_policy()))
    quiet = pipeline.process_one(upload(benign, "e1"))
    loud = pipeline.process_one(upload(eicar(), "e2"))
    assert pipeline.failures == []
    assert quiet is None  # no signal, no verdict
    assert loud is not None and loud.verdict.decision == "quarantine_file"
    digest = hashlib.sha256(eicar()).hexdigest()
    quarantined = [a for a in loud.actions if a.type == "quarantine_file"]
    assert [(a.target_type, a.target) for a in quarantined] == [("file", "file-e2")]
    assert quarantined[0].reason.startswith("YARA rule EICAR_Test_File")
    assert loud.verdict.signals[0].entity == f"sha256:{digest}"


def test_a_low_scored_rule_goes_to_review_not_quarantine() -> None:
    data = b"some weak-marker text"
    detectors = [MaliciousFileDetector(MemoryContent(data), load_rule_text(EICAR_RULE))]
    pipeline = Pipeline(detectors, DecisionEngine(default_policy()))
    result = pipeline.process_one(upload(data))
    assert result is not None
    assert result.verdict.decision == "send_to_review"


def test_a_file_over_the_scan_limit_says_only_its_start_was_scanned() -> None:
    data = eicar() + b"\x00" * 4000
    detector = MaliciousFileDetector(
        MemoryContent(data, limit=1000), load_rule_text(EICAR_RULE), max_scan_bytes=500
    )
    signal = run(detector, upload(data))[0]
    assert signal.evidence["truncated"] is True
    assert (signal.evidence["scanned_bytes"], signal.evidence["size"]) == (500, 4068)
    assert "only the first 500 bytes were scanned" in signal.reasons


def test_results_are_cached_by_content() -> None:
    content = MemoryContent(eicar())
    detector = MaliciousFileDetector(content, load_rule_text(EICAR_RULE), cache_size=1)
    first = run(detector, upload(eicar(), "e1"))
    second = run(detector, upload(eicar(), "e2"))
    assert content.reads == 1
    assert [s.reasons for s in first] == [s.reasons for s in second]
    assert second[0].event_id == "e2"


def test_uploads_missing_from_the_store_or_without_hash_raise_nothing() -> None:
    detector = MaliciousFileDetector(MemoryContent(), load_rule_text(EICAR_RULE))
    assert run(detector, upload(eicar())) == []
    no_hash = FileUploaded(
        event_id="e9",
        ts=datetime(2026, 3, 1, tzinfo=UTC),
        account="mallory",
        file_id="f9",
        sha256=None,
    )
    assert run(detector, no_hash) == []


@fuzzy_installed
def test_a_near_copy_of_a_known_bad_file_is_a_fuzzy_match_sent_to_review() -> None:
    known = sample(7)
    variant = known[:3000] + b"rebuilt-section" * 4 + known[3060:]
    intel = FuzzyIntel()
    hashes = fuzzy_hashes(known)
    intel.add_text(
        f"tlsh:{hashes['tlsh']} ;loader family X\nssdeep:{hashes['ssdeep']}\n",
        feed="lab",
    )
    detector = MaliciousFileDetector(MemoryContent(variant, sample(8)), None, intel)
    signals = run(detector, upload(variant))
    assert [s.kind for s in signals] == ["fuzzy_hash_match"]
    signal = signals[0]
    assert "known-bad hash in feed lab" in signal.reasons[0]
    assert signal.evidence["feed"] == "lab"
    assert signal.evidence["matches"] == 2
    assert 0.6 <= signal.score <= 1.0
    assert run(detector, upload(sample(8), "e2")) == []
    pipeline = Pipeline([detector], DecisionEngine(default_policy()))
    result = pipeline.process_one(upload(variant, "e3"))
    assert result is not None and result.verdict.decision == "send_to_review"


def test_signal_kinds_are_known_to_the_registry_and_the_policy() -> None:
    kinds = {"yara_match", "yara_scan_incomplete", "fuzzy_hash_match"}
    assert kinds <= known_signal_kinds()
    read = {kind for rule in default_policy().rules for kind in rule.signals}
    assert kinds <= read


def test_bad_parameters_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="hint"):
        MaliciousFileDetector(MemoryContent(), cache_size=-1)
    with pytest.raises(ConfigError, match="hint"):
        MaliciousFileDetector(MemoryContent(), scan_timeout=0)
    with pytest.raises(ConfigError, match="hint"):
        MaliciousFileDetector(MemoryContent(), incomplete_score=1.5)


class SlowOnLargeInput:
    """Compiled rules that run out of time on input over ``limit`` bytes."""

    def __init__(self, rules: Any, limit: int) -> None:
        self.rules = rules
        self.limit = limit

    def match(self, **kwargs: Any) -> Any:
        if len(kwargs["data"]) > self.limit:
            raise yara.TimeoutError("scan timed out")
        return self.rules.match(**kwargs)


def test_a_padded_upload_that_times_out_still_matches_and_goes_to_review() -> None:
    data = eicar() + b"a" * (3 * FALLBACK_PART_BYTES)
    rules = load_rule_text(EICAR_RULE)
    rules.compiled = SlowOnLargeInput(rules.compiled, FALLBACK_PART_BYTES)
    detector = MaliciousFileDetector(MemoryContent(data), rules, scan_timeout=1)
    signals = {s.kind: s for s in run(detector, upload(data))}
    assert set(signals) == {"yara_match", "yara_scan_incomplete"}
    hit = signals["yara_match"]
    assert hit.evidence["scanned_part"]["part"] == "start"
    assert hit.evidence["timed_out"] is True
    incomplete = signals["yara_scan_incomplete"]
    assert incomplete.reasons[0].startswith(f"the YARA scan of {len(data):,} bytes")
    parts = incomplete.evidence["parts"]
    assert [(p["part"], p["timed_out"], p["rules_matched"]) for p in parts] == [
        ("start", False, 1),
        ("end", False, 0),
    ]
    assert parts[1]["offset"] == len(data) - FALLBACK_PART_BYTES
    pipeline = Pipeline([detector], DecisionEngine(default_policy()))
    result = pipeline.process_one(upload(data, "e2"))
    assert result is not None and result.verdict.decision == "quarantine_file"


def test_a_scan_that_times_out_everywhere_is_sent_to_review_not_allowed() -> None:
    data = b"b" * (2 * FALLBACK_PART_BYTES + 10)
    rules = load_rule_text(EICAR_RULE)
    rules.compiled = SlowOnLargeInput(rules.compiled, 0)
    detector = MaliciousFileDetector(MemoryContent(data), rules, scan_timeout=1)
    signals = run(detector, upload(data))
    assert [s.kind for s in signals] == ["yara_scan_incomplete"]
    assert signals[0].evidence["timed_out"] is True
    assert [p["timed_out"] for p in signals[0].evidence["parts"]] == [True, True]
    assert "ran out of time too" in signals[0].reasons[1]
    pipeline = Pipeline([detector], DecisionEngine(default_policy()))
    result = pipeline.process_one(upload(data, "e2"))
    assert result is not None and result.verdict.decision == "send_to_review"


def test_a_failed_scan_is_incomplete_with_yara_reason() -> None:
    class BrokenRules:
        def match(self, **kwargs: Any) -> Any:
            raise yara.Error("could not map file")

    rules = load_rule_text(EICAR_RULE)
    rules.compiled = BrokenRules()
    detector = MaliciousFileDetector(MemoryContent(b"x"), rules)
    signals = run(detector, upload(b"x"))
    assert [s.kind for s in signals] == ["yara_scan_incomplete"]
    assert "could not map file" in signals[0].reasons[0]
    assert signals[0].evidence["parts"] == []
