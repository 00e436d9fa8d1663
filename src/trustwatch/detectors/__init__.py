"""Detectors: one contract, a registry, and the detectors that ship."""

from trustwatch.content.store import ContentSource
from trustwatch.detectors.base import Detector, IndicatorRef, Signal
from trustwatch.detectors.behaviour_baseline import BehaviourBaselineDetector
from trustwatch.detectors.brand_impersonation import BrandImpersonationDetector
from trustwatch.detectors.content_spread import ContentSpreadDetector
from trustwatch.detectors.credential_attacks import CredentialAttackDetector
from trustwatch.detectors.file_phishing import FilePhishingDetector
from trustwatch.detectors.graph_scores import AccountScoreDetector
from trustwatch.detectors.graph_sweeps import CommunityDetector, DenseBlockDetector
from trustwatch.detectors.impossible_travel import ImpossibleTravelDetector
from trustwatch.detectors.intel_match import IntelMatchDetector
from trustwatch.detectors.login_risk import LoginRiskDetector
from trustwatch.detectors.malicious_file import MaliciousFileDetector
from trustwatch.detectors.registry import (
    available,
    create,
    known_signal_kinds,
    register,
)
from trustwatch.detectors.rings import RingDetector
from trustwatch.detectors.takeover_chain import TakeoverChainDetector
from trustwatch.detectors.url_heuristics import UrlHeuristicDetector, url_risk
from trustwatch.detectors.url_reputation import (
    UrlReputationDetector,
    file_link_scorer,
    model_url_scorer,
)
from trustwatch.intel.store import IndicatorStore

__all__ = [
    "AccountScoreDetector",
    "BehaviourBaselineDetector",
    "BrandImpersonationDetector",
    "CommunityDetector",
    "ContentSpreadDetector",
    "CredentialAttackDetector",
    "DenseBlockDetector",
    "Detector",
    "FilePhishingDetector",
    "ImpossibleTravelDetector",
    "IndicatorRef",
    "IntelMatchDetector",
    "LoginRiskDetector",
    "MaliciousFileDetector",
    "RingDetector",
    "Signal",
    "TakeoverChainDetector",
    "UrlHeuristicDetector",
    "UrlReputationDetector",
    "available",
    "create",
    "default_detectors",
    "file_link_scorer",
    "known_signal_kinds",
    "model_url_scorer",
    "register",
    "url_risk",
]


def default_detectors(
    intel: IndicatorStore | None = None, content: ContentSource | None = None
) -> list[Detector]:
    """Return the detectors the embedded and stream runtimes run by default.

    The intel detector runs only with an indicator store, and the file
    phishing detector only with a store of uploaded file content. The URL
    model and the URL rules both run: each raises its own signal kind, and
    the rules still catch shapes a model trained on open data alone misses.
    The login detectors come first and the takeover chain after them: it
    reads their signals on the same login (``ctx.raised``). The credential
    attack detector runs after the login risk and impossible travel ones: a
    success after failures from elsewhere is a takeover (locked) only when
    one of them found the login risky.
    """
    detectors: list[Detector] = [
        ImpossibleTravelDetector(),
        LoginRiskDetector(),
        CredentialAttackDetector(),
        TakeoverChainDetector(),
        BehaviourBaselineDetector(),
        ContentSpreadDetector(),
        UrlReputationDetector(),
        UrlHeuristicDetector(),
        BrandImpersonationDetector(),
        RingDetector(),
    ]
    if content is not None:
        detectors.append(FilePhishingDetector(content, file_link_scorer()))
    if intel is not None:
        detectors.insert(0, IntelMatchDetector(intel))
    return detectors
