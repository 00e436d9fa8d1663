"""Pin the names other packages and the CLI import from the simulation."""

from __future__ import annotations

import trustwatch.simulation as simulation


def test_package_exports() -> None:
    assert sorted(simulation.__all__) == [
        "ALL_ATTACKS",
        "AttackTruth",
        "BenignBehaviour",
        "BruteForceScale",
        "EICAR_MD5",
        "EICAR_SHA1",
        "EICAR_SHA256",
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
    assert all(hasattr(simulation, name) for name in simulation.__all__)


def test_all_attacks_lists_the_five_kinds() -> None:
    assert simulation.ALL_ATTACKS == (
        "brute_force",
        "credential_stuffing",
        "phishing_links",
        "malware_links",
        "malware_spread",
    )
