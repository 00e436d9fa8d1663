"""Build what a pipeline runs with from command-line choices.

Shared by the commands that run the pipeline (``run`` over files, ``stream``
over Kafka), so both choose policy, detectors and geolocation the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from trustwatch.cli.render import clean, error_console
from trustwatch.decisions.policy import (
    Policy,
    default_policy,
    load_policy,
    unknown_kinds,
)
from trustwatch.errors import ConfigError, InvalidIndicatorError

if TYPE_CHECKING:
    from trustwatch.content.fuzzy import FuzzyIntel
    from trustwatch.content.store import ContentSource
    from trustwatch.content.yara_rules import RuleLoad
    from trustwatch.detectors.base import Detector
    from trustwatch.enrichment.geo import GeoResolver
    from trustwatch.events.deadletter import DeadLetter
    from trustwatch.runtime.embedded import IntelLoad

__all__ = [
    "FileScanning",
    "build_detectors",
    "build_geo",
    "checked_policy",
    "load_file_scanning",
    "load_intel_sources",
]

errors = error_console()

# a URL scheme (``https://``), and load_feed's format argument in a message
_URL_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_FORMAT_ARGUMENT: Final = re.compile(r"(?<![\w-])format=")


def load_intel_sources(
    intel_paths: Sequence[str],
    intel_format: str,
    intel_db: Path | None,
    allowlist_paths: Sequence[str],
) -> IntelLoad | None:
    """Load --intel files and --intel-db, leaving out what --allowlist holds.

    Returns
    -------
    IntelLoad or None
        The merged intel, or None when neither files nor a database is given.

    Raises
    ------
    ConfigError
        When allow-lists are given without any intel to filter, or an
        --intel names a URL (the run fetches nothing).
    """
    from trustwatch.intel.allowlists import AllowList
    from trustwatch.runtime.embedded import load_intel

    if allowlist_paths and not intel_paths and intel_db is None:
        raise ConfigError(
            "--allowlist needs --intel or --intel-db; hint: allow-lists filter "
            "the intel the run loads"
        )
    _refuse_intel_urls(intel_paths)
    allowlist = AllowList.from_paths(allowlist_paths) if allowlist_paths else None
    intel = None
    if intel_paths:
        try:
            intel = load_intel(intel_paths, intel_format, allowlist)
        except (ConfigError, InvalidIndicatorError) as exc:
            # the library's hints name load_feed's format=; here it is a flag
            raise type(exc)(_flag_in_hint(str(exc))) from exc
    if intel_db is not None:
        from trustwatch.cli.intel import intel_from_db

        intel = intel_from_db(intel_db, intel, allowlist)
    return intel


def _flag_in_hint(message: str) -> str:
    """Name ``--intel-format`` where a message's hint says ``format=``; the
    text before the hint (a path such as ``lake/format=v2/``) is kept."""
    head, found, hint = message.partition("hint:")
    if not found:
        return message
    return head + found + _FORMAT_ARGUMENT.sub("--intel-format", hint)


def _refuse_intel_urls(intel_paths: Sequence[str]) -> None:
    """Refuse an --intel that names a URL: the run reads files, it fetches nothing."""
    from trustwatch.intel.feedlist import redact_url

    for entry in intel_paths:
        if _URL_SCHEME.match(entry.strip()):
            raise ConfigError(
                f"--intel takes files, folders or globs, not URLs: "
                f"{redact_url(entry.strip())}; hint: list the feed in a feeds file, "
                "fetch it with `trustwatch intel sync --feeds FILE --db DB`, then "
                "pass that database with --intel-db DB"
            )


@dataclass(frozen=True)
class FileScanning:
    """YARA rules and fuzzy-hash intel, loaded once and shared by pipelines.

    Both are read-only once loaded, so every partition's ``malicious_file``
    detector can use the same ones (each keeps its own cache of results).
    ``rejected`` holds each fuzzy-intel line that was not loaded as a dead
    letter (source the file, location ``path:line``), for the run to store.
    """

    content: ContentSource
    rules: RuleLoad | None
    fuzzy: FuzzyIntel | None
    rejected: tuple[DeadLetter, ...] = ()


def load_file_scanning(
    content: ContentSource | None,
    yara_paths: Sequence[str],
    fuzzy_intel_paths: Sequence[str],
) -> FileScanning | None:
    """Load the rules and fuzzy intel (None without either); report rejects."""
    from collections import Counter

    from trustwatch.content.fuzzy import FuzzyIntel
    from trustwatch.content.yara_rules import load_rules
    from trustwatch.events.deadletter import DeadLetter

    if not yara_paths and not fuzzy_intel_paths:
        return None
    if content is None:
        raise ConfigError(
            "--yara and --fuzzy-intel scan uploaded content; hint: add "
            "--content-dir with the uploaded files"
        )
    rules = load_rules(yara_paths) if yara_paths else None
    if rules is not None and rules.rejected:
        top = ", ".join(
            f"{clean(reason)} ({count})"
            for reason, count in rules.reason_counts().most_common(3)
        )
        errors.print(
            f"warning: {len(rules.rejected):,} YARA rules or file parts were "
            f"rejected ({len(rules.accepted):,} loaded): {top}; see "
            "`trustwatch file rules`"
        )
    fuzzy = FuzzyIntel.from_paths(fuzzy_intel_paths) if fuzzy_intel_paths else None
    rejected: tuple[DeadLetter, ...] = ()
    if fuzzy is not None and fuzzy.rejects:
        rejected = tuple(
            DeadLetter.build(
                str(Path(r.source).resolve()), r.location, r.code, r.reason, r.raw
            )
            for r in fuzzy.rejects
        )
        codes = ", ".join(
            f"{clean(code)} ({count:,})"
            for code, count in Counter(r.code for r in fuzzy.rejects).most_common()
        )
        errors.print(
            f"warning: {len(fuzzy.rejects):,} fuzzy-intel lines were not loaded "
            f"({len(fuzzy.entries):,} loaded): {codes}; first: "
            f"{clean(fuzzy.rejects[0].location)}: {clean(fuzzy.rejects[0].reason)}"
        )
    return FileScanning(content, rules, fuzzy, rejected)


def build_detectors(
    intel: IntelLoad | None,
    content: ContentSource | None,
    extra: Sequence[str],
    graph_model: Path | None = None,
    *,
    scanning: FileScanning | None = None,
    url_model: Path | None = None,
) -> list[Detector]:
    """The default detectors, the named ones after them, and graph_scores.

    With ``scanning`` (see :func:`load_file_scanning`) the ``malicious_file``
    detector runs too, just before ``content_spread`` so that its findings
    mark the content malicious on the same upload. ``url_model`` replaces
    the shipped URL model, for ``url_reputation`` and for links in files.
    """
    from trustwatch.detectors import create, default_detectors
    from trustwatch.detectors.file_phishing import FilePhishingDetector
    from trustwatch.detectors.malicious_file import MaliciousFileDetector
    from trustwatch.detectors.url_reputation import (
        UrlReputationDetector,
        file_link_scorer,
        load_url_model,
    )

    detectors = default_detectors(intel.store if intel else None, content)
    if url_model is not None:
        model = load_url_model(url_model)
        for i, detector in enumerate(detectors):
            if detector.name == "url_reputation":
                detectors[i] = UrlReputationDetector(model_path=str(url_model))
            elif detector.name == "file_phishing" and content is not None:
                detectors[i] = FilePhishingDetector(content, file_link_scorer(model))
    running = {d.name for d in detectors}
    for name in extra:
        if name in running:
            raise ConfigError(f"detector {name!r} already runs; hint: name it once")
        if name == "graph_scores" and graph_model is not None:
            continue  # --graph-model adds it, with its model
        detectors.append(create(name))
        running.add(name)
    if graph_model is not None:
        detectors.append(create("graph_scores", model_path=str(graph_model)))
    if scanning is not None:
        spread = next(
            (i for i, d in enumerate(detectors) if d.name == "content_spread"),
            len(detectors),
        )
        detectors.insert(
            spread,
            MaliciousFileDetector(scanning.content, scanning.rules, scanning.fuzzy),
        )
    return detectors


def checked_policy(path: Path | None) -> Policy:
    """Load the policy (the shipped one without a path); warn of dead rules."""
    from trustwatch.detectors.registry import known_signal_kinds

    chosen = load_policy(path) if path else default_policy()
    for kind in unknown_kinds(chosen, known_signal_kinds()):
        errors.print(
            f"warning: policy {clean(chosen.ref)} reads signal kind {clean(kind)!r}, "
            "which no detector raises; a rule naming it never fires, and a "
            "condition reading it never finds it"
        )
    return chosen


def build_geo(country: Path | None, asn: Path | None, off: bool) -> GeoResolver | None:
    """The geolocation to use: none, MaxMind files, or the bundled data."""
    from trustwatch.enrichment.geo import BundledGeo, MaxMindGeo

    if off:
        return None
    if country or asn:
        return MaxMindGeo(country, asn)
    return BundledGeo()
