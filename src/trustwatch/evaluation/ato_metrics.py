"""How many attack logins a score catches when only so many legitimate ones may suffer.

A challenge budget is a share of legitimate logins that may be challenged
(1%, 5%). :func:`caught_at` finds the threshold that spends the budget and
returns the share of attack logins at or above it. Scores often tie, most of
all a rule's (every "new country" login scores 1), and a tie at the threshold
cannot be challenged in part by a deterministic policy: the tied logins are
counted in proportion to the budget left for them, which is what challenging
a random share of them achieves on average (the point on the straight line
between two corners of the ROC curve). No tie is ever counted whole.

:func:`roc_auc` is the Mann-Whitney statistic: the chance an attack login
scores above a legitimate one, ties counting one half.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trustwatch.errors import ConfigError

__all__ = ["Caught", "caught_at", "roc_auc"]

Scores = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Caught:
    """The share of attack logins caught when spending one challenge budget.

    Attributes
    ----------
    challenge_rate
        The budget: share of legitimate logins challenged.
    threshold
        Scores above it are challenged; scores equal to it in part.
    tied_share
        Share of the logins scored exactly at the threshold that the budget
        still covers (1 when none are tied across it).
    caught
        Share of attack logins challenged, ties counted in proportion.
    caught_strictly
        Share of attack logins scored above the threshold (no tie counted).
    """

    challenge_rate: float
    threshold: float
    tied_share: float
    caught: float
    caught_strictly: float


def caught_at(legit: Scores, attacks: Scores, challenge_rate: float) -> Caught | None:
    """Return what challenging ``challenge_rate`` of legitimate logins catches.

    Parameters
    ----------
    legit
        Scores of legitimate logins (higher is riskier).
    attacks
        Scores of attack logins.
    challenge_rate
        Share of legitimate logins that may be challenged, in ``(0, 1]``.

    Returns
    -------
    Caught or None
        ``None`` when there is no legitimate or no attack login.

    Raises
    ------
    ConfigError
        When ``challenge_rate`` is outside ``(0, 1]``.

    Examples
    --------
    >>> legit = np.array([0.0] * 95 + [1.0] * 5)
    >>> attacks = np.array([1.0, 1.0, 0.0, 0.0])
    >>> caught_at(legit, attacks, 0.01).caught  # 1 of 5 tied legit logins fits
    0.1
    """
    if not 0.0 < challenge_rate <= 1.0 or math.isnan(challenge_rate):
        raise ConfigError(f"challenge rate {challenge_rate} is not in (0, 1]")
    if legit.size == 0 or attacks.size == 0:
        return None
    budget = challenge_rate * legit.size
    ranked = np.sort(legit)[::-1]
    spent = min(math.floor(budget + 1e-9), legit.size - 1)
    threshold = float(ranked[spent])
    above = int(np.count_nonzero(legit > threshold))
    tied = int(np.count_nonzero(legit == threshold))
    share = min(1.0, max(0.0, (budget - above) / tied))
    attacks_above = int(np.count_nonzero(attacks > threshold))
    attacks_tied = int(np.count_nonzero(attacks == threshold))
    return Caught(
        challenge_rate=challenge_rate,
        threshold=threshold,
        tied_share=share,
        caught=(attacks_above + share * attacks_tied) / attacks.size,
        caught_strictly=attacks_above / attacks.size,
    )


def roc_auc(legit: Scores, attacks: Scores) -> float | None:
    """Return the area under the ROC curve, ties counting one half.

    Returns ``None`` when there is no legitimate or no attack login.

    Examples
    --------
    >>> roc_auc(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    0.75
    """
    if legit.size == 0 or attacks.size == 0:
        return None
    scores = np.concatenate([legit, attacks])
    order = np.argsort(scores, kind="mergesort")
    ordered = scores[order]
    _, first, counts = np.unique(ordered, return_index=True, return_counts=True)
    # Tied scores share the mean of the ranks they span (ranks from 1).
    mean_ranks = first + (counts + 1) / 2.0
    ranks = np.empty(scores.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_ranks, counts)
    attack_rank_sum = float(ranks[legit.size :].sum())
    wins = attack_rank_sum - attacks.size * (attacks.size + 1) / 2.0
    return wins / (attacks.size * legit.size)
