"""Build what a pipeline runs with from command-line choices.

Shared by the commands that run the pipeline (``run`` over files, ``stream``
over Kafka), so both choose policy, detectors and geolocation the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from trustwatch.cli.render import clean, error_console
from trustwatch.decisions.policy import (
    Policy,
    default_policy,
    load_policy,
    unknown_kinds,
)
from trustwatch.errors import ConfigError

if TYPE_CHECKING:
    from trustwatch.content.store import ContentSource
    from trustwatch.detectors.base import Detector
    from trustwatch.enrichment.geo import GeoResolver
    from trustwatch.runtime.embedded import IntelLoad

__all__ = ["build_detectors", "build_geo", "checked_policy"]

errors = error_console()


def build_detectors(
    intel: IntelLoad | None,
    content: ContentSource | None,
    extra: Sequence[str],
    graph_model: Path | None = None,
) -> list[Detector]:
    """The default detectors, the named ones after them, and graph_scores."""
    from trustwatch.detectors import create, default_detectors

    detectors = default_detectors(intel.store if intel else None, content)
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
    return detectors


def checked_policy(path: Path | None) -> Policy:
    """Load the policy (the shipped one without a path); warn of dead rules."""
    from trustwatch.detectors.registry import known_signal_kinds

    chosen = load_policy(path) if path else default_policy()
    for kind in unknown_kinds(chosen, known_signal_kinds()):
        errors.print(
            f"warning: policy {clean(chosen.ref)} reads signal kind {clean(kind)!r}, "
            "which no detector raises; the rules reading it never fire"
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
