r"""The login risk model: how likely a login is the account's owner, or not.

The model follows Freeman et al., "Who Are You? A Statistical Approach to
Measuring User Authenticity" (NDSS 2016). A login ``x`` for account ``u`` is
scored by how much more likely its attributes are under an attacker than
under the account's own history, attribute by attribute along two
hierarchies (see :mod:`trustwatch.loginmodel.attributes`): country → network
→ IP address, and operating system → device → browser → user-agent string.

Formula
-------
For each level ``k`` of a chain, with ``v`` its value and ``a`` the path
above it (the parent)::

    p_pop(v | a)  = (c_pop(a, v) + g * q_k) / (c_pop(a) + g)

    p_u(v | a)    = (1 - n_u,k) * c_u(a, v) / c_u(a) + n_u,k * p_pop(v | a)
                    when the account knows ``a``, else p_pop(v | a)

    n_u,k         = m * r_k(d) / (1 - r_k(d) + m * r_k(d))
    m             = (novel_u,k + b) / (expected_u,k + b)

    p_att(v | a)  = (1 - l) * B_k(v) * p_pop(v | a) + l * p_lab(v | a)

    B_k(v)        = 1 + r_s * (1 - pi) / pi * max(0, F - e * S) / (S + 1)

    p_lab(v | a)  = (c_lab(a, v) + h * p_pop(v | a)) / (c_lab(a) + h)

    A_u           = (lambda * T + a_0) / (N_u + a_0)

    LR  = A_u * C * prod_k p_att(v_k | a_k) / p_u(v_k | a_k)

    risk = LR * pi / (LR * pi + 1 - pi)

where

- ``c_pop`` are the population's counts of each path over legitimate logins
  (fading with a half-life, bounded: :class:`~.counts.DecayedCounts`), ``q_k``
  a small base probability of a value the population has never shown at
  level ``k`` and ``g`` its weight;
- ``c_u`` are the account's own counts (fading, bounded:
  :class:`~.history.AccountHistory`);
- ``n_u,k`` is the account's *novelty rate* at level ``k``: the chance that
  its login brings a value new under a parent it knew. This is the smoothing
  up the hierarchy: a new value is only as surprising as new values are at
  its level, for this account, this long after its last login. ``r_k(d)``
  is the population's rate for a login ``d`` after the account's previous
  one (gaps binned from under an hour to over eight weeks): addresses are
  renewed, browsers update and devices are replaced over time, so an
  account back after a month shows new values far more often than one back
  after an hour. ``r_k(d)`` is learned online, the population's weighted
  share of novel values among its logins of that gap, with the priors
  (``r`` is 0.35 for an address in a familiar network, 0.02 for a country)
  worth 50 logins. ``m`` is how much the account roams next to the
  population (Freeman et al.'s "how often does this user roam"): its novel
  logins over the novel logins the population's rates expected of its
  logins, each at its own gap, shrunk towards 1 with ``b`` expected novel
  logins (a gamma prior on the ratio). The ratio scales the odds, so the
  rate stays below 1. A new country thus costs a factor near
  ``1 / r_0(d)``, more for an account that never roams, less for one that
  often does. Under a parent the account has never used, the levels below
  carry no further account evidence (their factor is the attacker evidence
  alone), so a new country is not counted again as a new network and a new
  address;
- ``B_k(v)`` is the attacker evidence of the population today (only for the
  network, IP address and user agent levels): ``p(v | attack) / p(v |
  owner)`` with today's credential stuffing as a share of the attacks.
  ``F`` is the number of distinct accounts that failed to log in from
  ``v`` in the last day (credential stuffing and spraying) and ``S`` the
  distinct accounts that logged in from it successfully, both leaving out
  the account now logging in (its own typos are no evidence against it).
  A source that fails against ``F`` accounts gets into about ``r_s * F``
  of them, while ``S + 1`` owners (this login among them) logged in from
  the value, so ``r_s * F / (S + 1)`` are the odds that a success from it
  is stuffing, which divided by the prior odds ``pi / (1 - pi)`` is the
  factor. ``e * S`` failures are the value's owners' own mistakes. So a
  value that many accounts use with the right password (a common browser's
  user agent, a large ISP) carries little attacker evidence however many
  accounts a campaign copying it fails against, and one that nobody uses
  successfully (a rented server, a tool's user agent) carries a lot;
- ``c_lab`` are counts over logins *labelled* as attacks (where labels
  exist, :meth:`LoginRiskModel.learn_attack`), mixed in with weight ``l``
  once there are any;
- ``A_u`` is Freeman et al.'s account term ``p(u | attack) / p(u | owner)``:
  attackers pick accounts whatever their owners' habits (a list of leaked
  credentials, a phishing campaign), while the owners' logins come in
  proportion to how often each logs in. ``N_u`` is the account's learned
  logins (fading with the account half-life), ``lambda * T`` those of an
  average account over the same fading window (the population's learned
  logins per known account, since the model started), and ``a_0`` a
  prior of one login: an account that logs in daily gets a factor below 1,
  one that seldom does (or never did here) above;
- ``C`` is the automation factor ``c`` when the user agent names a script
  or tool (``python-requests``, ``curl``, a headless browser: the
  enrichment's bot flag), else 1: such clients are far commoner among
  attackers than among owners. Against an account that always logs in so,
  the tool's own value stays familiar and its factor small;
- ``pi`` is the prior probability that a login is an attack. The factors
  multiply as if independent given the parent, as in Freeman et al.

A familiar value gives a factor near ``p_pop(v | a)``, below 1 and the
smaller the rarer the value is in the population: a familiar rare user
agent is strong evidence of the owner. At the top of each chain an unknown
value (an address the geolocation cannot place, a user agent without a
recognised operating system) and a missing one (no valid source address, no
user agent) are values too: new for an account whose logins always had a
placed address or a browser's user agent (reasons such as "address could
not be placed" and "no user agent, this account always sends one"),
familiar for one whose logins never did. Below the top an unknown value
(a desktop's device) skips its level.

Learning
--------
:meth:`LoginRiskModel.assess_one` scores first, then learns, in event-time
order. Failed logins feed only the attacker evidence. A successful login
feeds the account's history (and the population) only when it scored below
``learn_below``, or passed a second factor: a login risky enough to be
challenged must not teach the account that the attacker's country and
device are normal. Nor is a login without a user agent, or with an
unrecognised or a tool's one new to the account, learned (unless it passed
a second factor) for an account whose logins had a known client: it
scores below ``learn_below`` from a familiar place, and once learned would
make that client familiar. A login confirmed out of band afterwards (a
passed challenge) is learned with :meth:`LoginRiskModel.learn_legitimate`,
and an account's creation, where the platform reports it, with
:meth:`LoginRiskModel.learn_created` (its logins are then expected from its
creation on, not from when the model started).

Time
----
Everything learned fades with event time, and the model keeps its own clock
from the stream (:class:`~trustwatch.loginmodel.clock.StreamClock`): a login
dated more than ``max_clock_skew_hours`` ahead of (or behind) the newest
login in line is scored at the clock's time and not learned, with the reason
in ``evidence["not_learned_reason"]``, until ``clock_confirmations`` logins in
a row agree that the stream has moved. One login dated in 2199 therefore
neither fades what was learned nor moves the clock, and the fading
arithmetic stays finite for any time.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Final

from trustwatch.errors import ConfigError
from trustwatch.loginmodel.attributes import (
    ABSENT_KEYS,
    CLIENT_LEVELS,
    LEVELS,
    NETWORK_LEVELS,
    ROOT_KEYS,
    UNKNOWN_TOP_KEYS,
    LoginAttributes,
)
from trustwatch.loginmodel.clock import StreamClock
from trustwatch.loginmodel.counts import DecayedCounts, FailureEvidence
from trustwatch.loginmodel.history import AccountHistory, AccountTable
from trustwatch.loginmodel.reasons import (
    automation_reason,
    clock_reason,
    evidence_subject,
    novelty_reason,
    subject,
)
from trustwatch.loginmodel.settings import LoginModelSettings

__all__ = ["LoginModelSettings", "LoginRisk", "LoginRiskModel"]

_DAY = 86_400.0
_CHAINS: Final = (NETWORK_LEVELS, CLIENT_LEVELS)
_LEVEL_COUNT = len(LEVELS)
#: Levels whose values get attacker evidence from failed logins.
_EVIDENCE_LEVELS: Final = (1, 2, 6)
_CLIENT_TOP, _BROWSER, _UA = 3, 5, 6
_ALL_LEVELS: Final = tuple(range(_LEVEL_COUNT))
#: The top level of each chain, with its parent: the chain's root key.
_TOPS: Final = {NETWORK_LEVELS[0]: ROOT_KEYS[0], CLIENT_LEVELS[0]: ROOT_KEYS[1]}
#: The root key of each level's chain.
_CHAIN_ROOT: Final = tuple(
    ROOT_KEYS[0] if level in NETWORK_LEVELS else ROOT_KEYS[1] for level in _ALL_LEVELS
)
_NO_COUNTS: Final[dict[int, float]] = {}
_NO_LEVELS: Final[list[float]] = [0.0] * _LEVEL_COUNT
#: The levels whose values the evidence shows (all but the user-agent string).
_VALUE_LEVELS: Final = LEVELS[:-1]
#: Base probability of a value the population has never shown, per level.
_UNSEEN: Final = (1 / 250, 1 / 2_000, 1 / 50_000, 1 / 50, 1 / 2_000, 1 / 200, 1e-5)
#: Pseudo-logins behind the novelty priors until the population has data.
_NOVELTY_PRIOR_WEIGHT = 50.0
#: Weight of the population prior in the labelled-attack counts.
_LABEL_SMOOTHING = 1.0
_STATE_VERSION = 3
#: Top keys of a client that says nothing of the device: none, unrecognised.
_VAGUE_CLIENTS: Final = frozenset({ABSENT_KEYS[1], UNKNOWN_TOP_KEYS[1]})
_UNPLACED: Final = UNKNOWN_TOP_KEYS[0]
#: Upper edges (seconds) of the gaps since an account's last login that the
#: population's novelty rates are kept for: an hour, six, a day, three, a
#: week, two, four, eight, and longer.
_GAP_EDGES: Final = (3_600.0, 21_600.0, 86_400.0, 259_200.0, 604_800.0,
                     1_209_600.0, 2_419_200.0, 4_838_400.0)  # fmt: skip
_GAP_SLOTS = len(_GAP_EDGES) + 1
_RATE_SLOTS = _LEVEL_COUNT * _GAP_SLOTS
#: The population's pinned counter of learned logins (after the rate slots).
_LOGINS_SLOT = 2 * _RATE_SLOTS
_LN2 = math.log(2.0)


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
        to the owner), the account term (``activity_factor``), the
        account's learned logins, the distinct accounts failing and
        succeeding from the values behind attacker evidence
        (``failing_accounts``, ``succeeding_accounts``), the login's
        attribute values, and whether the login was learned into the
        account's history (``learned``).
    """

    score: float
    reasons: tuple[str, ...]
    evidence: dict[str, Any] = field(default_factory=dict)


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
    >>> risk.reasons[0], risk.score > 0.3
    ('new country for this account (BR)', True)
    """

    def __init__(self, settings: LoginModelSettings | None = None) -> None:
        self.settings = s = settings or LoginModelSettings()
        self._account_half_life = s.account_half_life_days * _DAY
        self._population_half_life = s.population_half_life_days * _DAY
        self._started: float | None = None
        self._prior_log_odds = math.log(s.attack_prior / (1.0 - s.attack_prior))
        self._window_hours = s.failure_window_hours
        self._g = s.population_smoothing
        self._b = s.account_smoothing
        self._reason_factor = s.reason_factor
        self._unseen = [s.population_smoothing * q for q in _UNSEEN]
        self._prior_mass = [r * _NOVELTY_PRIOR_WEIGHT for r in s.novelty_priors]
        # per level, what scoring reads: its name, the chain's root key for a
        # chain's top (else 0), whether failed logins count against it, its
        # unseen mass, its novelty prior mass and its first novelty slot
        self._plan = tuple(
            (
                level,
                LEVELS[level],
                _TOPS.get(level, 0),
                level in _EVIDENCE_LEVELS,
                self._unseen[level],
                self._prior_mass[level],
                level * _GAP_SLOTS,
            )
            for level in _ALL_LEVELS
        )
        # posterior odds of stuffing per excess failing account per success
        self._stuffing_odds = (
            s.stuffing_success_rate * (1.0 - s.attack_prior) / s.attack_prior
        )
        self._accounts = AccountTable(s.max_accounts)
        self._max_values = s.max_values_per_account
        population_half_life = s.population_half_life_days * _DAY
        # pinned counters: the population's novel weight per level and gap,
        # then its trials per level and gap
        self._population = DecayedCounts(
            population_half_life, s.max_population_keys, pinned=_LOGINS_SLOT + 1
        )
        self._labels = DecayedCounts(population_half_life, s.max_population_keys)
        self._evidence = FailureEvidence(
            s.failure_window_hours * 3600.0,
            s.max_evidence_keys,
            s.max_accounts_per_value,
        )
        self._clock = StreamClock(
            s.max_clock_skew_hours * 3600.0, s.clock_confirmations
        )

    # ------------------------------------------------------------ scoring

    def score(
        self,
        account: str | None,
        attrs: LoginAttributes,
        t: float,
        *,
        username: str | None = None,
    ) -> LoginRisk:
        """Score a login for ``account`` at event time ``t``, learning nothing.

        Parameters
        ----------
        account
            The account logged into; ``None`` when unknown (no history).
        attrs
            The login's attributes.
        t
            Event time in epoch seconds.
        username
            The name presented (``account`` when not given): its own failed
            and successful logins are not counted as the population's
            evidence about its values.

        Returns
        -------
        LoginRisk
            The risk, its reasons and evidence (``learned`` is ``False``).
        """
        history = self._accounts.get(account) if account else None
        population = self._population
        pop_get = population.table.get
        pscale = population.scale(t)
        pinned = population.pinned
        labelled = bool(self._labels.table)
        if history is not None:
            hcounts = history.counts
            hscale = history.scale(t, self._account_half_life)
            gap = _gap_slot(t - history.last)
            novel, expected = history.novel, history.expected
        else:
            hcounts, hscale, gap = _NO_COUNTS, 0.0, 0
            novel = expected = _NO_LEVELS
        hcounts_get = hcounts.get
        keys, values = attrs.keys, attrs.values
        g, b, m = self._g, self._b, _NOVELTY_PRIOR_WEIGHT
        reason_factor = self._reason_factor
        rate_slots, unplaced = _RATE_SLOTS, _UNPLACED
        evidence_accounts = self._evidence.accounts
        legit_share = self.settings.legit_failure_share
        stuffing_odds = self._stuffing_odds
        log = math.log
        who = username or account
        log_lr = 0.0
        factors: dict[str, float] = {}
        failing: dict[str, int] = {}
        succeeding: dict[str, int] = {}
        attacker: dict[str, float] = {}
        notes: list[tuple[float, str]] = []
        # the parent's key, population count and account count: the root's
        # at a chain's top, else the level above's, read there
        parent, parent_pop, parent_weight = 0, 0.0, 0.0
        for level, name, root, evidence_level, unseen, prior_mass, slot in self._plan:
            key = keys[level]
            if not key:
                continue  # the login lacks this chain
            if root:
                parent = root
                parent_pop = pop_get(root, 0.0)
                parent_weight = hcounts_get(root, 0.0)
            elif values[level] is None:
                # unknown: no evidence, children keep their path
                parent = key
                parent_pop = pop_get(key, 0.0)
                parent_weight = hcounts_get(key, 0.0)
                continue
            key_pop = pop_get(key, 0.0)
            key_weight = hcounts_get(key, 0.0)
            p_pop = (key_pop * pscale + unseen) / (parent_pop * pscale + g)
            if p_pop > 1.0:  # a parent evicted before its child
                p_pop = 1.0
            factor = 1.0
            if evidence_level:
                # B_k: the day's failed-login evidence against the value
                count, succeeded = evidence_accounts(key, t, who)
                if count:
                    excess = count - legit_share * succeeded
                    if not excess > 0.0:
                        excess = 0.0
                    # the current login, if the owner's, is one more success
                    factor = 1.0 + stuffing_odds * excess / (succeeded + 1.0)
                    failing[name] = count
                    succeeding[name] = succeeded
                    if factor >= 2.0:
                        notes.append(
                            (factor, self._failure_note(level, attrs, count, succeeded))
                        )
            if labelled:
                factor = self._labelled(
                    factor, level, key, parent, attrs, p_pop, t, notes
                )
            if factor != 1.0:
                attacker[name] = factor
            noted = False
            if parent_weight > 0.0:
                # the account knows the parent: weigh the value against its history
                slot += gap
                rate = (pinned[slot] * pscale + prior_mass) / (
                    pinned[slot + rate_slots] * pscale + m
                )
                ratio = (novel[level] * hscale + b) / (expected[level] * hscale + b)
                scaled = ratio * rate
                p_new = scaled / (1.0 - rate + scaled)
                share = key_weight / parent_weight
                owner = p_pop / ((1.0 - p_new) * share + p_new * p_pop)
                if owner >= reason_factor:
                    notes.append((owner, novelty_reason(level, attrs, share)))
                    noted = True
                factor *= owner
            if key == unplaced and not noted:
                notes.append((factor, "address could not be placed"))
            factors[name] = factor
            if factor != 1.0:  # log(1) adds nothing
                log_lr += log(factor)
            parent, parent_pop, parent_weight = key, key_pop, key_weight
        evidence: dict[str, Any] = {"factors": factors}
        if account:
            activity = self._activity(history, hscale, pscale, t, notes)
            evidence["activity_factor"] = round(activity, 4)
            log_lr += log(activity)
        if attrs.automation:
            tool = self.settings.automation_factor
            evidence["automation_factor"] = tool
            notes.append((tool, automation_reason(attrs)))
            log_lr += log(tool)
        if attacker:
            evidence["attacker_factors"] = attacker
        if failing:
            evidence["failing_accounts"] = failing
            evidence["succeeding_accounts"] = succeeding
        return self._risk(account, attrs, history, hscale, log_lr, evidence, notes)

    def _activity(
        self,
        history: AccountHistory | None,
        hscale: float,
        pscale: float,
        t: float,
        notes: list[tuple[float, str]],
    ) -> float:
        """Return ``A_u``: how much rarer the account's logins are than the mean's.

        ``pscale`` is the population's :meth:`~.DecayedCounts.scale` at ``t``.
        """
        started, accounts = self._started, self._accounts.seen
        if started is None or not accounts or t <= started:
            return 1.0
        logins = self._population.pinned[_LOGINS_SLOT] * pscale
        rate = logins / _exposure(t - started, self._population_half_life) / accounts
        since = history.since if history is not None else started
        typical = rate * _exposure(max(0.0, t - since), self._account_half_life)
        own = history.total * hscale if history is not None else 0.0
        a = self.settings.activity_prior_logins
        factor = (typical + a) / (own + a)
        if factor >= self._reason_factor and own > 0.0:
            notes.append(
                (
                    factor,
                    f"account seldom logs in ({own:.1f} logins lately, "
                    f"{typical:.1f} for an average account)",
                )
            )
        return factor

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
        if len(notes) > 1:
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
        # every level's value but the user-agent string's
        for name, value in zip(_VALUE_LEVELS, attrs.values, strict=False):
            if value is not None:
                evidence[name] = value
        if attrs.automation:
            evidence["automation_client"] = True
        return LoginRisk(1.0 / (1.0 + math.exp(-log_odds)), tuple(reasons), evidence)

    def _failure_note(
        self, level: int, attrs: LoginAttributes, count: int, succeeded: int
    ) -> str:
        """Say that the value at ``level`` failed against ``count`` accounts."""
        cap = self.settings.max_accounts_per_value
        at_least = "at least " if count >= cap else ""
        others = ""
        if succeeded:
            more = "at least " if succeeded >= cap else ""
            others = f", logging into {more}{succeeded}"
        return (
            f"{evidence_subject(level, attrs)} seen failing against "
            f"{at_least}{count} accounts{others} in the last "
            f"{self._window_hours:g} h"
        )

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
                (ratio * weight, f"{subject(level, attrs)} seen in confirmed attacks")
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
            Event time in epoch seconds; give logins in event-time order. A
            time out of line with the stream's clock (see the module's
            "Time") is scored at the clock's time and not learned.
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
            the login joined the account's history, and
            ``evidence["not_learned_reason"]`` why a successful one did not.
        """
        who = username or account
        clock = self._clock
        if not clock.place(t):
            risk = self.score(account, attrs, clock.read(t), username=who)
            offset = clock.offset(t)
            risk.evidence["clock_offset_s"] = round(offset)
            risk.evidence["not_learned_reason"] = clock_reason(
                offset, clock.now is not None
            )
            return risk
        if self._started is None or t < self._started:
            self._started = t
        risk = self.score(account, attrs, t, username=who)
        tracked = attrs.evidence_keys
        if tracked:
            if success:
                self._evidence.add_success(tracked, who or "", t)
            else:
                self._evidence.add_failure(tracked, who or "", t)
        if not (success and account):
            return risk
        s = self.settings
        vouched = s.trust_second_factor and second_factor
        why_not = None
        if not vouched and risk.score >= s.learn_below:
            why_not = f"risk {risk.score:.2f} at or above {s.learn_below:g}"
        elif not vouched:
            why_not = self._unfamiliar_vague_client(account, attrs)
        if why_not is None:
            self._learn(account, attrs, t)
            risk.evidence["learned"] = True
        else:
            risk.evidence["not_learned_reason"] = why_not
        return risk

    def _unfamiliar_vague_client(
        self, account: str, attrs: LoginAttributes
    ) -> str | None:
        """Say why a login's client must not be learned for ``account``, if so.

        A missing, unrecognised or tool's user agent that the account has not
        shown, from an account whose logins had a known client, is no
        evidence of its owner: learned, it would vouch for the next one.
        """
        keys = attrs.keys
        vague = keys[_CLIENT_TOP] in _VAGUE_CLIENTS
        if not (vague or attrs.automation):
            return None
        history = self._accounts.get(account)
        if history is None:
            return None
        counts = history.counts
        # the client as named most precisely: browser, else string, else none
        identity = next(
            (keys[level] for level in (_BROWSER, _UA) if attrs.values[level]),
            keys[_CLIENT_TOP],
        )
        if identity in counts:
            return None
        known = any(
            key & 7 == _CLIENT_TOP and key not in _VAGUE_CLIENTS for key in counts
        )
        if not known:
            return None
        what = (
            automation_reason(attrs)
            if attrs.automation
            else subject(_CLIENT_TOP, attrs)
        )
        return f"{what}, new to an account whose logins had a known client"

    def _admits(self, t: float) -> bool:
        """Whether a learning call at ``t`` (outside the stream) may be learned."""
        return self._clock.now is None or self._clock.in_line(t)

    def learn_attempt(
        self, account: str | None, attrs: LoginAttributes, t: float, *, success: bool
    ) -> bool:
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

        Returns
        -------
        bool
            Whether it was counted: not when ``t`` is out of line with the
            stream's clock.
        """
        if not self._admits(t):
            return False
        self._count_attempt(account, attrs, t, success)
        return True

    def _count_attempt(
        self, account: str | None, attrs: LoginAttributes, t: float, success: bool
    ) -> None:
        tracked = attrs.evidence_keys
        if not tracked:
            return
        if success:
            self._evidence.add_success(tracked, account or "", t)
        else:
            self._evidence.add_failure(tracked, account or "", t)

    def learn_legitimate(self, account: str, attrs: LoginAttributes, t: float) -> bool:
        """Learn a login as the account owner's: its history and the population.

        :meth:`assess_one` learns successful logins below ``learn_below``;
        call this for a login confirmed afterwards (a passed challenge).

        Parameters
        ----------
        account
            The account.
        attrs
            The login's attributes.
        t
            Event time in epoch seconds.

        Returns
        -------
        bool
            Whether it was learned: not when ``t`` is out of line with the
            stream's clock.
        """
        if not self._admits(t):
            return False
        if self._started is None:
            self._started = t
        self._learn(account, attrs, t)
        return True

    def _learn(self, account: str, attrs: LoginAttributes, t: float) -> None:
        """Count a login in the account's history and the population."""
        history = self._accounts.touch(account, t, since=self._started)
        hw = history.weight(t, self._account_half_life)
        population = self._population
        pw = population.weight(t)
        pscale = population.scale(t)
        pinned = population.pinned
        counts = history.counts  # after weight(), which may rebuild it
        novel, expected = history.novel, history.expected
        gap = _gap_slot(t - history.last)
        keys, values = attrs.keys, attrs.values
        m = _NOVELTY_PRIOR_WEIGHT
        parent = 0
        for level, _, root, _, _, prior_mass, slot in self._plan:
            key = keys[level]
            if not key:
                continue
            if root:
                parent = root
            elif values[level] is None:
                parent = key  # unknown: no trial, children keep their path
                continue
            if parent in counts:
                # a value under a parent the account knew: a novelty trial,
                # expected novel at the population's rate for its gap
                slot += gap
                trials = _RATE_SLOTS + slot
                rate = (pinned[slot] * pscale + prior_mass) / (
                    pinned[trials] * pscale + m
                )
                expected[level] += hw * rate
                pinned[trials] += pw
                if key not in counts:
                    novel[level] += hw
                    pinned[slot] += pw
            parent = key
        learned = attrs.learn_keys
        counts_get = counts.get
        for key in learned:
            counts[key] = counts_get(key, 0.0) + hw
        history.total += hw
        if t > history.last:
            history.last = t
        pinned[_LOGINS_SLOT] += pw
        if len(counts) > self._max_values:
            history.prune(self._max_values)
        # the same weight population.weight(t) gave above
        population.add_weighted(learned, pw)

    def learn_created(self, account: str, t: float) -> bool:
        """Note that ``account`` was created at ``t``: its logins count from then.

        Without it an account's logins are expected from when the model
        started, so a new account's first login would look like that of an
        account that had long stayed away.

        Parameters
        ----------
        account
            The new account.
        t
            Event time of its creation in epoch seconds.

        Returns
        -------
        bool
            Whether it was noted: not for an account already known, nor when
            ``t`` is out of line with the stream's clock.
        """
        if not self._admits(t) or self._accounts.get(account) is not None:
            return False
        if self._started is None:
            self._started = t
        self._accounts.touch(account, t, since=t)
        return True

    def learn_attack(self, attrs: LoginAttributes, t: float) -> bool:
        """Learn a login labelled as an attack (where labels exist).

        Parameters
        ----------
        attrs
            The attacker's login attributes.
        t
            Event time in epoch seconds.

        Returns
        -------
        bool
            Whether it was learned: not when ``t`` is out of line with the
            stream's clock.
        """
        if not self._admits(t):
            return False
        self._labels.add(attrs.learn_keys, t)
        return True

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
            "started": self._started,
            "accounts": self._accounts.get_state(),
            "population": self._population.get_state(),
            "labels": self._labels.get_state(),
            "evidence": self._evidence.get_state(),
            "clock": self._clock.get_state(),
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
            started = state["started"]
            self._started = None if started is None else float(started)
            self._accounts.set_state(state["accounts"])
            self._population.set_state(state["population"])
            self._labels.set_state(state["labels"])
            self._evidence.set_state(state["evidence"])
            self._clock.set_state(state["clock"])
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(
                f"login model state is damaged ({type(error).__name__}: {error}); "
                "hint: start from a fresh state"
            ) from error


def _strength(note: tuple[float, str]) -> float:
    return note[0]


def _exposure(watched: float, half_life: float) -> float:
    """Return the weight fading counts give ``watched`` seconds of steady logins."""
    return half_life / _LN2 * (1.0 - math.exp(-_LN2 * watched / half_life))


def _gap_slot(gap: float) -> int:
    """Return the slot of :data:`_GAP_EDGES` a gap since the last login falls in."""
    return bisect_right(_GAP_EDGES, gap)
