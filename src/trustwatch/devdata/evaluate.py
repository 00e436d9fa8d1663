"""Score a run over a development stream against the stream's answer key.

Each row counts one labelled group (listed URLs, benign URLs, malicious
hashes, honeypot sources...) and how much of it the run acted on: a verdict
whose decision is not ``allow`` on the group's events, or, for login sources,
a signal naming the address. On malicious groups that share is recall; on
benign groups it is the false-positive rate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from trustwatch.decisions.model import Verdict
from trustwatch.devdata.truth import DevTruth
from trustwatch.errors import ConfigError

__all__ = ["EvaluationRow", "evaluate_dev_run"]


@dataclass(frozen=True, slots=True)
class EvaluationRow:
    """One labelled group and the share of it the run acted on."""

    group: str
    malicious: bool
    total: int
    acted: int

    @property
    def rate(self) -> float:
        """Return recall for a malicious group, false-positive rate otherwise."""
        return self.acted / self.total if self.total else 0.0

    @property
    def measure(self) -> str:
        """Return what :attr:`rate` measures for this group."""
        return "recall" if self.malicious else "false-positive rate"


class _Event(msgspec.Struct):
    event_id: str
    type: str
    url: str | None = None
    sha256: str | None = None
    sha1: str | None = None
    md5: str | None = None


def evaluate_dev_run(
    stream_dir: Path, verdicts: Iterable[Verdict]
) -> list[EvaluationRow]:
    """Return one row per labelled group of the stream in ``stream_dir``."""
    truth = _read_truth(stream_dir)
    acted: set[str] = set()
    flagged_sources: set[str] = set()
    for verdict in verdicts:
        if verdict.decision == "allow":
            continue
        acted.add(verdict.event_id)
        flagged_sources.update(
            s.entity for s in verdict.signals if s.entity_type == "ip"
        )
    decode = msgspec.json.Decoder(_Event).decode
    with (stream_dir / "events.jsonl").open("rb") as lines:
        events = [decode(line) for line in lines]
    return [
        *_url_rows(truth, events, acted),
        *_hash_rows(truth, events, acted),
        *_source_rows(truth, flagged_sources),
    ]


def _read_truth(stream_dir: Path) -> DevTruth:
    hint = "hint: pass the folder `trustwatch devdata build` wrote"
    path = stream_dir / "truth.json"
    if not path.is_file() or not (stream_dir / "events.jsonl").is_file():
        raise ConfigError(f"{stream_dir} holds no dev stream; {hint}")
    try:
        return msgspec.json.decode(path.read_bytes(), type=DevTruth)
    except msgspec.DecodeError as exc:
        message = f"{path} is not a dev stream's answer key ({exc}); {hint}"
        raise ConfigError(message) from exc


def _url_rows(
    truth: DevTruth, events: list[_Event], acted: set[str]
) -> list[EvaluationRow]:
    status = {label.url: label.status for label in truth.urls}
    groups: dict[str, list[str]] = defaultdict(list)
    for event in events:
        if event.url in status:
            groups[status[event.url]].append(event.event_id)
    return [
        EvaluationRow(
            group=f"{name} URL events",
            malicious=name != "benign",
            total=len(groups[name]),
            acted=sum(e in acted for e in groups[name]),
        )
        for name in ("listed", "unlisted", "benign")
    ]


def _hash_rows(
    truth: DevTruth, events: list[_Event], acted: set[str]
) -> list[EvaluationRow]:
    malicious = {label.value: label.malicious for label in truth.hashes}
    total = {True: 0, False: 0}
    hit = {True: 0, False: 0}
    for event in events:
        digest = event.sha256 or event.sha1 or event.md5
        if event.type != "file_uploaded" or digest not in malicious:
            continue
        label = malicious[digest]
        total[label] += 1
        hit[label] += event.event_id in acted
    return [
        EvaluationRow("malicious-hash uploads", True, total[True], hit[True]),
        EvaluationRow("benign-hash uploads", False, total[False], hit[False]),
    ]


def _source_rows(truth: DevTruth, flagged: set[str]) -> list[EvaluationRow]:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for label in truth.ips:
        if label.label != "unlabelled":
            groups[(label.source, label.label)].append(label.ip)
    return [
        EvaluationRow(
            group=f"{source} sources ({label})",
            malicious=label == "attacker",
            total=len(ips),
            acted=sum(ip in flagged for ip in ips),
        )
        for (source, label), ips in sorted(groups.items())
    ]
