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
- **login after a failure burst** (``login_after_failures``, on the account):
  a success for an account, or from a source, that just failed many times.

Evidence beyond the counts: the share of failures naming a user that does not
exist (``Login.failure_reason == "invalid_user"``, or no ``account`` for the
name presented), the success rate of the source or user agent, and for the
groups the share of their recent failures sharing one user agent and the
regularity of their timing (the coefficient of variation of the gaps between
failures: about 1 for independent people, near 0 for a scheduler). A shared
agent and a regular pace each raise a group's score.

A source or user agent that mostly succeeds (above ``max_success_rate``) is a
busy shared address (an office, a carrier NAT) or a popular browser, not a
credential attack, and raises no stuffing, spraying or distributed signal.

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
from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase, Login
from trustwatch.features.context import EventContext
from trustwatch.features.windows import DistinctCounter, SlidingCounter

__all__ = ["CredentialAttackDetector"]

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
        Bound on the keys each window keeps.
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
        A source or user agent succeeding more often than this raises no
        stuffing, spraying or distributed signal.
    """

    name = "credential_attacks"
    version = "2"
    event_types = frozenset({Login})
    signal_kinds = (
        "brute_force",
        "credential_stuffing",
        "distributed_stuffing",
        "login_after_failures",
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
        self._minutes = window / 60
        self._spray_hours = spray_window / 3600

        def count(span: float = window, buckets: int = 12) -> SlidingCounter[Any]:
            return SlidingCounter(span, buckets=buckets, max_keys=max_keys)

        def distinct(span: float = window, values: int = 1000) -> DistinctCounter[Any]:
            return DistinctCounter(span, max_values=values, max_keys=max_keys)

        self._pair_failures: SlidingCounter[tuple[str, str]] = count()
        self._source_failures: SlidingCounter[str] = count()
        self._source_successes: SlidingCounter[str] = count()
        self._source_unknown: SlidingCounter[str] = count()
        self._account_failures: SlidingCounter[str] = count()
        self._source_usernames: DistinctCounter[str] = distinct()
        self._account_sources: DistinctCounter[str] = distinct()
        self._network_usernames: DistinctCounter[str] = distinct(values=10_000)
        self._network_sources: DistinctCounter[str] = distinct(values=10_000)
        self._agent_usernames: DistinctCounter[str] = distinct(values=10_000)
        self._agent_sources: DistinctCounter[str] = distinct(values=10_000)
        self._agent_failures: SlidingCounter[str] = count()
        self._agent_successes: SlidingCounter[str] = count()
        self._spray_usernames: DistinctCounter[str] = distinct(spray_window)
        self._spray_failures: SlidingCounter[str] = count(spray_window, 24)
        self._spray_successes: SlidingCounter[str] = count(spray_window, 24)
        self._spray_unknown: SlidingCounter[str] = count(spray_window, 24)
        self._recent = _RecentFailures(_RECENT_FAILURES, max_keys)

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Count a login attempt and flag the source or account it implicates."""
        if type(event) is not Login:
            return ()
        username = event.username or event.account or ""
        source = ctx.source()
        agent = _agent_key(event.user_agent) if event.user_agent else ""
        if event.success:
            return self._on_success(event, ctx.t, source, username, agent)
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
        successes = self._source_successes.count(source, t)
        rate = successes / (successes + failures)
        if distinct >= self.stuffing_usernames and rate <= self.max_success_rate:
            signals += self._stuffing(
                event, source, distinct, failures, unknown_failures, rate, t
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
        success_rate: float,
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
                    "success_rate": round(success_rate, 3),
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
        successes = self._spray_successes.count(source, t)
        rate = successes / (successes + failures)
        if per_name > self.spray_attempts_per_username or rate > self.max_success_rate:
            return []
        unknown_share = unknown_failures / failures
        reasons = [
            f"{distinct} distinct usernames failed from this source over "
            f"{self._spray_hours:g} h, {per_name:.1f} tries per name",
            f"success rate {rate:.1%}",
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
                    "success_rate": round(rate, 3),
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
        failures = self._agent_failures.add(agent, t)
        recent = self._recent.add(f"ua:{agent}", t, "")  # one agent by definition
        if names < self.network_usernames or sources < self.network_sources:
            return []
        successes = self._agent_successes.count(agent, t)
        if successes / (successes + failures) > self.max_success_rate:
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
        self, event: Login, t: float, source: str, username: str, agent: str
    ) -> list[Signal]:
        by_account = self._account_failures.count(username, t) if username else 0
        by_source = 0
        if source:
            by_source = self._source_failures.count(source, t)
            self._source_successes.add(source, t)
            self._spray_successes.add(source, t)
        if agent:
            self._agent_successes.add(agent, t)
        worst = max(by_account, by_source)
        if worst < self.burst_failures:
            return []
        reasons = []
        if by_account >= self.burst_failures:
            reasons.append(f"success after {by_account} failures for this account")
        if by_source >= self.burst_failures:
            reasons.append(f"success from a source with {by_source} recent failures")
        return [
            self.signal(
                event,
                kind="login_after_failures",
                score=threshold_score(worst, self.burst_failures),
                entity_type="account",
                entity=event.account or username,
                reasons=tuple(reasons),
                evidence={
                    "account_failures": by_account,
                    "source_failures": by_source,
                    "ip": source,
                },
            )
        ]

    # ------------------------------------------------------------ state

    def _windows(self) -> dict[str, Any]:
        return {
            "pair_failures": self._pair_failures,
            "source_failures": self._source_failures,
            "source_successes": self._source_successes,
            "source_unknown": self._source_unknown,
            "account_failures": self._account_failures,
            "source_usernames": self._source_usernames,
            "account_sources": self._account_sources,
            "network_usernames": self._network_usernames,
            "network_sources": self._network_sources,
            "agent_usernames": self._agent_usernames,
            "agent_sources": self._agent_sources,
            "agent_failures": self._agent_failures,
            "agent_successes": self._agent_successes,
            "spray_usernames": self._spray_usernames,
            "spray_failures": self._spray_failures,
            "spray_successes": self._spray_successes,
            "spray_unknown": self._spray_unknown,
            "recent_failures": self._recent,
        }

    def get_state(self) -> dict[str, Any]:
        """Return the windows' state."""
        return {name: w.get_state() for name, w in self._windows().items()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore the windows' state.

        A checkpoint of version 1 (before spraying, distributed brute force and
        user-agent groups) restores the windows it has; the others start empty.
        """
        for name, window in self._windows().items():
            if name in state:
                window.set_state(state[name])


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
        self.max_keys = max_keys
        self.evicted = 0
        self._groups: dict[str, list[list[Any]]] = {}

    def add(self, key: str, t: float, agent: str) -> list[list[Any]]:
        """Record a failure of group ``key``; return the group's recent ones."""
        entries = self._groups.pop(key, None) or []
        entries.append([t, agent])
        if len(entries) > self.keep:
            del entries[0]
        self._groups[key] = entries
        if len(self._groups) > self.max_keys:
            del self._groups[next(iter(self._groups))]
            self.evicted += 1
        return entries

    def get_state(self) -> dict[str, Any]:
        """Return a plain, serialisable copy of the state."""
        return {"evicted": self.evicted, "keys": list(self._groups.items())}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`get_state`."""
        self.evicted = int(state["evicted"])
        self._groups = {
            str(key): [[float(t), str(agent)] for t, agent in entries]
            for key, entries in state["keys"]
        }
