"""The attacks the simulator knows, by name, with how long each may last."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trustwatch.simulation.attacks.base import AttackContext
from trustwatch.simulation.attacks.content import (
    LINK_CAMPAIGN_SPAN,
    MALWARE_SPREAD_SPAN,
    malware_links,
    malware_spread,
    phishing_links,
)
from trustwatch.simulation.attacks.credentials import (
    BRUTE_FORCE_SPAN,
    STUFFING_SPAN,
    brute_force,
    credential_stuffing,
)

__all__ = ["ALL_ATTACKS", "ATTACKS", "AttackSpec"]


@dataclass(frozen=True)
class AttackSpec:
    """One kind of attack.

    Parameters
    ----------
    name
        Its name in configurations and in the ground truth.
    span
        Longest one campaign lasts, in seconds; campaigns are scheduled to
        end before the run does.
    run
        Emits one campaign: ``run(ctx, start, scale)``.
    """

    name: str
    span: float
    run: Callable[[AttackContext, float, Any], None]


ATTACKS: dict[str, AttackSpec] = {
    spec.name: spec
    for spec in (
        AttackSpec("brute_force", BRUTE_FORCE_SPAN, brute_force),
        AttackSpec("credential_stuffing", STUFFING_SPAN, credential_stuffing),
        AttackSpec("phishing_links", LINK_CAMPAIGN_SPAN, phishing_links),
        AttackSpec("malware_links", LINK_CAMPAIGN_SPAN, malware_links),
        AttackSpec("malware_spread", MALWARE_SPREAD_SPAN, malware_spread),
    )
}
"""Every attack by name."""

ALL_ATTACKS: tuple[str, ...] = tuple(ATTACKS)
"""Names of every attack, the default of a simulation."""
