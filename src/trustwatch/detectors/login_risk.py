"""Risky logins: attributes unlike the account's own, or like today's attackers.

Every login is scored by the login risk model
(:mod:`trustwatch.loginmodel`, after Freeman et al., NDSS 2016) in event-time
order, then learned from: its country, network and address, its operating
system, device, browser and user agent, weighed under the account's history
against the population and the day's failed-login evidence (sources,
networks and agents failing against many accounts). The risk is a
probability-like score in ``[0, 1]`` with reasons such as "new country for
this account (BR)" or "ASN AS64500 seen failing against 57 accounts in the
last 24 h".

A *successful* login at or above ``min_score`` raises ``risky_login`` on the
account. Failed attempts are scored too (:meth:`LoginRiskDetector.assess`)
but raise nothing here: they feed the attacker evidence, and the attacks
they make are ``credential_attacks``' to report. Risky successes are not
learned into the account's history (a login at or above ``learn_below``,
``min_score`` by default) unless they passed a second factor, or until
:meth:`LoginRiskDetector.confirm` is called for them.

Accounts that log in seldom weigh more: attackers pick accounts whatever
their owners' habits, so a login into an account that rarely logs in is
more likely theirs (Freeman et al.'s account term). Account creations
(``account_created``) tell the model from when a new account's logins
count, so its first login is not taken for that of an account long away.

What a login lacks is evidence too: no user agent, an unrecognised one or a
tool's (``python-requests``, ``curl``) from an account whose logins always
sent a browser's is a new client ("no user agent, this account always sends
one", "automation client (curl)") and is not learned; an address the
geolocation cannot place, or none, is a new place ("address could not be
placed"). The model keeps its own clock from the stream: a login dated more
than ``max_clock_skew_hours`` ahead of (or behind) it is scored at the
clock's time and not learned, so one forged or broken timestamp can neither
stop the detector nor fade what it learned.

Detectors that build on this judgement (a takeover chain) read the
``risky_login`` signal from :attr:`EventContext.raised`, so this detector
runs before them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.registry import register
from trustwatch.events.model import AccountCreated, EventBase, Login
from trustwatch.features.context import EventContext
from trustwatch.loginmodel import (
    AttributeExtractor,
    LoginModelSettings,
    LoginRisk,
    LoginRiskModel,
)

__all__ = ["LoginRiskDetector"]


@register
class LoginRiskDetector(Detector):
    """Score every login's risk against its account's history.

    Parameters
    ----------
    min_score
        Risk from which a successful login raises ``risky_login``.
    learn_below
        Risk below which a successful login joins its account's history;
        ``None`` means ``min_score`` (what is challenged is not learned).
    attack_prior
        Prior probability that a login is an attack.
    trust_second_factor
        Learn successful logins that passed a second factor whatever their
        risk.
    account_half_life_days, population_half_life_days
        Half-lives of what accounts and the population have shown.
    failure_window_hours
        Window of the failed-login evidence.
    max_clock_skew_hours
        How far from the stream's clock a login may lie and still be learned.
    automation_factor
        How much likelier a script's or tool's user agent is from an attacker
        than from an account's owner.
    max_accounts
        Most account histories kept (least recently learned evicted).
    max_values_per_account
        Most attribute paths one account keeps.
    max_population_keys
        Most attribute paths the population keeps.
    max_evidence_keys
        Most addresses, networks and agents the failure windows keep.
    cache_size
        Most distinct addresses and agents whose attributes are cached.
    """

    name = "login_risk"
    version = "3"
    event_types = frozenset({Login, AccountCreated})
    signal_kinds = ("risky_login",)

    def __init__(
        self,
        min_score: float = 0.5,
        learn_below: float | None = None,
        attack_prior: float = 0.01,
        trust_second_factor: bool = True,
        account_half_life_days: float = 90.0,
        population_half_life_days: float = 14.0,
        failure_window_hours: float = 24.0,
        max_clock_skew_hours: float = 24.0,
        automation_factor: float = 20.0,
        max_accounts: int = 100_000,
        max_values_per_account: int = 64,
        max_population_keys: int = 500_000,
        max_evidence_keys: int = 50_000,
        cache_size: int = 65_536,
    ) -> None:
        self._params = {
            "min_score": min_score,
            "learn_below": learn_below,
            "attack_prior": attack_prior,
            "trust_second_factor": trust_second_factor,
            "account_half_life_days": account_half_life_days,
            "population_half_life_days": population_half_life_days,
            "failure_window_hours": failure_window_hours,
            "max_clock_skew_hours": max_clock_skew_hours,
            "automation_factor": automation_factor,
            "max_accounts": max_accounts,
            "max_values_per_account": max_values_per_account,
            "max_population_keys": max_population_keys,
            "max_evidence_keys": max_evidence_keys,
            "cache_size": cache_size,
        }
        self.min_score = min_score
        self.model = LoginRiskModel(
            LoginModelSettings(
                attack_prior=attack_prior,
                learn_below=min_score if learn_below is None else learn_below,
                trust_second_factor=trust_second_factor,
                account_half_life_days=account_half_life_days,
                population_half_life_days=population_half_life_days,
                failure_window_hours=failure_window_hours,
                max_clock_skew_hours=max_clock_skew_hours,
                automation_factor=automation_factor,
                max_accounts=max_accounts,
                max_values_per_account=max_values_per_account,
                max_population_keys=max_population_keys,
                max_evidence_keys=max_evidence_keys,
            )
        )
        self._extractor = AttributeExtractor(cache_size)

    def assess(self, event: Login, ctx: EventContext) -> LoginRisk:
        """Score a login, successful or not, then learn from it.

        Call it once per login, in event-time order (``process_one`` does).

        Parameters
        ----------
        event
            The login attempt.
        ctx
            Its context (event time, source address, geolocation).

        Returns
        -------
        LoginRisk
            The risk in ``[0, 1]``, the reasons and the per-attribute evidence.
        """
        attrs = self._extractor.extract(event, ctx)
        return self.model.assess_one(
            event.account,
            attrs,
            ctx.t,
            success=event.success,
            second_factor=event.mfa,
            username=event.username,
        )

    def confirm(self, event: Login, ctx: EventContext) -> bool:
        """Learn a login its owner confirmed (a passed challenge) as theirs.

        Parameters
        ----------
        event
            A successful login that :meth:`assess` did not learn.
        ctx
            Its context.

        Returns
        -------
        bool
            Whether it was learned: not a failed login, one without an
            account, or one whose time is out of line with the model's clock.
        """
        if not (event.success and event.account):
            return False
        attrs = self._extractor.extract(event, ctx)
        return self.model.learn_legitimate(event.account, attrs, ctx.t)

    def label_attack(self, event: Login, ctx: EventContext) -> bool:
        """Learn a login labelled as an attack: its attributes become attacker-like.

        Parameters
        ----------
        event
            A login known to be an attacker's.
        ctx
            Its context.

        Returns
        -------
        bool
            Whether it was learned: not when its time is out of line with the
            model's clock.
        """
        return self.model.learn_attack(self._extractor.extract(event, ctx), ctx.t)

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Assess a login; flag the account when a successful one is risky."""
        if type(event) is not Login:
            if type(event) is AccountCreated and event.account:
                self.model.learn_created(event.account, ctx.t)
            return ()
        risk = self.assess(event, ctx)
        if not event.success or risk.score < self.min_score or not event.account:
            return ()
        return [
            self.signal(
                event,
                kind="risky_login",
                score=risk.score,
                entity_type="account",
                entity=event.account,
                reasons=risk.reasons or ("login unlike this account's history",),
                evidence=risk.evidence,
            )
        ]

    def get_state(self) -> dict[str, Any]:
        """Return the model's learned state."""
        return {"model": self.model.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore the model's learned state."""
        self.model.set_state(state["model"])
