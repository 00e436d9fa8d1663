"""Brute force, credential stuffing and password spraying on the login endpoint.

Each pattern is counted over an event-time window with bounded state:

- **brute force** (``brute_force``, on the source): one source fails against
  the same username again and again;
- **brute force from many sources** (``distributed_brute_force``, on the
  account): one username fails many times from several sources, each of which
  may stay under the per-source threshold;
- **credential stuffing** (``credential_stuffing``, on the source): one source
  fails against many distinct usernames within ``window`` (a list of leaked
  credentials replayed fast);
- **password spraying** (``password_spraying``, on the source): one source
  fails against many distinct usernames over ``spray_window`` (a day), a few
  tries per name, paced to stay under the stuffing rate and account lockouts;
- **distributed stuffing** (``distributed_stuffing``): many sources failing
  against many distinct usernames, each under the per-source threshold,
  grouped two ways: by network (an AS, or a /24 or /64 when the AS is
  unknown; entity ``network``) and by user agent (entity ``user_agent``), so a
  botnet spread over many ASes that sends one client string is still one
  group;
- **login after a failure burst** (on the account): a success from where the
  failures came from. ``login_after_failures`` when the source that just
  failed many times (against any accounts) logs in, when the account's own
  failures came from this source or its /24 (/64), or when a detector that ran
  before on the same login corroborates it (``risky_login``,
  ``impossible_travel``, ``intel_ip``): an attacker who got in.
  ``login_after_failures_elsewhere`` when the account failed many times from
  other sources only: anyone who knows a username can cause that, so it is
  weaker evidence (the shipped policy challenges it and locks only on the
  first kind).

Evidence beyond the counts: the share of failures naming a user that does not
exist (``Login.failure_reason == "invalid_user"``, or no ``account`` for the
name presented), the success share of the source or user agent, and for the
groups the share of their recent failures sharing one user agent and the
regularity of their timing (the coefficient of variation of the gaps between
failures: about 1 for independent people, near 0 for a scheduler). A shared
agent and a regular pace each raise a group's score.

A source or user agent that mostly succeeds (above ``max_success_rate``) is a
busy shared address (an office, a carrier NAT) or a popular browser, not a
credential attack, and raises no stuffing, spraying or distributed signal.
Success is measured per distinct account: the accounts that logged in
against the accounts tried (those that logged in plus those failed against),
so an attacker logging into one account of their own again and again cannot
hide failures against many others.

Per-user-agent windows keep fewer keys (``max_agent_keys``) than the others:
a flood of random client strings churns through them, while the agent of a
botnet (or a popular browser) is used on every attempt and stays.

Scores grow with how far a count passes its threshold:
``1 - 0.5 ** (count / threshold)``, so the score is 0.5 at the threshold, 0.75
at twice it, and approaches 1 as the count grows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from hashlib import blake2b
from itertools import pairwise
from statistics import fmean, pstdev
from typing import Any

from trustwatch.detectors.base import Detector, Signal, threshold_score
from trustwatch.detectors.registry import register
from trustwatch.enrichment.ips import ip_prefix
from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase, Login
from trustwatch.features.context import EventContext
from trustwatch.features.windows import DistinctCounter, LruDict, SlidingCounter

__all__ = ["DEFAULT_CORROBORATING_KINDS", "CredentialAttackDetector"]

#: Failure reasons that say the name presented has no account.
_UNKNOWN_USER_REASONS = frozenset({"invalid_user", "unknown_user", "no_such_user"})
#: Failures remembered per group for the user-agent and timing evidence.
_RECENT_FAILURES = 32
#: Fewest recent failures the user-agent and timing evidence are read from.
_MIN_PATTERN = 8
#: A group is "on one agent" at this share, "on a schedule" at this gap CV.
_SHARED_AGENT_SHARE = 0.8
_REGULAR_CV = 0.35
#: Each corroborating piece of evidence keeps this much of the doubt.
_CORROBORATION = 0.7
#: Longest user agent quoted as a signal's entity.
_MAX_AGENT_CHARS = 200
#: Signals raised before on a login that corroborate a success after failures.
DEFAULT_CORROBORATING_KINDS: tuple[str, ...] = (
    "risky_login",
    "impossible_travel",
    "intel_ip",
)
#: Least score at which such a signal corroborates (the policies' challenge).
_CORROBORATING_SCORE = 0.5


@register
class CredentialAttackDetector(Detector):
    """Flag brute force, credential stuffing, spraying and success after bursts.

    Parameters
    ----------
    window
        Event-time window in seconds for every count but spraying's.
    brute_force_failures
        Failures from one source against one username that make brute force.
    stuffing_usernames
        Distinct usernames failed from one source that make stuffing.
    burst_failures
        Failures for an account (from any source), or from the source, that
        make a following success suspicious.
    network_usernames, network_sources
        Distinct usernames failed from one network or one user agent, coming
        from at least this many distinct sources, that make distributed
        stuffing.
    max_keys
        Bound on the keys each window keeps, but the per-user-agent ones.
    account_failures, account_sources
        Failures against one username, from at least this many distinct
        sources, that make distributed brute force.
    spray_window
        Event-time window in seconds for password spraying.
    spray_usernames
        Distinct usernames failed from one source over ``spray_window`` that
        make spraying.
    spray_attempts_per_username
        Most failures per distinct username, on average, that still read as
        spraying (more is brute force on a few names).
    max_success_rate
        A source or user agent with a larger share of its accounts logging in
        raises no stuffing, spraying or distributed signal, and its failures
        make no following success ``login_after_failures``.
    max_agent_keys
        Bound on the keys each per-user-agent window keeps.
    corroborating_kinds
        Signal kinds that, raised at 0.5 or more by a detector before this one
        on the same successful login, make a success after failures from
        other sources ``login_after_failures`` (the pipeline passes them in
        :attr:`EventContext.raised`).
    """

    name = "credential_attacks"
    version = "3"
    event_types = frozenset({Login})
    signal_kinds = (
        "brute_force",
        "credential_stuffing",
        "distributed_stuffing",
        "login_after_failures",
        "login_after_failures_elsewhere",
        "password_spraying",
        "distributed_brute_force",
    )

    def __init__(
        self,
        window: float = 600.0,
        brute_force_failures: int = 10,
        stuffing_usernames: int = 10,
        burst_failures: int = 5,
        network_usernames: int = 30,
        network_sources: int = 3,
        max_keys: int = 200_000,
        account_failures: int = 20,
        account_sources: int = 3,
        spray_window: float = 86_400.0,
        spray_usernames: int = 20,
        spray_attempts_per_username: float = 3.0,
        max_success_rate: float = 0.2,
        max_agent_keys: int = 50_000,
        corroborating_kinds: Sequence[str] = DEFAULT_CORROBORATING_KINDS,
    ) -> None:
        if not 0.0 <= max_success_rate <= 1.0:
            raise ConfigError(
                f"max_success_rate={max_success_rate} is not a share; hint: use "
                "a value in [0, 1]"
            )
        if spray_window < window:
            raise ConfigError(
                f"spray_window={spray_window} is shorter than window={window}; "
                "hint: spraying is the slow pattern, give it the longer window"
            )
        self._params = {
            "window": window,
            "brute_force_failures": brute_force_failures,
            "stuffing_usernames": stuffing_usernames,
            "burst_failures": burst_failures,
            "network_usernames": network_usernames,
            "network_sources": network_sources,
            "max_keys": max_keys,
            "account_failures": account_failures,
            "account_sources": account_sources,
            "spray_window": spray_window,
            "spray_usernames": spray_usernames,
            "spray_attempts_per_username": spray_attempts_per_username,
            "max_success_rate": max_success_rate,
            "max_agent_keys": max_agent_keys,
            "corroborating_kinds": tuple(corroborating_kinds),
        }
        self.network_usernames = network_usernames
        self.network_sources = network_sources
        self.brute_force_failures = brute_force_failures
        self.stuffing_usernames = stuffing_usernames
        self.burst_failures = burst_failures
        self.account_failures = account_failures
        self.account_sources = account_sources
        self.spray_usernames = spray_usernames
        self.spray_attempts_per_username = spray_attempts_per_username
        self.max_success_rate = max_success_rate
        self.corroborating_kinds = frozenset(corroborating_kinds)
        self._minutes = window / 60
        self._spray_hours = spray_window / 3600

        def count(span: float = window, buckets: int = 12) -> SlidingCounter[Any]:
            return SlidingCounter(span, buckets=buckets, max_keys=max_keys)

        def distinct(
            span: float = window, values: int = 1000, keys: int = max_keys
        ) -> DistinctCounter[Any]:
            return DistinctCounter(span, max_values=values, max_keys=keys)

        self._pair_failures: SlidingCounter[tuple[str, str]] = count()
        self._source_failures: SlidingCounter[str] = count()
        self._source_unknown: SlidingCounter[str] = count()
        self._account_failures: SlidingCounter[str] = count()
        self._source_usernames: DistinctCounter[str] = distinct()
        self._source_logins: DistinctCounter[str] = distinct()
        self._account_sources: DistinctCounter[str] = distinct()
        self._network_usernames: DistinctCounter[str] = distinct(values=10_000)
        self._network_sources: DistinctCounter[str] = distinct(values=10_000)

        def per_agent() -> DistinctCounter[Any]:
            return distinct(values=10_000, keys=max_agent_keys)

        self._agent_usernames: DistinctCounter[str] = per_agent()
        self._agent_sources: DistinctCounter[str] = per_agent()
        self._agent_logins: DistinctCounter[str] = per_agent()
        self._spray_usernames: DistinctCounter[str] = distinct(spray_window)
        self._spray_failures: SlidingCounter[str] = count(spray_window, 24)
        self._spray_logins: DistinctCounter[str] = distinct(spray_window)
        self._spray_unknown: SlidingCounter[str] = count(spray_window, 24)
        self._recent = _RecentFailures(_RECENT_FAILURES, max_keys)
        self._recent_agents = _RecentFailures(_RECENT_FAILURES, max_agent_keys)

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Count a login attempt and flag the source or account it implicates."""
        if type(event) is not Login:
            return ()
        username = event.username or event.account or ""
        source = ctx.source()
        agent = _agent_key(event.user_agent) if event.user_agent else ""
        if event.success:
            return self._on_success(event, ctx, source, username, agent)
        unknown = _names_nobody(event)
        signals = self._on_account_failure(event, ctx.t, source, username)
        if not source:
            return signals
        signals += self._on_source_failure(event, ctx.t, source, username, unknown)
        network = ctx.network()
        if network:
            signals += self._on_network_failure(
                event, ctx.t, network, source, username, agent
            )
        if agent:
            signals += self._on_agent_failure(event, ctx.t, agent, source, username)
        return signals

    # ------------------------------------------------------------ failures

    def _on_account_failure(
        self, event: Login, t: float, source: str, username: str
    ) -> list[Signal]:
        """Count a failure against the name presented, from any source."""
        if not username:
            return []  # no name, no account to protect
        failures = self._account_failures.add(username, t)
        if not source:
            return []
        sources = self._account_sources.add(username, source, t)
        if sources < self.account_sources:
            return []
        return self.count_signal(
            event,
            kind="distributed_brute_force",
            count=failures,
            threshold=self.account_failures,
            entity_type="account",
            entity=event.account or username,
            reason=f"{failures} failed logins for this account from {sources} "
            f"sources in {self._minutes:g} min",
            evidence={"failures": failures, "sources": sources, "username": username},
        )

    def _on_source_failure(
        self, event: Login, t: float, source: str, username: str, unknown: bool
    ) -> list[Signal]:
        """Brute force, stuffing and spraying: what one source is doing."""
        failures = self._source_failures.add(source, t)
        unknown_failures = self._source_unknown.add(source, t, int(unknown))
        pair = self._pair_failures.add((source, username), t)
        distinct = self._source_usernames.add(source, username, t)
        signals = self.count_signal(
            event,
            kind="brute_force",
            count=pair,
            threshold=self.brute_force_failures,
            entity_type="ip",
            entity=source,
            reason=f"{pair} failed logins for one account from this source "
            f"in {self._minutes:g} min",
            evidence={"failures_for_account": pair, "username": username},
        )
        logged_in = self._source_logins.count(source, t)
        if (
            distinct >= self.stuffing_usernames
            and _success_share(logged_in, distinct) <= self.max_success_rate
        ):
            signals += self._stuffing(
                event, source, distinct, failures, unknown_failures, logged_in, t
            )
        spraying = self._spraying(event, t, source, username, unknown)
        if not any(s.kind == "credential_stuffing" for s in signals):
            signals += spraying
        return signals

    def _stuffing(
        self,
        event: Login,
        source: str,
        distinct: int,
        failures: int,
        unknown_failures: int,
        logged_in: int,
        t: float,
    ) -> list[Signal]:
        reasons = [
            f"{distinct} distinct usernames failed from this source in "
            f"{self._minutes:g} min"
        ]
        unknown_share = unknown_failures / failures
        if unknown_share >= 0.5:
            reasons.append(f"{unknown_share:.0%} of its failures name no existing user")
        return [
            self.signal(
                event,
                kind="credential_stuffing",
                score=threshold_score(distinct, self.stuffing_usernames),
                entity_type="ip",
                entity=source,
                reasons=tuple(reasons),
                evidence={
                    "distinct_usernames": distinct,
                    "failures": failures,
                    "failures_per_minute": round(
                        60 * self._source_failures.rate(source, t), 2
                    ),
                    "unknown_user_share": round(unknown_share, 3),
                    "accounts_logged_in": logged_in,
                    "success_share": round(_success_share(logged_in, distinct), 3),
                },
            )
        ]

    def _spraying(
        self, event: Login, t: float, source: str, username: str, unknown: bool
    ) -> list[Signal]:
        """Many names from one source over the long window, a few tries each."""
        distinct = self._spray_usernames.add(source, username, t)
        failures = self._spray_failures.add(source, t)
        unknown_failures = self._spray_unknown.add(source, t, int(unknown))
        if distinct < self.spray_usernames:
            return []
        per_name = failures / distinct
        logged_in = self._spray_logins.count(source, t)
        share = _success_share(logged_in, distinct)
        if per_name > self.spray_attempts_per_username or share > self.max_success_rate:
            return []
        unknown_share = unknown_failures / failures
        reasons = [
            f"{distinct} distinct usernames failed from this source over "
            f"{self._spray_hours:g} h, {per_name:.1f} tries per name",
            f"{logged_in} of {logged_in + distinct} accounts tried logged in",
        ]
        if unknown_share >= 0.5:
            reasons.append(f"{unknown_share:.0%} of the names exist nowhere here")
        return [
            self.signal(
                event,
                kind="password_spraying",
                score=threshold_score(distinct, self.spray_usernames),
                entity_type="ip",
                entity=source,
                reasons=tuple(reasons),
                evidence={
                    "distinct_usernames": distinct,
                    "failures": failures,
                    "tries_per_username": round(per_name, 2),
                    "unknown_user_share": round(unknown_share, 3),
                    "accounts_logged_in": logged_in,
                    "success_share": round(share, 3),
                },
            )
        ]

    def _on_network_failure(
        self,
        event: Login,
        t: float,
        network: str,
        source: str,
        username: str,
        agent: str,
    ) -> list[Signal]:
        names = self._network_usernames.add(network, username, t)
        sources = self._network_sources.add(network, source, t)
        recent = self._recent.add(f"net:{network}", t, agent)
        if names < self.network_usernames or sources < self.network_sources:
            return []
        return self._group_signal(
            event,
            entity_type="network",
            entity=network,
            names=names,
            sources=sources,
            pattern=_pattern(recent, t, self._pair_failures.window),
            where=f"in network {network}",
        )

    def _on_agent_failure(
        self, event: Login, t: float, agent: str, source: str, username: str
    ) -> list[Signal]:
        names = self._agent_usernames.add(agent, username, t)
        sources = self._agent_sources.add(agent, source, t)
        recent = self._recent_agents.add(agent, t, "")  # one agent by definition
        if names < self.network_usernames or sources < self.network_sources:
            return []
        logged_in = self._agent_logins.count(agent, t)
        if _success_share(logged_in, names) > self.max_success_rate:
            return []  # a popular client that mostly logs in fine
        user_agent = event.user_agent or ""
        return self._group_signal(
            event,
            entity_type="user_agent",
            entity=user_agent[:_MAX_AGENT_CHARS],
            names=names,
            sources=sources,
            pattern=_pattern(recent, t, self._pair_failures.window),
            where="sending one user agent",
        )

    def _group_signal(
        self,
        event: Login,
        *,
        entity_type: str,
        entity: str,
        names: int,
        sources: int,
        pattern: _Pattern,
        where: str,
    ) -> list[Signal]:
        """A distributed-stuffing signal for a network or user-agent group."""
        reasons = [
            f"{names} distinct usernames failed from {sources} sources {where} "
            f"in {self._minutes:g} min"
        ]
        doubt = 1.0 - threshold_score(names, self.network_usernames)
        if pattern.shared_agent:
            reasons.append(f"{pattern.agent_share:.0%} of them send one user agent")
            doubt *= _CORROBORATION
        if pattern.regular:
            reasons.append(
                f"failures arrive on a schedule: every {pattern.mean_gap:.1f} s "
                f"(gap variation {pattern.gap_cv:.2f})"
            )
            doubt *= _CORROBORATION
        return [
            self.signal(
                event,
                kind="distributed_stuffing",
                score=1.0 - doubt,
                entity_type=entity_type,
                entity=entity,
                reasons=tuple(reasons),
                evidence={
                    "distinct_usernames": names,
                    "sources": sources,
                    "shared_agent_share": pattern.agent_share,
                    "gap_cv": pattern.gap_cv,
                    "mean_gap_s": pattern.mean_gap,
                },
            )
        ]

    # ------------------------------------------------------------ successes

    def _on_success(
        self, event: Login, ctx: EventContext, source: str, username: str, agent: str
    ) -> list[Signal]:
        t = ctx.t
        by_account = self._account_failures.count(username, t) if username else 0
        by_source = self._source_failures.count(source, t) if source else 0
        self._count_login(t, source, username, agent)
        burst = self.burst_failures
        if max(by_account, by_source) < burst:
            return []
        counts: list[int] = []
        reasons: list[str] = []
        evidence: dict[str, Any] = {
            "account_failures": by_account,
            "source_failures": by_source,
            "ip": source,
        }
        attacker_got_in = False
        if by_account >= burst:
            origin, where = self._account_failure_origin(username, source, t)
            counts.append(by_account)
            reasons.append(
                f"success after {by_account} failures for this account{where}"
            )
            evidence["failures_from"] = origin
            attacker_got_in = origin != "elsewhere"
        if by_source >= burst:
            failed = self._source_usernames.count(source, t)
            logged_in = self._source_logins.count(source, t)
            evidence["source_accounts_failed"] = failed
            evidence["source_accounts_logged_in"] = logged_in
            if _success_share(logged_in, failed) <= self.max_success_rate:
                # a source failing against many accounts, not a busy shared one
                counts.append(by_source)
                reasons.append(
                    f"success from a source with {by_source} recent failures "
                    f"against {failed} accounts"
                )
                attacker_got_in = True
        if not counts:
            return []  # a busy shared address whose other users mistyped
        corroborating = self._corroborating(ctx)
        if corroborating:
            evidence["corroborated_by"] = sorted({s.kind for s in corroborating})
            reasons += [
                f"{s.kind} on this login ({s.score:.2f})" for s in corroborating
            ]
        kind = "login_after_failures"
        if not attacker_got_in and not corroborating:
            kind = "login_after_failures_elsewhere"
        return [
            self.signal(
                event,
                kind=kind,
                score=threshold_score(max(counts), burst),
                entity_type="account",
                entity=event.account or username,
                reasons=tuple(reasons),
                evidence=evidence,
            )
        ]

    def _count_login(self, t: float, source: str, username: str, agent: str) -> None:
        """Count the account that logged in, for the success shares."""
        if not username:
            return
        if source:
            self._source_logins.add(source, username, t)
            self._spray_logins.add(source, username, t)
        if agent:
            self._agent_logins.add(agent, username, t)

    def _account_failure_origin(
        self, username: str, source: str, t: float
    ) -> tuple[str, str]:
        """Say where an account's recent failures came from, seen from ``source``.

        Returns ``"source"``, ``"network"`` (this source's /24 or /64) or
        ``"elsewhere"``, and the words that say so.
        """
        failing = self._account_sources.values(
            username, since=t - self._account_sources.window
        )
        if source and source in failing:
            here = self._pair_failures.count((source, username), t)
            return "source", f", {here} of them from this source"
        network = _prefix(source) if source else ""
        if network and any(_prefix(str(other)) == network for other in failing):
            return "network", f", from this source's network {network}"
        if not failing:
            return "elsewhere", " from other sources"
        plural = "s" * (len(failing) != 1)
        return "elsewhere", f" from {len(failing)} other source{plural}"

    def _corroborating(self, ctx: EventContext) -> list[Signal]:
        """Signals of ``corroborating_kinds`` earlier detectors raised on the login."""
        return [
            s
            for s in ctx.raised
            if isinstance(s, Signal)
            and s.kind in self.corroborating_kinds
            and s.score >= _CORROBORATING_SCORE
        ]

    # ------------------------------------------------------------ state

    def _windows(self) -> dict[str, Any]:
        return {
            "pair_failures": self._pair_failures,
            "source_failures": self._source_failures,
            "source_logins": self._source_logins,
            "source_unknown": self._source_unknown,
            "account_failures": self._account_failures,
            "source_usernames": self._source_usernames,
            "account_sources": self._account_sources,
            "network_usernames": self._network_usernames,
            "network_sources": self._network_sources,
            "agent_usernames": self._agent_usernames,
            "agent_sources": self._agent_sources,
            "agent_logins": self._agent_logins,
            "spray_usernames": self._spray_usernames,
            "spray_failures": self._spray_failures,
            "spray_logins": self._spray_logins,
            "spray_unknown": self._spray_unknown,
            "recent_failures": self._recent,
            "recent_agent_failures": self._recent_agents,
        }

    def get_state(self) -> dict[str, Any]:
        """Return the windows' state."""
        return {name: w.get_state() for name, w in self._windows().items()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore the windows' state.

        A checkpoint of an earlier version restores the windows it has; the
        others start empty (version 1 had no spraying, distributed brute force
        or user-agent groups; versions 1 and 2 counted logins, not accounts,
        on the success side).
        """
        for name, window in self._windows().items():
            if name in state:
                window.set_state(state[name])


def _success_share(logged_in: int, failed: int) -> float:
    """Share of the accounts tried that logged in.

    ``logged_in`` and ``failed`` are distinct accounts; one that failed and
    then logged in counts on both sides (the share is then a little low).
    """
    tried = logged_in + failed
    return logged_in / tried if tried else 0.0


@lru_cache(maxsize=4096)
def _prefix(source: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) of a canonical source address."""
    return ip_prefix(source)


def _names_nobody(event: Login) -> bool:
    """Whether a failed login named a user that does not exist."""
    if event.failure_reason in _UNKNOWN_USER_REASONS:
        return True
    return event.account is None and bool(event.username)


@lru_cache(maxsize=4096)
def _agent_key(user_agent: str) -> str:
    """A short fixed-size key for a user agent (they run to 512 characters)."""
    return blake2b(user_agent.encode("utf-8", "replace"), digest_size=8).hexdigest()


class _Pattern:
    """User-agent and timing evidence read from a group's recent failures."""

    __slots__ = ("agent_share", "gap_cv", "mean_gap")

    def __init__(
        self, agent_share: float | None, gap_cv: float | None, mean_gap: float | None
    ) -> None:
        self.agent_share = agent_share
        self.gap_cv = gap_cv
        self.mean_gap = mean_gap

    @property
    def shared_agent(self) -> bool:
        return self.agent_share is not None and self.agent_share >= _SHARED_AGENT_SHARE

    @property
    def regular(self) -> bool:
        return self.gap_cv is not None and self.gap_cv <= _REGULAR_CV


def _pattern(recent: list[list[Any]], t: float, window: float) -> _Pattern:
    """Read the shared-agent share and the gap regularity of recent failures."""
    inside = [entry for entry in recent if entry[0] >= t - window]
    agents = [agent for _, agent in inside if agent]
    share = None
    if len(agents) >= _MIN_PATTERN:
        share = round(Counter(agents).most_common(1)[0][1] / len(agents), 3)
    times = sorted(entry[0] for entry in inside)
    gaps = [later - earlier for earlier, later in pairwise(times)]
    if len(gaps) < _MIN_PATTERN - 1 or fmean(gaps) <= 0:
        return _Pattern(share, None, None)
    mean = fmean(gaps)
    return _Pattern(share, round(pstdev(gaps) / mean, 3), round(mean, 2))


class _RecentFailures:
    """The last few failures (time, user-agent key) per group, LRU-bounded."""

    def __init__(self, keep: int, max_keys: int) -> None:
        self.keep = keep
        self._groups: LruDict[str, list[list[Any]]] = LruDict(max_keys)

    @property
    def evicted(self) -> int:
        """Groups evicted so far to stay within the bound."""
        return self._groups.evicted

    def __len__(self) -> int:
        return len(self._groups)

    def add(self, key: str, t: float, agent: str) -> list[list[Any]]:
        """Record a failure of group ``key``; return the group's recent ones."""
        entries = self._groups.touch(key)
        if entries is None:
            entries = []
            self._groups.put(key, entries)
        entries.append([t, agent])
        if len(entries) > self.keep:
            del entries[0]
        return entries

    def get_state(self) -> dict[str, Any]:
        """Return a plain, serialisable copy of the state."""
        return {"evicted": self.evicted, "keys": list(self._groups.items())}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`get_state`."""
        groups = (
            (str(key), [[float(t), str(agent)] for t, agent in entries])
            for key, entries in state["keys"]
        )
        self._groups = LruDict(self._groups.max_keys, groups)
        self._groups.evicted += int(state["evicted"])
