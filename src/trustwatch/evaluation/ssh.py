"""Precision and recall of the credential-attack detector on real SSH logins.

Two real sources from ``shared/datasets``, read in place by
:mod:`trustwatch.devdata` (nothing is copied, nothing is parsed twice):

- **openssh**: the raw OpenSSH log of ``loghub-auth``, through trustwatch's
  own adapter. A source address is an attacker by the open rule of
  :mod:`trustwatch.devdata.labels`, applied to the raw lines; every other
  address of the log counts as not one.
- **honeypot**: the UQO session tables of ``honeypot-auth-uqo``, expanded into
  login events by :func:`trustwatch.devdata.logins.session_logins`. Every
  source of the Cowrie honeypot table is an attacker, every source of the
  legitimate SSH table is not, whatever they did (an address in both tables
  is an attacker). Both tables are shifted to start at the same instant, so
  their logins interleave.

The unit is the source address that made at least one login attempt. A source
is *flagged* when a login from it raised any signal of
:class:`~trustwatch.detectors.CredentialAttackDetector`, which runs on the
events in time order, with the pipeline's event context (and a geo resolver
when one is given, so that networks are ASes instead of /24 prefixes).

Where the labels are circular is part of the result (``circularity``): the
OpenSSH rule is the detector's own brute-force definition applied to raw lines,
so agreement there checks the adapter and the windows, not the idea; the
honeypot labels come from table membership and do not depend on any count.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from operator import attrgetter
from pathlib import Path
from statistics import median
from typing import Any, Literal

from trustwatch.detectors.credential_attacks import CredentialAttackDetector
from trustwatch.devdata.build import DEV_START
from trustwatch.devdata.feeds import COWRIE_SESSIONS, LEGIT_SESSIONS, read_sessions
from trustwatch.devdata.labels import (
    BRUTE_FORCE_RULE,
    brute_force_sources,
    failed_passwords,
)
from trustwatch.devdata.logins import openssh_logins, session_logins, shift
from trustwatch.enrichment.geo import GeoResolver
from trustwatch.errors import ConfigError
from trustwatch.events.model import Login
from trustwatch.features.context import EventContext

__all__ = ["AttemptBucket", "SourceScore", "SshEvaluation", "evaluate_ssh"]

logger = logging.getLogger(__name__)

_LOG_YEAR = 2026  # the raw log carries no year; labels and events use the same
_RULE_THRESHOLD = 10
_RULE_MINUTES = 10
#: Buckets of a labelled attacker's failed logins, for recall by effort.
_BUCKETS = ((1, 1), (2, 4), (5, 9), (10, 49), (50, None))

OPENSSH_RULE = BRUTE_FORCE_RULE.format(threshold=_RULE_THRESHOLD, minutes=_RULE_MINUTES)
"""The OpenSSH label rule in words."""

HONEYPOT_RULE = (
    "every source address of the Cowrie honeypot table is an attacker and every "
    "source of the legitimate SSH table is not (an address in both is an "
    "attacker); only sources with at least one login attempt count"
)
"""The honeypot label rule in words."""

OPENSSH_CIRCULARITY = (
    f"circular: the rule (>= {_RULE_THRESHOLD} failed passwords within "
    f"{_RULE_MINUTES} minutes from one address, on raw lines) has the shape and "
    "threshold of the detector's brute_force (>= 10 failures from one source "
    "against one username in a 10-minute window), so agreement checks the SSH "
    "adapter and the windows rather than the detection idea; differences come "
    "from per-username counting, the bucketed window and attempts the adapter "
    "reads that the rule does not (invalid users without a password line). "
    "Sources below the rule are mostly low-volume scanners, not known-benign "
    "users: a flag on them is a false positive only by the rule"
)
"""Why the OpenSSH figures say little about the detection idea."""

HONEYPOT_CIRCULARITY = (
    "not circular: labels come from which table a source is in, not from any "
    "count. Recall is bounded by behaviour: most Cowrie sources try one or two "
    "passwords per session, spread over days, which no windowed count calls an "
    "attack. The legitimate table holds successful logins only (no failures), "
    "so it can expose false alarms only on the success path and through "
    "shared networks: precision here is an upper bound. The legitimate table "
    "looks semi-synthetic"
)
"""What the honeypot figures can and cannot say."""


@dataclass(frozen=True, slots=True)
class AttemptBucket:
    """Recall among labelled attackers whose failed logins fall in a range."""

    failures: str
    attackers: int
    flagged: int

    @property
    def recall(self) -> float | None:
        """Return the flagged share, or ``None`` without attackers."""
        return self.flagged / self.attackers if self.attackers else None


@dataclass(frozen=True, slots=True)
class SourceScore:
    """How the detector did on one data source, counted by source address.

    Attributes
    ----------
    dataset
        ``"openssh"`` or ``"honeypot"``.
    label_rule
        How the labels were derived, in words.
    circularity
        Whether, and how, the labels depend on the detector's own thresholds.
    events
        Login events the detector saw.
    true_positives, false_positives, false_negatives, true_negatives
        Source addresses by label and flag.
    flagged_by_kind
        Flagged source addresses per signal kind (a source can have several).
    false_positives_by_kind
        The same, over the flagged sources not labelled attackers.
    by_attempts
        Recall among attackers by how many failed logins they made.
    median_attempts_to_flag
        Over flagged attackers, the median number of their login attempts up
        to and including the first one flagged.
    """

    dataset: str
    label_rule: str
    circularity: str
    events: int
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    flagged_by_kind: dict[str, int]
    false_positives_by_kind: dict[str, int]
    by_attempts: tuple[AttemptBucket, ...]
    median_attempts_to_flag: float | None

    @property
    def attackers(self) -> int:
        """Return the number of source addresses labelled attackers."""
        return self.true_positives + self.false_negatives

    @property
    def sources(self) -> int:
        """Return the number of source addresses with a login attempt."""
        return self.attackers + self.false_positives + self.true_negatives

    @property
    def precision(self) -> float | None:
        """Return TP / (TP + FP), or ``None`` when nothing was flagged."""
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else None

    @property
    def recall(self) -> float | None:
        """Return TP / (TP + FN), or ``None`` without attackers."""
        return self.true_positives / self.attackers if self.attackers else None

    def to_dict(self) -> dict[str, Any]:
        """Return the counts, the rates and the rules as plain values."""
        data = asdict(self)
        data["by_attempts"] = [
            {**asdict(bucket), "recall": bucket.recall} for bucket in self.by_attempts
        ]
        data.update(
            sources=self.sources,
            attackers=self.attackers,
            precision=self.precision,
            recall=self.recall,
        )
        return data


@dataclass(frozen=True)
class SshEvaluation:
    """Precision and recall of the credential-attack detector per data source.

    Attributes
    ----------
    rows
        One :class:`SourceScore` per data source.
    detector
        The detector's name, version and parameters.
    networks
        How networks were keyed: ``"AS"`` with a geo resolver, else
        ``"/24 or /64 prefix"``.
    notes
        What else the reader must know (dead letters, overlapping labels).
    """

    rows: tuple[SourceScore, ...]
    detector: dict[str, Any]
    networks: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def row(self, dataset: str) -> SourceScore:
        """Return the row of ``dataset``, or raise :class:`KeyError`."""
        for row in self.rows:
            if row.dataset == dataset:
                return row
        raise KeyError(dataset)

    def to_dict(self) -> dict[str, Any]:
        """Return the whole result as plain JSON-ready values."""
        return {
            "detector": self.detector,
            "networks": self.networks,
            "rows": [row.to_dict() for row in self.rows],
            "notes": list(self.notes),
        }

    def render(self, fmt: Literal["text", "markdown"] = "text") -> str:
        """Return the result as a plain-text or Markdown report."""
        if fmt not in ("text", "markdown"):
            raise ConfigError(f"unknown format {fmt!r}; hint: text or markdown")
        md = fmt == "markdown"
        params = ", ".join(f"{k}={v}" for k, v in self.detector["params"].items())
        lines = [
            ("## " if md else "")
            + "Credential-attack detector on real SSH logins (per source address)",
            "",
            *_table(_SUMMARY_HEAD, [_summary(r) for r in self.rows], md),
            "",
            f"Detector: {self.detector['name']} v{self.detector['version']} "
            f"({params}); networks keyed by {self.networks}.",
        ]
        for row in self.rows:
            lines += _row_details(row, md)
        if self.notes:
            lines += ["", "Notes:", "", *_bullets(list(self.notes), md)]
        return "\n".join(lines) + "\n"


_SUMMARY_HEAD = (
    "data",
    "sources",
    "attackers",
    "flagged",
    "TP",
    "FP",
    "FN",
    "precision",
    "recall",
)


def _summary(row: SourceScore) -> tuple[str, ...]:
    flagged = row.true_positives + row.false_positives
    counts = (row.true_positives, row.false_positives, row.false_negatives)
    return (
        row.dataset,
        str(row.sources),
        str(row.attackers),
        str(flagged),
        *map(str, counts),
        _share(row.precision),
        _share(row.recall),
    )


def _row_details(row: SourceScore, md: bool) -> list[str]:
    """The label rule, circularity, kinds and recall by effort of one row."""
    median_flag = row.median_attempts_to_flag
    lines = ["", ("### " if md else "") + row.dataset, ""]
    lines += _bullets(
        [
            f"labels: {row.label_rule}",
            f"labels against the detector: {row.circularity}",
            f"events: {row.events}",
            f"flagged by kind: {_counts(row.flagged_by_kind)}",
            f"false positives by kind: {_counts(row.false_positives_by_kind)}",
            "median attempts to the first flag: "
            + ("n/a" if median_flag is None else f"{median_flag:g}"),
        ],
        md,
    )
    lines += ["", "Recall by the attacker's failed logins:", ""]
    buckets = [
        (b.failures, str(b.attackers), str(b.flagged), _share(b.recall))
        for b in row.by_attempts
    ]
    head = ("failed logins", "attackers", "flagged", "recall")
    return lines + _table(head, buckets, md)


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {n}" for k, n in counts.items()) or "none"


def evaluate_ssh(
    datasets: Path,
    *,
    geo: GeoResolver | None = None,
    params: Mapping[str, Any] | None = None,
) -> SshEvaluation:
    """Measure the credential-attack detector on the real SSH data.

    Parameters
    ----------
    datasets
        The ``shared/datasets`` folder, read in place.
    geo
        Resolver that keys networks by AS (as ``trustwatch run`` does); without
        one, networks are /24 and /64 prefixes.
    params
        Detector parameters; the defaults of
        :class:`~trustwatch.detectors.CredentialAttackDetector` otherwise.

    Returns
    -------
    SshEvaluation
        One row for the OpenSSH log and one for the honeypot tables.

    Raises
    ------
    trustwatch.errors.ConfigError
        When ``datasets`` or a file in it is missing, or a parameter is bad.
    """
    if not datasets.is_dir():
        raise ConfigError(
            f"{datasets} is not a folder; hint: pass the path of shared/datasets"
        )
    try:
        detector_params = dict(CredentialAttackDetector(**(params or {})).get_params())
    except TypeError as exc:
        raise ConfigError(
            f"bad detector parameters {sorted(params or {})}: {exc}; hint: see "
            "`trustwatch detectors`"
        ) from exc

    notes: list[str] = []
    openssh, lines, dead = openssh_logins(datasets, _LOG_YEAR)
    if dead:
        notes.append(f"the SSH adapter could not read {dead} line(s) of the log")
    rule_attackers = brute_force_sources(
        failed_passwords(lines, _LOG_YEAR),
        threshold=_RULE_THRESHOLD,
        minutes=_RULE_MINUTES,
    )
    cowrie, legit, overlap = _honeypot_logins(datasets)
    if overlap:
        notes.append(
            f"{overlap} address(es) in both honeypot tables count as attackers"
        )

    rows = (
        _score(
            "openssh",
            OPENSSH_RULE,
            OPENSSH_CIRCULARITY,
            openssh,
            rule_attackers,
            detector_params,
            geo,
        ),
        _score(
            "honeypot",
            HONEYPOT_RULE,
            HONEYPOT_CIRCULARITY,
            [*cowrie, *legit],
            {e.ip for e in cowrie if e.ip},
            detector_params,
            geo,
        ),
    )
    for row in rows:
        logger.info(
            "ssh evaluation %s: %d sources, precision %s, recall %s",
            row.dataset,
            row.sources,
            _share(row.precision),
            _share(row.recall),
        )
    return SshEvaluation(
        rows=rows,
        detector={
            "name": CredentialAttackDetector.name,
            "version": CredentialAttackDetector.version,
            "params": detector_params,
        },
        networks="AS" if geo is not None else "/24 or /64 prefix",
        notes=tuple(notes),
    )


def _honeypot_logins(datasets: Path) -> tuple[list[Login], list[Login], int]:
    """Return the Cowrie and legitimate logins, shifted to one start."""
    cowrie_rows = read_sessions(datasets, COWRIE_SESSIONS)
    legit_rows = read_sessions(datasets, LEGIT_SESSIONS)
    cowrie, _ = shift(session_logins(cowrie_rows, "cowrie"), DEV_START)
    legit, _ = shift(session_logins(legit_rows, "sshlegit"), DEV_START)
    overlap = len({e.ip for e in cowrie} & {e.ip for e in legit})
    return cowrie, legit, overlap


def _score(
    dataset: str,
    rule: str,
    circularity: str,
    events: Sequence[Login],
    attackers: set[str],
    params: dict[str, Any],
    geo: GeoResolver | None,
) -> SourceScore:
    """Run a fresh detector over ``events`` in time order and count sources."""
    detector = CredentialAttackDetector(**params)
    attempts: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    first_flag: dict[str, int] = {}
    kinds: dict[str, set[str]] = defaultdict(set)
    for event in sorted(events, key=attrgetter("ts", "event_id")):
        ctx = EventContext(event, geo)
        source = ctx.source()
        if not source:
            continue
        attempts[source] += 1
        failures[source] += not event.success
        for signal in detector.process_one(event, ctx):
            kinds[signal.kind].add(source)
            first_flag.setdefault(source, attempts[source])
    flagged = set(first_flag)
    population = set(attempts)
    positives = attackers & population
    caught = [first_flag[s] for s in positives & flagged]
    return SourceScore(
        dataset=dataset,
        label_rule=rule,
        circularity=circularity,
        events=sum(attempts.values()),
        true_positives=len(positives & flagged),
        false_positives=len(flagged - positives),
        false_negatives=len(positives - flagged),
        true_negatives=len(population - positives - flagged),
        flagged_by_kind={k: len(v) for k, v in sorted(kinds.items())},
        false_positives_by_kind={
            k: len(v - positives) for k, v in sorted(kinds.items()) if v - positives
        },
        by_attempts=_buckets(positives, flagged, failures),
        median_attempts_to_flag=float(median(caught)) if caught else None,
    )


def _buckets(
    positives: set[str], flagged: set[str], failures: Mapping[str, int]
) -> tuple[AttemptBucket, ...]:
    buckets = []
    for low, high in _BUCKETS:
        inside = {
            s
            for s in positives
            if low <= failures[s] and (high is None or failures[s] <= high)
        }
        label = (
            f"{low}+"
            if high is None
            else (str(low) if low == high else f"{low}-{high}")
        )
        buckets.append(AttemptBucket(label, len(inside), len(inside & flagged)))
    zero = {s for s in positives if failures[s] == 0}
    if zero:
        buckets.insert(0, AttemptBucket("0", len(zero), len(zero & flagged)))
    return tuple(buckets)


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _table(head: Sequence[str], body: Iterable[Sequence[str]], md: bool) -> list[str]:
    rows = [list(head), *map(list, body)]
    if md:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return out + ["| " + " | ".join(r) + " |" for r in rows[1:]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]


def _bullets(items: Sequence[str], md: bool) -> list[str]:
    return [("- " if md else "  ") + item for item in items]
