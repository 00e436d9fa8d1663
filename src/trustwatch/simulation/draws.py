"""Small random draws the simulator needs and :mod:`random` lacks."""

from __future__ import annotations

import math
from random import Random

__all__ = ["poisson"]

_KNUTH_LIMIT = 30.0


def poisson(rng: Random, lam: float) -> int:
    """Return a Poisson-distributed count with mean ``lam``.

    Knuth's product method below a mean of 30, a rounded normal above it
    (the error there is far below what a traffic simulation cares about).
    """
    if lam <= 0.0:
        return 0
    if lam >= _KNUTH_LIMIT:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
