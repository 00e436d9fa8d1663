"""Brute force and credential stuffing against the login endpoint.

Three patterns, each counted over an event-time window with bounded state:

- **brute force**: one source fails against the same account again and again;
- **credential stuffing / password spraying**: one source fails against many
  distinct usernames (lists of leaked credentials, or one password tried
  across many names);
- **distributed stuffing**: many sources in one network (an AS, or a /24 or
  /64 when the AS is unknown) failing against many distinct usernames, each
  source staying under the per-source threshold;
- **login after a failure burst**: a success for an account, or from a source,
  that just failed many times — the moment a guess or a leaked password works.

Scores grow with how far a count passes its threshold:
``1 - 0.5 ** (count / threshold)``, so the score is 0.5 at the threshold, 0.75
at twice it, and approaches 1 as the count grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trustwatch.detectors.base import Detector, Signal, threshold_score
from trustwatch.detectors.registry import register
from trustwatch.events.model import EventBase, Login
from trustwatch.features.context import EventContext
from trustwatch.features.windows import DistinctCounter, SlidingCounter

__all__ = ["CredentialAttackDetector"]


@register
class CredentialAttackDetector(Detector):
    """Flag brute force, credential stuffing and success after failure bursts.

    Parameters
    ----------
    window
        Event-time window in seconds for every count.
    brute_force_failures
        Failures from one source against one username that make brute force.
    stuffing_usernames
        Distinct usernames failed from one source that make stuffing.
    burst_failures
        Failures for an account (from any source), or from the source, that
        make a following success suspicious.
    network_usernames, network_sources
        Distinct usernames failed from one network, coming from at least this
        many distinct sources, that make distributed stuffing.
    max_keys
        Bound on the keys each window keeps.
    """

    name = "credential_attacks"
    version = "1"
    event_types = frozenset({Login})
    signal_kinds = (
        "brute_force",
        "credential_stuffing",
        "distributed_stuffing",
        "login_after_failures",
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
    ) -> None:
        self._params = {
            "window": window,
            "brute_force_failures": brute_force_failures,
            "stuffing_usernames": stuffing_usernames,
            "burst_failures": burst_failures,
            "network_usernames": network_usernames,
            "network_sources": network_sources,
            "max_keys": max_keys,
        }
        self.network_usernames = network_usernames
        self.network_sources = network_sources
        self.brute_force_failures = brute_force_failures
        self.stuffing_usernames = stuffing_usernames
        self.burst_failures = burst_failures
        self._pair_failures: SlidingCounter[tuple[str, str]] = SlidingCounter(
            window, max_keys=max_keys
        )
        self._source_failures: SlidingCounter[str] = SlidingCounter(
            window, max_keys=max_keys
        )
        self._account_failures: SlidingCounter[str] = SlidingCounter(
            window, max_keys=max_keys
        )
        self._source_usernames: DistinctCounter[str] = DistinctCounter(
            window, max_values=1000, max_keys=max_keys
        )
        self._network_usernames: DistinctCounter[str] = DistinctCounter(
            window, max_values=10_000, max_keys=max_keys
        )
        self._network_sources: DistinctCounter[str] = DistinctCounter(
            window, max_values=10_000, max_keys=max_keys
        )

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Count a login attempt and flag the source or account it implicates."""
        if type(event) is not Login:
            return ()
        username = event.username or event.account or ""
        source = ctx.source()
        if event.success:
            return self._on_success(event, ctx.t, source, username)
        signals = self._on_failure(event, ctx.t, source, username)
        if source:
            signals.extend(self._on_network_failure(event, ctx, source, username))
        return signals

    def _on_network_failure(
        self, event: Login, ctx: EventContext, source: str, username: str
    ) -> list[Signal]:
        network = ctx.network()
        if not network:
            return []
        names = self._network_usernames.add(network, username, ctx.t)
        sources = self._network_sources.add(network, source, ctx.t)
        if names < self.network_usernames or sources < self.network_sources:
            return []
        minutes = self._pair_failures.window / 60
        return self.count_signal(
            event,
            kind="distributed_stuffing",
            count=names,
            threshold=self.network_usernames,
            entity_type="network",
            entity=network,
            reason=f"{names} distinct usernames failed from {sources} sources in "
            f"network {network} in {minutes:g} min",
            evidence={"distinct_usernames": names, "sources": sources},
        )

    def _on_failure(
        self, event: Login, t: float, source: str, username: str
    ) -> list[Signal]:
        signals: list[Signal] = []
        self._account_failures.add(username, t)
        if not source:
            return signals
        failures = self._source_failures.add(source, t)
        pair = self._pair_failures.add((source, username), t)
        distinct = self._source_usernames.add(source, username, t)
        minutes = self._pair_failures.window / 60
        signals += self.count_signal(
            event,
            kind="brute_force",
            count=pair,
            threshold=self.brute_force_failures,
            entity_type="ip",
            entity=source,
            reason=f"{pair} failed logins for one account from this source "
            f"in {minutes:g} min",
            evidence={"failures_for_account": pair, "username": username},
        )
        signals += self.count_signal(
            event,
            kind="credential_stuffing",
            count=distinct,
            threshold=self.stuffing_usernames,
            entity_type="ip",
            entity=source,
            reason=f"{distinct} distinct usernames failed from this source "
            f"in {minutes:g} min",
            evidence={
                "distinct_usernames": distinct,
                "failures": failures,
                "failures_per_minute": round(
                    60 * self._source_failures.rate(source, t), 2
                ),
            },
        )
        return signals

    def _on_success(
        self, event: Login, t: float, source: str, username: str
    ) -> list[Signal]:
        by_account = self._account_failures.count(username, t)
        by_source = self._source_failures.count(source, t) if source else 0
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

    def get_state(self) -> dict[str, Any]:
        """Return the windows' state."""
        return {
            "pair_failures": self._pair_failures.get_state(),
            "source_failures": self._source_failures.get_state(),
            "account_failures": self._account_failures.get_state(),
            "source_usernames": self._source_usernames.get_state(),
            "network_usernames": self._network_usernames.get_state(),
            "network_sources": self._network_sources.get_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore the windows' state."""
        self._pair_failures.set_state(state["pair_failures"])
        self._source_failures.set_state(state["source_failures"])
        self._account_failures.set_state(state["account_failures"])
        self._source_usernames.set_state(state["source_usernames"])
        self._network_usernames.set_state(state["network_usernames"])
        self._network_sources.set_state(state["network_sources"])
