"""Detectors: one contract, a registry, and the detectors that ship."""

from trustwatch.detectors.base import Detector, IndicatorRef, Signal
from trustwatch.detectors.content_spread import ContentSpreadDetector
from trustwatch.detectors.credential_attacks import CredentialAttackDetector
from trustwatch.detectors.intel_match import IntelMatchDetector
from trustwatch.detectors.registry import available, create, register
from trustwatch.detectors.url_heuristics import UrlHeuristicDetector, url_risk
from trustwatch.intel.store import IndicatorStore

__all__ = [
    "ContentSpreadDetector",
    "CredentialAttackDetector",
    "Detector",
    "IndicatorRef",
    "IntelMatchDetector",
    "Signal",
    "UrlHeuristicDetector",
    "available",
    "create",
    "default_detectors",
    "register",
    "url_risk",
]


def default_detectors(intel: IndicatorStore | None = None) -> list[Detector]:
    """Return the detectors the embedded and stream runtimes run by default."""
    detectors: list[Detector] = [
        CredentialAttackDetector(),
        ContentSpreadDetector(),
        UrlHeuristicDetector(),
    ]
    if intel is not None:
        detectors.insert(0, IntelMatchDetector(intel))
    return detectors
