r"""The login risk model: how likely a login is the account's owner, or not.

The model follows Freeman et al., "Who Are You? A Statistical Approach to
Measuring User Authenticity" (NDSS 2016). A login ``x`` for account ``u`` is
scored by how much more likely its attributes are under an attacker than
under the account's own history, attribute by attribute along two
hierarchies (see :mod:`trustwatch.loginmodel.attributes`): country → network
→ IP address, and operating system → device → browser → user-agent string.

Formula
-------
For each known level ``k`` of a chain, with ``v`` its value and ``a`` the
path above it (the parent)::

    p_pop(v | a)  = (c_pop(a, v) + g * q_k) / (c_pop(a) + g)

    p_u(v | a)    = (1 - n_u,k) * c_u(a, v) / c_u(a) + n_u,k * p_pop(v | a)
                    when the account knows ``a``, else p_pop(v | a)

    n_u,k         = (novel_u,k + b * r_k) / (trials_u,k + b)

    p_att(v | a)  = (1 - l) * B_k(v) * p_pop(v | a) + l * p_lab(v | a)

    p_lab(v | a)  = (c_lab(a, v) + h * p_pop(v | a)) / (c_lab(a) + h)

    LR  = prod_k p_att(v_k | a_k) / p_u(v_k | a_k)

    risk = LR * pi / (LR * pi + 1 - pi)

where

- ``c_pop`` are the population's counts of each path over legitimate logins
  (fading with a half-life, bounded: :class:`~.counts.DecayedCounts`), ``q_k``
  a small base probability of a value the population has never shown at
  level ``k`` and ``g`` its weight;
- ``c_u`` are the account's own counts (fading, bounded:
  :class:`~.history.AccountHistory`);
- ``n_u,k`` is the account's *novelty rate* at level ``k``: how often its
  logins brought a new value under a parent it knew, pulled towards the
  population's rate ``r_k`` with ``b`` pseudo-logins. This is the smoothing
  up the hierarchy: a new value is only as surprising as new values are at
  its level, for this account. New IP addresses inside a familiar network
  are common (``r`` is 0.35 before the population has data), new countries
  rare (0.02), so a new address in a familiar network costs a factor near
  ``1 / 0.35``, about 3, and a new country one near ``1 / 0.02 = 50``, more
  for an account that has never roamed, less for one that often does. ``r_k``
  itself is learned online: the population's weighted share of novel values
  among its accounts' logins, with the priors worth 50 logins. Under a
  parent the account has never used, the levels below carry no further
  account evidence (their factor is the attacker evidence alone), so a new
  country is not counted again as a new network and a new address;
- ``B_k(v)`` is the attacker evidence of the population today (only for the
  network, IP address and user agent levels):
  ``1 + (max(0, F - s * S) / f) ** 2``, where ``F`` is the number of
  distinct accounts that failed to log in from ``v`` in the last day
  (credential stuffing and spraying), ``S`` the successful logins from
  ``v`` in that day (a busy ISP's honest mistakes are discounted with
  ``s``) and ``f`` the excess of failing accounts that doubles the odds.
  The square makes a few failing accounts (a shared address, a typo or
  two) count for little and dozens count for a lot;
- ``c_lab`` are counts over logins *labelled* as attacks (where labels
  exist, :meth:`LoginRiskModel.learn_attack`), mixed in with weight ``l``
  once there are any;
- ``pi`` is the prior probability that a login is an attack. The factors
  multiply as if independent given the parent, as in Freeman et al.

A familiar value gives a factor near ``p_pop(v | a)``, below 1 and the
smaller the rarer the value is in the population: a familiar rare user
agent is strong evidence of the owner. A login without a source address or
a user agent simply lacks that chain; an unknown value (no geolocation, an
agent the rules do not recognise) skips its level.

Learning
--------
:meth:`LoginRiskModel.assess_one` scores first, then learns, in event-time
order. Failed logins feed only the attacker evidence. A successful login
feeds the account's history (and the population) only when it scored below
``learn_below``, or passed a second factor: a login risky enough to be
challenged must not teach the account that the attacker's country and
device are normal. A login confirmed out of band afterwards (a passed
challenge) is learned with :meth:`LoginRiskModel.learn_legitimate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

from trustwatch.errors import ConfigError
from trustwatch.loginmodel.attributes import (
    CLIENT_LEVELS,
    LEVEL_LABELS,
    LEVELS,
    NETWORK_LEVELS,
    ROOT_KEYS,
    LoginAttributes,
)
from trustwatch.loginmodel.counts import DecayedCounts, FailureEvidence
from trustwatch.loginmodel.history import AccountHistory, AccountTable

__all__ = ["LoginModelSettings", "LoginRisk", "LoginRiskModel"]

_DAY = 86_400.0
_CHAINS: Final = (NETWORK_LEVELS, CLIENT_LEVELS)
_LEVEL_COUNT = len(LEVELS)
#: Levels whose values get attacker evidence from failed logins.
_EVIDENCE_LEVELS: Final = (1, 2, 6)
_NETWORK, _BROWSER, _UA = 1, 5, 6
_ALL_LEVELS: Final = tuple(range(_LEVEL_COUNT))
#: The top level of each chain, with its parent: the chain's root key.
_TOPS: Final = {NETWORK_LEVELS[0]: ROOT_KEYS[0], CLIENT_LEVELS[0]: ROOT_KEYS[1]}
#: The root key of each level's chain.
_CHAIN_ROOT: Final = tuple(
    ROOT_KEYS[0] if level in NETWORK_LEVELS else ROOT_KEYS[1] for level in _ALL_LEVELS
)
_NO_COUNTS: Final[dict[int, float]] = {}
#: Base probability of a value the population has never shown, per level.
_UNSEEN: Final = (1 / 250, 1 / 2_000, 1 / 50_000, 1 / 50, 1 / 2_000, 1 / 200, 1e-5)
#: Pseudo-logins behind the novelty priors until the population has data.
_NOVELTY_PRIOR_WEIGHT = 50.0
#: Weight of the population prior in the labelled-attack counts.
_LABEL_SMOOTHING = 1.0
_STATE_VERSION = 1


@dataclass(frozen=True, slots=True)
class LoginRisk:
    """A login's risk, why, and the figures behind it.

    Attributes
    ----------
    score
        Probability-like risk in ``[0, 1]``; higher is more likely an attack.
    reasons
        Why, in words an analyst reads, the strongest first.
    evidence
        The likelihood ratio (``log_likelihood_ratio``), the factor of each
        attribute level (``factors``: above 1 points to an attacker, below 1
        to the owner), the account's learned logins, the failure counts
        behind attacker evidence, the login's attribute values, and whether
        the login was learned into the account's history (``learned``).
    """

    score: float
    reasons: tuple[str, ...]
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoginModelSettings:
    """The login risk model's parameters (see the module's formula).

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
        ``b``: pseudo-logins pulling an account's novelty rates to the
        population's.
    novelty_priors
        The population's novelty rate per level (country, network, IP,
        OS, device, browser, user agent) before it has data.
    population_smoothing
        ``g``: weight of the base probability of unseen values.
    failure_window_hours
        Window of the failed-login evidence.
    failing_accounts_scale
        ``f``: failing accounts (beyond the allowance) that double the odds;
        the factor grows with the square of the excess over it.
    success_allowance
        ``s``: failing accounts forgiven per successful login from the value.
    label_weight
        ``l``: weight of the labelled attacks' distribution once any exist.
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
    max_failing_accounts
        Most distinct failing accounts counted per value.
    """

    attack_prior: float = 0.01
    learn_below: float = 0.5
    trust_second_factor: bool = True
    account_half_life_days: float = 90.0
    population_half_life_days: float = 14.0
    account_smoothing: float = 2.0
    novelty_priors: tuple[float, ...] = (0.02, 0.08, 0.35, 0.02, 0.03, 0.05, 0.15)
    population_smoothing: float = 1.0
    failure_window_hours: float = 24.0
    failing_accounts_scale: float = 5.0
    success_allowance: float = 0.2
    label_weight: float = 0.5
    reason_factor: float = 4.0
    max_accounts: int = 100_000
    max_values_per_account: int = 64
    max_population_keys: int = 500_000
    max_evidence_keys: int = 50_000
    max_failing_accounts: int = 200

    def __post_init__(self) -> None:
        """Reject values the model cannot use, naming the field."""
        for name in ("attack_prior", "learn_below", "label_weight"):
            value = getattr(self, name)
            low_ok = value >= 0 if name != "attack_prior" else value > 0
            if not (low_ok and value <= 1 and (name != "attack_prior" or value < 1)):
                raise ConfigError(f"{name}={value!r} must lie in [0, 1]")
        positive = (
            "account_half_life_days",
            "population_half_life_days",
            "account_smoothing",
            "population_smoothing",
            "failure_window_hours",
            "failing_accounts_scale",
            "reason_factor",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be positive")
        if self.success_allowance < 0:
            raise ConfigError(f"success_allowance={self.success_allowance!r} < 0")
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
            "max_failing_accounts",
        )
        for name in sizes:
            if getattr(self, name) < 8:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be at least 8")


class LoginRiskModel:
    """Score logins against their accounts' histories, learning as it goes.

    Parameters
    ----------
    settings
        The model's parameters; the defaults when ``None``.

    Examples
    --------
    >>> model = LoginRiskModel()
    >>> home = LoginAttributes.build(country="DE", network="AS3320", ip="192.0.2.1")
    >>> for day in range(10):
    ...     _ = model.assess_one("alice", home, day * 86_400.0, success=True)
    >>> away = LoginAttributes.build(country="BR", network="AS28573", ip="192.0.2.9")
    >>> risk = model.score("alice", away, 10 * 86_400.0)
    >>> risk.reasons[0], risk.score > 0.5
    ('new country for this account (BR)', True)
    """

    def __init__(self, settings: LoginModelSettings | None = None) -> None:
        self.settings = s = settings or LoginModelSettings()
        self._account_half_life = s.account_half_life_days * _DAY
        self._prior_log_odds = math.log(s.attack_prior / (1.0 - s.attack_prior))
        self._window_hours = s.failure_window_hours
        self._g = s.population_smoothing
        self._b = s.account_smoothing
        self._reason_factor = s.reason_factor
        self._unseen = [s.population_smoothing * q for q in _UNSEEN]
        self._prior_mass = [r * _NOVELTY_PRIOR_WEIGHT for r in s.novelty_priors]
        self._accounts = AccountTable(s.max_accounts)
        population_half_life = s.population_half_life_days * _DAY
        # pinned counters: the population's novel weight per level, then trials
        self._population = DecayedCounts(
            population_half_life, s.max_population_keys, pinned=2 * _LEVEL_COUNT
        )
        self._labels = DecayedCounts(population_half_life, s.max_population_keys)
        self._evidence = FailureEvidence(
            s.failure_window_hours * 3600.0,
            s.max_evidence_keys,
            s.max_failing_accounts,
        )

    # ------------------------------------------------------------ scoring

    def score(self, account: str | None, attrs: LoginAttributes, t: float) -> LoginRisk:
        """Score a login for ``account`` at event time ``t``, learning nothing.

        Parameters
        ----------
        account
            The account logged into; ``None`` when unknown (no history).
        attrs
            The login's attributes.
        t
            Event time in epoch seconds.

        Returns
        -------
        LoginRisk
            The risk, its reasons and evidence (``learned`` is ``False``).
        """
        history = self._accounts.get(account) if account else None
        population = self._population
        pop = population.table
        pscale = population.scale(t)
        pinned = population.pinned
        labelled = bool(self._labels.table)
        hcounts = history.counts if history is not None else _NO_COUNTS
        hscale = self._account_scale(history, t)
        keys, values = attrs.keys, attrs.values
        g, b, m = self._g, self._b, _NOVELTY_PRIOR_WEIGHT
        has_failures = self._evidence.has_failures
        log_lr = 0.0
        factors: dict[str, float] = {}
        failing: dict[str, int] = {}
        attacker: dict[str, float] = {}
        notes: list[tuple[float, str]] = []
        parent = 0
        for level in _ALL_LEVELS:
            key = keys[level]
            if not key:
                continue  # the login lacks this chain
            parent = _TOPS.get(level, parent)
            value = values[level]
            if value is None:
                parent = key  # unknown: no evidence, children keep their path
                continue
            p_pop = (pop.get(key, 0.0) * pscale + self._unseen[level]) / (
                pop.get(parent, 0.0) * pscale + g
            )
            if p_pop > 1.0:  # a parent evicted before its child
                p_pop = 1.0
            factor = 1.0
            if level in _EVIDENCE_LEVELS and has_failures(key):
                factor = self._failure_boost(level, key, attrs, t, notes, failing)
            if labelled:
                factor = self._labelled(
                    factor, level, key, parent, attrs, p_pop, t, notes
                )
            if factor != 1.0:
                attacker[LEVELS[level]] = factor
            parent_weight = hcounts.get(parent, 0.0)
            if parent_weight > 0.0 and history is not None:
                # the account knows the parent: weigh the value against its history
                rate = (pinned[level] * pscale + self._prior_mass[level]) / (
                    pinned[_LEVEL_COUNT + level] * pscale + m
                )
                p_new = (history.novel[level] * hscale + b * rate) / (
                    history.trials[level] * hscale + b
                )
                share = hcounts.get(key, 0.0) / parent_weight
                owner = p_pop / ((1.0 - p_new) * share + p_new * p_pop)
                if owner >= self._reason_factor:
                    notes.append((owner, _novelty_reason(level, value, share)))
                factor *= owner
            factors[LEVELS[level]] = factor
            log_lr += math.log(factor)
            parent = key
        evidence: dict[str, Any] = {"factors": factors}
        if attacker:
            evidence["attacker_factors"] = attacker
        if failing:
            evidence["failing_accounts"] = failing
        return self._risk(account, attrs, history, hscale, log_lr, evidence, notes)

    def _account_scale(self, history: AccountHistory | None, t: float) -> float:
        if history is None:
            return 0.0
        return history.scale(t, self._account_half_life)

    def _risk(
        self,
        account: str | None,
        attrs: LoginAttributes,
        history: AccountHistory | None,
        hscale: float,
        log_lr: float,
        evidence: dict[str, Any],
        notes: list[tuple[float, str]],
    ) -> LoginRisk:
        """Turn the likelihood ratio into the risk, its reasons and evidence."""
        first = account is not None and (history is None or history.total <= 0.0)
        notes.sort(key=_strength, reverse=True)
        reasons = [text for _, text in notes]
        if first:
            reasons.append("first login of this account")
        log_odds = max(-50.0, min(50.0, log_lr + self._prior_log_odds))
        evidence["log_likelihood_ratio"] = round(log_lr, 4)
        evidence["account_logins"] = (
            round(history.total * hscale, 3) if history else 0.0
        )
        evidence["first_login"] = first
        evidence["learned"] = False
        for level, value in enumerate(attrs.values[:-1]):
            if value is not None:
                evidence[LEVELS[level]] = value
        if attrs.automation:
            evidence["automation_client"] = True
        return LoginRisk(1.0 / (1.0 + math.exp(-log_odds)), tuple(reasons), evidence)

    def _failure_boost(
        self,
        level: int,
        key: int,
        attrs: LoginAttributes,
        t: float,
        notes: list[tuple[float, str]],
        failing: dict[str, int],
    ) -> float:
        """Return ``B_k``: the day's failed-login evidence against the value."""
        evidence = self._evidence
        count = evidence.failing_accounts(key, t)
        if not count:
            return 1.0
        s = self.settings
        excess = count - s.success_allowance * evidence.successes(key, t)
        boost = 1.0 + (max(0.0, excess) / s.failing_accounts_scale) ** 2
        failing[LEVELS[level]] = count
        if boost >= 2.0:
            at_least = "at least " if count >= s.max_failing_accounts else ""
            notes.append(
                (
                    boost,
                    f"{_evidence_subject(level, attrs)} seen failing against "
                    f"{at_least}{count} accounts in the last {self._window_hours:g} h",
                )
            )
        return boost

    def _labelled(
        self,
        attack: float,
        level: int,
        key: int,
        parent: int,
        attrs: LoginAttributes,
        p_pop: float,
        t: float,
        notes: list[tuple[float, str]],
    ) -> float:
        """Mix the labelled attacks' distribution into the attacker factor."""
        labels = self._labels
        if labels.get(_CHAIN_ROOT[level]) <= 0.0:
            return attack  # no labelled attack has this chain
        scale = labels.scale(t)
        h = _LABEL_SMOOTHING
        p_lab = (labels.get(key) * scale + h * p_pop) / (labels.get(parent) * scale + h)
        ratio = p_lab / p_pop
        weight = self.settings.label_weight
        if ratio * weight >= self._reason_factor:
            notes.append(
                (ratio * weight, f"{_subject(level, attrs)} seen in confirmed attacks")
            )
        return (1.0 - weight) * attack + weight * ratio

    # ------------------------------------------------------------ learning

    def assess_one(
        self,
        account: str | None,
        attrs: LoginAttributes,
        t: float,
        *,
        success: bool,
        second_factor: bool = False,
        username: str | None = None,
    ) -> LoginRisk:
        """Score a login, then learn from it (the stream's one call per login).

        Parameters
        ----------
        account
            The account logged into; ``None`` when the name matched none.
        attrs
            The login's attributes.
        t
            Event time in epoch seconds; give logins in event-time order.
        success
            Whether the login succeeded. Failures feed only the attacker
            evidence.
        second_factor
            Whether the login passed a second factor.
        username
            The name presented, counted among the distinct accounts a failing
            source tried; ``account`` when not given.

        Returns
        -------
        LoginRisk
            The risk before learning; ``evidence["learned"]`` says whether
            the login joined the account's history.
        """
        risk = self.score(account, attrs, t)
        self.learn_attempt(username or account, attrs, t, success=success)
        s = self.settings
        trusted = risk.score < s.learn_below or (
            s.trust_second_factor and second_factor
        )
        if success and account and trusted:
            self.learn_legitimate(account, attrs, t)
            risk.evidence["learned"] = True
        return risk

    def learn_attempt(
        self, account: str | None, attrs: LoginAttributes, t: float, *, success: bool
    ) -> None:
        """Count a login attempt in the day's evidence for its network and agent.

        Parameters
        ----------
        account
            The account or username tried (distinct ones are counted).
        attrs
            The attempt's attributes.
        t
            Event time in epoch seconds.
        success
            Whether the attempt succeeded.
        """
        tracked = attrs.evidence_keys
        if not tracked:
            return
        if success:
            self._evidence.add_success(tracked, t)
        else:
            self._evidence.add_failure(tracked, account or "", t)

    def learn_legitimate(self, account: str, attrs: LoginAttributes, t: float) -> None:
        """Learn a login as the account owner's: its history and the population.

        :meth:`assess_one` calls this for successful logins below
        ``learn_below``; call it for a login confirmed afterwards (a passed
        challenge).

        Parameters
        ----------
        account
            The account.
        attrs
            The login's attributes.
        t
            Event time in epoch seconds.
        """
        history = self._accounts.touch(account, t)
        hw = history.weight(t, self._account_half_life)
        population = self._population
        pw = population.weight(t)
        pinned = population.pinned
        counts = history.counts
        keys, values = attrs.keys, attrs.values
        parent = 0
        for level in _ALL_LEVELS:
            key = keys[level]
            if not key:
                continue
            parent = _TOPS.get(level, parent)
            if values[level] is not None and parent in counts:
                # a value under a parent the account knew: a novelty trial
                history.trials[level] += hw
                pinned[_LEVEL_COUNT + level] += pw
                if key not in counts:
                    history.novel[level] += hw
                    pinned[level] += pw
            parent = key
        learned = attrs.learn_keys
        for key in learned:
            counts[key] = counts.get(key, 0.0) + hw
        history.total += hw
        history.prune(self.settings.max_values_per_account)
        population.add(learned, t)

    def learn_attack(self, attrs: LoginAttributes, t: float) -> None:
        """Learn a login labelled as an attack (where labels exist).

        Parameters
        ----------
        attrs
            The attacker's login attributes.
        t
            Event time in epoch seconds.
        """
        if attrs.learn_keys:
            self._labels.add(attrs.learn_keys, t)

    # ------------------------------------------------------------ state

    @property
    def accounts(self) -> int:
        """Return the number of account histories kept."""
        return len(self._accounts)

    def history(self, account: str) -> AccountHistory | None:
        """Return the learned history of ``account``, if kept."""
        return self._accounts.get(account)

    def get_state(self) -> dict[str, Any]:
        """Return the model's learned state as plain serialisable values."""
        return {
            "version": _STATE_VERSION,
            "accounts": self._accounts.get_state(),
            "population": self._population.get_state(),
            "labels": self._labels.get_state(),
            "evidence": self._evidence.get_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`get_state`.

        Raises
        ------
        trustwatch.errors.ConfigError
            When the state is not one this model wrote.
        """
        version = state.get("version") if isinstance(state, dict) else None
        if version != _STATE_VERSION:
            raise ConfigError(
                f"login model state version {version!r} is not {_STATE_VERSION}; "
                "hint: start from a fresh state or the checkpoint of this version"
            )
        try:
            self._accounts.set_state(state["accounts"])
            self._population.set_state(state["population"])
            self._labels.set_state(state["labels"])
            self._evidence.set_state(state["evidence"])
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(
                f"login model state is damaged ({type(error).__name__}: {error}); "
                "hint: start from a fresh state"
            ) from error


def _strength(note: tuple[float, str]) -> float:
    return note[0]


def _novelty_reason(level: int, value: str, share: float) -> str:
    label = LEVEL_LABELS[level]
    shown = "" if level == _UA else f" ({value})"
    if share <= 0.0:
        return f"new {label} for this account{shown}"
    if level in _TOPS:
        return f"rarely used {label} for this account ({value}, {share:.0%} of logins)"
    return f"rarely used {label} for this account{shown}"


def _subject(level: int, attrs: LoginAttributes) -> str:
    """Name a level's value in a reason: ``country BR``, ``this user agent``."""
    if level == _UA:
        browser = attrs.values[_BROWSER]
        return f"user agent ({browser})" if browser else "user agent"
    return f"{LEVEL_LABELS[level]} {attrs.values[level]}"


def _evidence_subject(level: int, attrs: LoginAttributes) -> str:
    value = str(attrs.values[level])
    if level == _NETWORK:
        if value.startswith("AS:"):
            return f"AS {value[3:]}"
        if value.startswith("AS") and value[2:].isdigit():
            return f"ASN {value}"
        return f"network {value}"
    return _subject(level, attrs)
