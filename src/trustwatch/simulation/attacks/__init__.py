"""Simulated attacks on the platform, each emitting events and its ground truth."""

from trustwatch.simulation.attacks.base import AttackContext
from trustwatch.simulation.attacks.content import EICAR_MD5, EICAR_SHA1, EICAR_SHA256
from trustwatch.simulation.attacks.plan import ALL_ATTACKS, ATTACKS, AttackSpec

__all__ = [
    "ALL_ATTACKS",
    "ATTACKS",
    "EICAR_MD5",
    "EICAR_SHA1",
    "EICAR_SHA256",
    "AttackContext",
    "AttackSpec",
]
