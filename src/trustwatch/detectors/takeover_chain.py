"""Account takeover chains: a risky login, then what an attacker does next.

A risky login alone is a guess; what follows it tells. Once an account has
logged in riskily, a chain stays open for ``window`` seconds (24 h by default,
counted from the latest risky login), and each of these steps joins it:

- a credential or recovery change: password changed or reset through
  recovery, email changed, MFA disabled, reset, enabled or a device added;
- persistence: an API token minted;
- exfiltration and abuse: a burst of downloads, of shares (counted in
  recipients) or of public links, each counted over ``burst_window``.

Each step that joins (or a burst that doubles) raises one ``takeover_chain``
signal on the account that scores the whole chain, with one reason per step:
"risky login 2 h ago from BR: new country for this account (BR)", "then email
changed 35 min after the login", "then 40 downloads in 10 min".

**Where the risky login comes from.** The detectors that ran before on the
login event leave their signals in :attr:`EventContext.raised`; a successful
login that raised any of ``login_kinds`` (``risky_login`` from the login risk
model, ``login_after_failures`` and ``login_after_failures_elsewhere``,
``impossible_travel``, an intel-listed source...) with a score of at least
``min_login_score`` opens a chain. So that the detector also works alone, a
fallback of its own (``fallback=True``) scores each successful login on the
account's history: a success after ``failure_burst`` failures within
``failure_window``, a country never seen for the account (when the pipeline
resolves addresses), a device (``device_id``, else the user agent) never seen
for it. The login's risk is the highest of
the two. The history learns only from logins that opened no chain, and from
those whose chain expired with no step, so an attacker's login does not
become familiar by being seen.

**Scoring.** The chain's score combines independent pieces of evidence as a
noisy-or: ``1 - (1 - login) * prod(1 - w_i)``, where ``login`` is the login's
risk and ``w_i`` a step's weight: its severity (an email change or disabling
MFA weighs more than a public link), times a recency factor falling linearly
from 1 right after the login to 0.5 at the end of the window, times 0.6 when
the step came from neither the login's address nor its session (the owner may
be acting beside the attacker). A burst's severity grows with how far it
passes its threshold. A chain therefore always scores above its login alone,
and more steps, and more severe ones, score higher.

State is bounded: open chains and account histories are capped at
``max_accounts`` each (least recently used evicted), each chain holds at most
one record per step kind and one short window per burst, and each history at
most :data:`HISTORY_VALUES` countries and devices.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from trustwatch.detectors.base import Detector, Signal, threshold_score
from trustwatch.detectors.registry import register
from trustwatch.errors import ConfigError
from trustwatch.events.model import (
    ApiTokenCreated,
    EmailChanged,
    EventBase,
    FileDownloaded,
    FileShared,
    LinkCreated,
    Login,
    MfaChanged,
    PasswordChanged,
)
from trustwatch.features.context import EventContext
from trustwatch.features.windows import LruDict, SlidingCounter

__all__ = [
    "BURST_STEPS",
    "DEFAULT_LOGIN_KINDS",
    "HISTORY_VALUES",
    "STEP_WEIGHTS",
    "TakeoverChainDetector",
    "device_key",
]

#: Signal kinds raised on a successful login that make it a risky login.
DEFAULT_LOGIN_KINDS: tuple[str, ...] = (
    "risky_login",
    "login_after_failures",
    "login_after_failures_elsewhere",
    "impossible_travel",
    "brute_force",
    "credential_stuffing",
    "distributed_stuffing",
    "password_spraying",
    "distributed_brute_force",
    "intel_ip",
)

#: The severity of each step: its weight in the chain's noisy-or score.
STEP_WEIGHTS: dict[str, float] = {
    "email_changed": 0.6,
    "mfa_disabled": 0.6,
    "mfa_reset": 0.6,
    "mfa_device_added": 0.55,
    "mfa_enabled": 0.45,
    "password_changed": 0.5,
    "password_reset": 0.5,
    "api_token_created": 0.45,
    "downloads": 0.5,
    "shares": 0.45,
    "public_links": 0.45,
}

#: Steps that count only as bursts, and how their reasons read.
BURST_STEPS: dict[str, str] = {
    "downloads": "{count} downloads in {window}",
    "shares": "files shared with {count} recipients in {window}",
    "public_links": "{count} public links created in {window}",
}

_STEP_WORDS = {
    "email_changed": "email changed",
    "mfa_disabled": "MFA disabled",
    "mfa_reset": "MFA reset",
    "mfa_device_added": "an MFA device added",
    "mfa_enabled": "MFA enabled",
    "password_changed": "password changed",
    "password_reset": "password reset through account recovery",
    "api_token_created": "an API token created",
}

#: Most countries, and most devices, an account's history remembers.
HISTORY_VALUES = 8
#: Weight factor of a step from neither the login's address nor its session.
_OTHER_SOURCE_FACTOR = 0.6
#: Slots each burst window is cut into.
_BURST_SLOTS = 10
_NEW_COUNTRY_RISK = 0.6
_NEW_DEVICE_RISK = 0.4


def _span(seconds: float) -> str:
    """Say a duration in words an analyst reads: ``"40 s"``, ``"35 min"``, ``"2 h"``."""
    if seconds < 60:
        return f"{max(0, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    if seconds < 172_800:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86_400)} d"


def device_key(event: EventBase) -> str | None:
    """Return a short, stable key for the event's device, or ``None``.

    The key hashes the ``device_id``, else the user agent, so that histories
    keep 16 characters per device whatever the client sent.
    """
    raw = event.device_id or event.user_agent
    if not raw:
        return None
    if len(raw) > _CACHED_DEVICE_CHARS:
        return _hash_device(raw)
    return _cached_device_hash(raw)


#: Longest device id or user agent whose key is cached: longer ones are rare
#: from real clients and would let a flood of them fill the cache's memory.
_CACHED_DEVICE_CHARS = 512


def _hash_device(raw: str) -> str:
    return hashlib.blake2b(raw.encode("utf-8", "replace"), digest_size=8).hexdigest()


# a device logs in again and again; its key is read at each step of a login
_cached_device_hash = lru_cache(maxsize=16_384)(_hash_device)


class _Chain:
    """One account's open chain: the risky login and the steps after it."""

    __slots__ = (
        "alerted",
        "anchor_t",
        "bursts",
        "login_country",
        "login_ip",
        "login_kinds",
        "login_reason",
        "login_score",
        "login_session",
        "login_t",
        "logins",
        "pending_country",
        "pending_device",
        "steps",
    )

    def __init__(self) -> None:
        self.anchor_t = 0.0  # the latest risky login: the window runs from it
        self.login_t = 0.0  # the riskiest login, which the reasons name
        self.logins = 0  # risky logins in the chain
        self.login_score = 0.0
        self.login_reason = ""
        self.login_kinds: list[str] = []
        self.login_ip = ""
        self.login_session = ""
        self.login_country = ""
        self.pending_country = ""
        self.pending_device = ""
        self.alerted = False
        # step -> [seconds after the login, count, weight, other_source]
        self.steps: dict[str, list[Any]] = {}
        # burst step -> [newest slot, ring of counts]
        self.bursts: dict[str, list[Any]] = {}

    def to_state(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> _Chain:
        chain = cls()
        for name in cls.__slots__:
            setattr(chain, name, state[name])
        chain.steps = {k: list(v) for k, v in state["steps"].items()}
        chain.bursts = {k: [v[0], list(v[1])] for k, v in state["bursts"].items()}
        chain.login_kinds = list(state["login_kinds"])
        return chain


@register
class TakeoverChainDetector(Detector):
    """Score what follows a risky login: credential changes, tokens, bursts.

    Parameters
    ----------
    window
        Seconds a chain stays open after the latest risky login.
    min_login_score
        Risk from which a successful login opens a chain.
    login_kinds
        Signal kinds that, raised on a successful login by an earlier
        detector, make it risky (their score is the login's risk).
    fallback
        Also score logins on the account's own history (failure bursts, new
        country, new device), so that the detector works without a login
        risk detector before it.
    failure_window, failure_burst
        Failures for the account within ``failure_window`` seconds that make
        the next success risky (fallback).
    burst_window
        Seconds over which downloads, share recipients and public links are
        counted.
    download_burst, share_burst, link_burst
        Downloads, share recipients and public links within ``burst_window``
        that make a burst step.
    max_accounts
        Most open chains, and most account histories, kept (least recently
        used evicted).

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> from trustwatch.events.model import EmailChanged, Login
    >>> t0 = datetime(2026, 5, 1, tzinfo=UTC)
    >>> detector = TakeoverChainDetector(failure_burst=3)
    >>> events = [
    ...     Login(event_id=f"f{i}", ts=t0, account="alice", success=False)
    ...     for i in range(4)
    ... ] + [
    ...     Login(event_id="ok", ts=t0, account="alice", success=True),
    ...     EmailChanged(event_id="em", ts=t0 + timedelta(minutes=5), account="alice"),
    ... ]
    >>> [s.reasons[1] for s in detector.process(events)]
    ['then email changed 5 min after the login']
    """

    name = "takeover_chain"
    version = "1"
    signal_kinds = ("takeover_chain",)
    event_types = frozenset(
        {
            Login,
            PasswordChanged,
            EmailChanged,
            MfaChanged,
            ApiTokenCreated,
            FileDownloaded,
            FileShared,
            LinkCreated,
        }
    )

    def __init__(
        self,
        window: float = 86_400.0,
        min_login_score: float = 0.5,
        login_kinds: Sequence[str] = DEFAULT_LOGIN_KINDS,
        fallback: bool = True,
        failure_window: float = 600.0,
        failure_burst: int = 5,
        burst_window: float = 600.0,
        download_burst: int = 20,
        share_burst: int = 10,
        link_burst: int = 5,
        max_accounts: int = 100_000,
    ) -> None:
        if window <= 0 or failure_window <= 0 or burst_window <= 0:
            raise ConfigError(
                f"takeover_chain windows must be positive: window={window}, "
                f"failure_window={failure_window}, burst_window={burst_window}"
            )
        if not 0.0 < min_login_score <= 1.0:
            raise ConfigError(
                f"takeover_chain min_login_score must be in (0, 1], "
                f"got {min_login_score}"
            )
        if min(failure_burst, download_burst, share_burst, link_burst) < 1:
            raise ConfigError("takeover_chain burst thresholds must be at least 1")
        if max_accounts < 1:
            raise ConfigError(
                f"takeover_chain max_accounts must be at least 1, got {max_accounts}"
            )
        self._params = {
            "window": window,
            "min_login_score": min_login_score,
            "login_kinds": list(login_kinds),
            "fallback": fallback,
            "failure_window": failure_window,
            "failure_burst": failure_burst,
            "burst_window": burst_window,
            "download_burst": download_burst,
            "share_burst": share_burst,
            "link_burst": link_burst,
            "max_accounts": max_accounts,
        }
        self.window = float(window)
        self.min_login_score = min_login_score
        self.login_kinds = frozenset(login_kinds)
        self.fallback = fallback
        self.failure_burst = failure_burst
        self.burst_window = float(burst_window)
        self.burst_thresholds = {
            "downloads": download_burst,
            "shares": share_burst,
            "public_links": link_burst,
        }
        self.max_accounts = max_accounts
        self._slot_width = self.burst_window / _BURST_SLOTS
        self._chains: LruDict[str, _Chain] = LruDict(max_accounts)
        # account -> [countries, devices], each a list in order of last use
        self._history: LruDict[str, list[list[str]]] = LruDict(max_accounts)
        self._failures: SlidingCounter[str] = SlidingCounter(
            failure_window, max_keys=max_accounts
        )

    # ------------------------------------------------------------- routing

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Open a chain on a risky login; add steps to an open chain."""
        kind = type(event)
        if kind is Login:
            self._on_login(event, ctx)  # type: ignore[arg-type]
            return ()
        account = event.account
        if not account:
            return ()
        chain = self._open_chain(account, ctx.t)
        if chain is None or ctx.t < min(chain.anchor_t, chain.login_t):
            return ()  # no chain, or a step (arriving late) from before its login
        step, amount = _step_of(event)
        if step is None:
            return ()
        if step in BURST_STEPS:
            added = self._add_burst(chain, step, amount, event, ctx)
        else:
            added = self._add_step(chain, step, event, ctx)
        if not added:
            return ()
        chain.alerted = True
        return [self._chain_signal(event, account, chain, ctx.t)]

    # --------------------------------------------------------------- logins

    def _on_login(self, event: Login, ctx: EventContext) -> None:
        key = event.account or event.username
        if not key:
            return
        if not event.success:
            if self.fallback:
                self._failures.add(key, ctx.t)
            return
        self._open_chain(key, ctx.t)  # lets an expired chain teach its login
        upstream = self._upstream_risk(ctx) if ctx.raised else None
        device = device_key(event) if self.fallback else None
        own = self._own_risk(key, device, ctx) if self.fallback else None
        # the stronger of the two; the upstream one on a tie
        best = upstream
        if own is not None and (best is None or own[0] > best[0]):
            best = own
        if best is None or best[0] < self.min_login_score:
            if self.fallback:
                self._learn(key, self._country(ctx), device)
            return
        self._anchor(key, event, ctx, best)

    def _upstream_risk(self, ctx: EventContext) -> tuple[float, str, list[str]] | None:
        """Return the strongest login signal earlier detectors raised, if any."""
        best: Signal | None = None
        kinds: list[str] = []
        for signal in ctx.raised:
            if not isinstance(signal, Signal) or signal.kind not in self.login_kinds:
                continue
            kinds.append(signal.kind)
            if best is None or signal.score > best.score:
                best = signal
        if best is None:
            return None
        reason = best.reasons[0] if best.reasons else best.kind.replace("_", " ")
        return best.score, reason, sorted(set(kinds))

    def _own_risk(
        self, key: str, device: str | None, ctx: EventContext
    ) -> tuple[float, str, list[str]] | None:
        """Score the login on the account's history (the fallback).

        ``device`` is the login's :func:`device_key`.
        """
        risks: list[tuple[float, str, str]] = []
        failures = self._failures.count(key, ctx.t)
        if failures >= self.failure_burst:
            minutes = self._failures.window / 60
            risks.append(
                (
                    threshold_score(failures, self.failure_burst),
                    f"success after {failures} failed login{'s' * (failures != 1)} "
                    f"in {minutes:g} min",
                    "failure_burst",
                )
            )
        history = self._history.get(key)
        countries, devices = history if history is not None else ([], [])
        country = self._country(ctx)
        if country and countries and country not in countries:
            risks.append(
                (
                    _NEW_COUNTRY_RISK,
                    f"new country for this account ({country})",
                    "new_country",
                )
            )
        if device and devices and device not in devices:
            risks.append(
                (_NEW_DEVICE_RISK, "new device for this account", "new_device")
            )
        if not risks:
            return None
        clean = 1.0
        for score, _, _ in risks:
            clean *= 1.0 - score
        risks.sort(key=lambda r: -r[0])
        return 1.0 - clean, "; ".join(r[1] for r in risks), [r[2] for r in risks]

    def _anchor(
        self,
        key: str,
        event: Login,
        ctx: EventContext,
        risk: tuple[float, str, list[str]],
    ) -> None:
        """Open a chain on a risky login, or move an open chain's anchor to it."""
        chain = self._chains.touch(key)
        if chain is None:
            chain = _Chain()
            self._chains.put(key, chain)
        score, reason, kinds = risk
        chain.anchor_t = ctx.t
        chain.logins += 1
        if score >= chain.login_score:
            chain.login_t = ctx.t
            chain.login_score = score
            chain.login_reason = reason
            chain.login_country = self._country(ctx)
        chain.login_kinds = sorted(set(chain.login_kinds) | set(kinds))
        chain.login_ip = ctx.source()
        chain.login_session = event.session_id or ""
        if not chain.alerted:
            chain.pending_country = self._country(ctx)
            chain.pending_device = device_key(event) or ""

    def _open_chain(self, key: str, t: float) -> _Chain | None:
        """Return the account's open chain; close it when its window has passed."""
        chain = self._chains.get(key)
        if chain is None:
            return None
        if t - chain.anchor_t <= self.window:
            return chain
        self._chains.pop(key)
        if not chain.alerted and self.fallback:
            # nothing followed the login: what it came from is the owner's
            self._learn(key, chain.pending_country, chain.pending_device or None)
        return None

    def _learn(self, key: str, country: str, device: str | None) -> None:
        history = self._history.touch(key)
        if history is None:
            history = [[], []]
            self._history.put(key, history)
        for values, value in zip(history, (country, device), strict=True):
            if not value:
                continue
            if value in values:
                values.remove(value)
            values.append(value)
            del values[:-HISTORY_VALUES]

    @staticmethod
    def _country(ctx: EventContext) -> str:
        info = ctx.location()
        return (info.country or "") if info is not None else ""

    # ---------------------------------------------------------------- steps

    def _add_step(
        self, chain: _Chain, step: str, event: EventBase, ctx: EventContext
    ) -> bool:
        """Record a one-off step; return whether it is new to the chain."""
        if step in chain.steps:
            chain.steps[step][1] += 1
            return False
        other = self._other_source(chain, event, ctx)
        weight = STEP_WEIGHTS[step] * self._recency(chain, ctx.t)
        if other:
            weight *= _OTHER_SOURCE_FACTOR
        chain.steps[step] = [ctx.t - chain.anchor_t, 1, weight, other]
        return True

    def _add_burst(
        self,
        chain: _Chain,
        step: str,
        amount: int,
        event: EventBase,
        ctx: EventContext,
    ) -> bool:
        """Count a burst step; return whether it reached or doubled a burst."""
        count = self._count_burst(chain, step, amount, ctx.t)
        threshold = self.burst_thresholds[step]
        seen = chain.steps.get(step)
        if count < threshold or (seen is not None and count < 2 * seen[1]):
            return False
        other = self._other_source(chain, event, ctx)
        # a burst weighs more the further it passes its threshold
        growth = 0.5 + threshold_score(count, threshold)
        weight = min(0.9, STEP_WEIGHTS[step] * growth) * self._recency(chain, ctx.t)
        if other:
            weight *= _OTHER_SOURCE_FACTOR
        if seen is None:
            chain.steps[step] = [ctx.t - chain.anchor_t, count, weight, other]
        else:
            seen[1:] = [count, max(seen[2], weight), seen[3] and other]
        return True

    def _count_burst(self, chain: _Chain, step: str, amount: int, t: float) -> int:
        slot = int(t // self._slot_width)
        window = chain.bursts.get(step)
        if window is None:
            ring = [0] * _BURST_SLOTS
            window = chain.bursts[step] = [slot, ring]
        newest, ring = window
        if slot > newest:
            for s in range(newest + 1, min(slot, newest + _BURST_SLOTS) + 1):
                ring[s % _BURST_SLOTS] = 0
            window[0] = slot
        elif slot <= newest - _BURST_SLOTS:
            return int(sum(ring))  # too late for the window: not counted
        ring[slot % _BURST_SLOTS] += amount
        return int(sum(ring))

    def _recency(self, chain: _Chain, t: float) -> float:
        age = min(max(t - chain.anchor_t, 0.0), self.window)
        return 1.0 - 0.5 * age / self.window

    @staticmethod
    def _other_source(chain: _Chain, event: EventBase, ctx: EventContext) -> bool:
        """Whether the step came from neither the login's address nor session."""
        ip, session = ctx.source(), event.session_id or ""
        if (session and session == chain.login_session) or (
            ip and ip == chain.login_ip
        ):
            return False
        return bool((session and chain.login_session) or (ip and chain.login_ip))

    # --------------------------------------------------------------- signal

    def _chain_signal(
        self, event: EventBase, account: str, chain: _Chain, t: float
    ) -> Signal:
        clean = 1.0 - chain.login_score
        for _, _, weight, _ in chain.steps.values():
            clean *= 1.0 - weight
        where = f" from {chain.login_country}" if chain.login_country else ""
        ago = _span(t - chain.login_t)
        first = f"risky login {ago} ago{where}: {chain.login_reason}"
        if chain.logins > 1:
            more = chain.logins - 1
            first += f" (and {more} more risky login{'s' * (more > 1)})"
        reasons = [first]
        steps = sorted(chain.steps.items(), key=lambda item: item[1][0])
        for step, (offset, count, _, other) in steps:
            reasons.append(self._step_reason(step, offset, count, other))
        return self.signal(
            event,
            kind="takeover_chain",
            score=1.0 - clean,
            entity_type="account",
            entity=account,
            reasons=tuple(reasons),
            evidence={
                "login_score": round(chain.login_score, 4),
                "login_kinds": list(chain.login_kinds),
                "login_age_s": round(t - chain.login_t, 1),
                "risky_logins": chain.logins,
                "steps": [
                    {
                        "step": step,
                        "after_login_s": round(offset, 1),
                        "count": count,
                        "weight": round(weight, 4),
                        "other_source": other,
                    }
                    for step, (offset, count, weight, other) in steps
                ],
            },
        )

    def _step_reason(self, step: str, offset: float, count: int, other: bool) -> str:
        source = " from another address" if other else ""
        if step in BURST_STEPS:
            text = BURST_STEPS[step].format(
                count=count, window=_span(self.burst_window)
            )
            return f"then {text}{source}"
        return f"then {_STEP_WORDS[step]} {_span(offset)} after the login{source}"

    # ---------------------------------------------------------------- state

    def get_state(self) -> dict[str, Any]:
        """Return the open chains, account histories and failure counts."""
        return {
            "chains": [[k, c.to_state()] for k, c in self._chains.items()],
            "history": [[k, h] for k, h in self._history.items()],
            "failures": self._failures.get_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._chains = LruDict(
            self.max_accounts, ((k, _Chain.from_state(c)) for k, c in state["chains"])
        )
        self._history = LruDict(
            self.max_accounts,
            ((k, [list(h[0]), list(h[1])]) for k, h in state["history"]),
        )
        self._failures.set_state(state["failures"])


def _step_of(event: EventBase) -> tuple[str | None, int]:
    """Name the chain step an event is, and how much it adds to a burst."""
    kind = type(event)
    if kind is PasswordChanged:
        via_recovery = event.via_recovery  # type: ignore[attr-defined]
        return ("password_reset" if via_recovery else "password_changed"), 1
    if kind is EmailChanged:
        return "email_changed", 1
    if kind is MfaChanged:
        return f"mfa_{event.change}", 1  # type: ignore[attr-defined]
    if kind is ApiTokenCreated:
        return "api_token_created", 1
    if kind is FileDownloaded:
        return "downloads", 1
    if kind is FileShared:
        return "shares", max(1, len(event.recipients))  # type: ignore[attr-defined]
    if kind is LinkCreated and event.public:  # type: ignore[attr-defined]
        return "public_links", 1
    return None, 0
