"""Synthetic file-sharing telemetry with labelled attacks, for demos and tests.

:func:`simulate` runs a seeded simulation of a platform's users (logins,
uploads, shares, links, downloads, posted URLs) with attacks mixed in (brute
force, credential stuffing, phishing and malware links, a spreading malware
file) and returns the events, the ground truth and a plain intel feed.
:func:`iter_events` streams the same events for long runs.
"""

from trustwatch.simulation.attacks import (
    ALL_ATTACKS,
    EICAR_MD5,
    EICAR_SHA1,
    EICAR_SHA256,
)
from trustwatch.simulation.benign import BenignBehaviour
from trustwatch.simulation.platform import (
    Simulation,
    SimulationConfig,
    SimulationPaths,
    iter_events,
    simulate,
    write_simulation,
)
from trustwatch.simulation.scales import (
    BruteForceScale,
    LinkCampaignScale,
    MalwareSpreadScale,
    StuffingScale,
)
from trustwatch.simulation.truth import AttackTruth, GroundTruth

__all__ = [
    "ALL_ATTACKS",
    "EICAR_MD5",
    "EICAR_SHA1",
    "EICAR_SHA256",
    "AttackTruth",
    "BenignBehaviour",
    "BruteForceScale",
    "GroundTruth",
    "LinkCampaignScale",
    "MalwareSpreadScale",
    "Simulation",
    "SimulationConfig",
    "SimulationPaths",
    "StuffingScale",
    "iter_events",
    "simulate",
    "write_simulation",
]
