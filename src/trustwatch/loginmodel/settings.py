"""The login risk model's settings, checked once when they are made."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from trustwatch.errors import ConfigError
from trustwatch.loginmodel.attributes import LEVELS

__all__ = ["LoginModelSettings"]

_LEVEL_COUNT: Final = len(LEVELS)


@dataclass(frozen=True)
class LoginModelSettings:
    """The login risk model's parameters (see :mod:`trustwatch.loginmodel.model`).

    Parameters
    ----------
    attack_prior
        ``pi``: prior probability that a login is an attack.
    learn_below
        A successful login is learned into its account's history only when
        its risk is below this (or it passed a second factor).
    trust_second_factor
        Learn successful logins that passed a second factor whatever their
        risk.
    account_half_life_days
        Half-life of an account's learned logins.
    population_half_life_days
        Half-life of the population's and the labelled attacks' counts.
    account_smoothing
        ``b``: expected novel logins' worth of prior pulling an account's
        roaming ratio to 1 (to the population's rates).
    novelty_priors
        The population's novelty rate per level (country, network, IP,
        OS, device, browser, user agent) before it has data, at every gap.
    population_smoothing
        ``g``: weight of the base probability of unseen values.
    failure_window_hours
        Window of the failed-login evidence.
    stuffing_success_rate
        ``r_s``: the accounts a credential-stuffing source gets into per
        account it fails against (industry reports put stuffing success at
        0.1-2%).
    legit_failure_share
        ``e``: the share of the accounts logging in successfully from a value
        expected to fail from it too (mistyped passwords).
    label_weight
        ``l``: weight of the labelled attacks' distribution once any exist.
    activity_prior_logins
        ``a_0``: logins' worth of prior pulling an account's login rate to the
        population's mean.
    automation_factor
        ``c``: how much likelier a script's or tool's user agent is from an
        attacker than from an owner.
    max_clock_skew_hours
        How far ahead of, or behind, the stream's clock a login may lie and
        still be learned (and move the clock).
    clock_confirmations
        Logins out of line in a row, agreeing on the time, that move the
        clock to them (a real gap in the stream, a replay of another period).
    reason_factor
        A level's factor from which it is named in the reasons.
    max_accounts
        Most account histories kept (least recently learned evicted).
    max_values_per_account
        Most attribute paths one account keeps.
    max_population_keys
        Most paths the population, and the labelled attacks, keep.
    max_evidence_keys
        Most addresses, networks and agents the failure windows keep.
    max_accounts_per_value
        Most distinct failing, and succeeding, accounts counted per value.
    """

    attack_prior: float = 0.01
    learn_below: float = 0.5
    trust_second_factor: bool = True
    account_half_life_days: float = 90.0
    population_half_life_days: float = 14.0
    account_smoothing: float = 1.0
    novelty_priors: tuple[float, ...] = (0.02, 0.08, 0.35, 0.02, 0.03, 0.05, 0.15)
    population_smoothing: float = 1.0
    failure_window_hours: float = 24.0
    stuffing_success_rate: float = 0.01
    legit_failure_share: float = 0.05
    label_weight: float = 0.5
    activity_prior_logins: float = 1.0
    automation_factor: float = 20.0
    max_clock_skew_hours: float = 24.0
    clock_confirmations: int = 3
    reason_factor: float = 4.0
    max_accounts: int = 100_000
    max_values_per_account: int = 64
    max_population_keys: int = 500_000
    max_evidence_keys: int = 50_000
    max_accounts_per_value: int = 200

    def __post_init__(self) -> None:
        """Reject values the model cannot use, naming the field."""
        unit = ("learn_below", "label_weight", "legit_failure_share")
        for name in ("attack_prior", "stuffing_success_rate", *unit):
            value = getattr(self, name)
            low_ok = value >= 0 if name in unit else value > 0
            if not (low_ok and value <= 1 and (name in unit or value < 1)):
                raise ConfigError(f"{name}={value!r} must lie in [0, 1]")
        positive = (
            "account_half_life_days",
            "population_half_life_days",
            "account_smoothing",
            "population_smoothing",
            "activity_prior_logins",
            "failure_window_hours",
            "reason_factor",
            "max_clock_skew_hours",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be positive")
        if not self.automation_factor >= 1:
            raise ConfigError(
                f"automation_factor={self.automation_factor!r} must be at least 1"
            )
        if not 1 <= self.clock_confirmations <= 100:
            raise ConfigError(
                f"clock_confirmations={self.clock_confirmations!r} must lie in [1, 100]"
            )
        if len(self.novelty_priors) != _LEVEL_COUNT or not all(
            0 < r < 1 for r in self.novelty_priors
        ):
            raise ConfigError(
                f"novelty_priors={self.novelty_priors!r}: give {_LEVEL_COUNT} rates "
                f"in (0, 1), one per level {LEVELS}"
            )
        sizes = (
            "max_accounts",
            "max_values_per_account",
            "max_population_keys",
            "max_evidence_keys",
            "max_accounts_per_value",
        )
        for name in sizes:
            if getattr(self, name) < 8:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be at least 8")
