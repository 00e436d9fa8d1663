"""The entity graph: accounts linked through what they share, built from events.

Each event names an account and some *attributes* of it: the source address
and its /24 (/64), the device id, the user agent on that address, the hashes
of files uploaded, the URLs posted or linked, the recipients shared with, the
sign-up time bucket and the shape of the sign-up email. Two accounts are
linked when they share an attribute; the link is *lockstep* evidence when
both used it within ``lockstep_window`` seconds of each other (CopyCatch,
WWW 2013: same target, same time).

Memory is bounded three ways, with :class:`~trustwatch.features.windows.LruDict`:
attributes, accounts and account pairs are each capped, least recently used
evicted first. An attribute shared by more than ``hub_size`` accounts (a
carrier NAT, a popular URL) becomes a *hub*: it forgets its members, stops
linking, and weighs nothing, so it cannot glue the platform together. Below
that, an attribute's weight falls with the number of accounts that share it,
like IDF: ``hub_size / (hub_size + n)`` of its kind's weight.

All state is plain JSON (:meth:`EntityGraph.get_state`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from hashlib import blake2b
from typing import Any

from trustwatch.enrichment.ips import ip_prefix
from trustwatch.errors import ConfigError
from trustwatch.events.model import (
    AccountCreated,
    EventBase,
    FileDownloaded,
    FileShared,
    FileUploaded,
    LinkAccessed,
    LinkCreated,
    UrlPosted,
)
from trustwatch.features.windows import LruDict

__all__ = [
    "ATTRIBUTE_KINDS",
    "EntityGraph",
    "PairEvidence",
    "attribute_kind",
    "email_shape",
    "event_attributes",
]

#: Weight of one shared attribute of each kind, before its IDF factor, and the
#: evidence group it counts in (a link needs evidence from several groups).
ATTRIBUTE_KINDS: dict[str, tuple[float, str]] = {
    "ip": (1.0, "network"),
    "net": (0.5, "network"),
    "uaip": (1.0, "network"),
    "device": (2.0, "device"),
    "file": (1.5, "content"),
    "url": (1.5, "content"),
    "recipient": (1.0, "content"),
    "target": (0.5, "content"),
    "signup": (0.75, "signup"),
    "email": (0.75, "signup"),
}
_MAX_ATTRIBUTE_CHARS = 300
_RUN = re.compile(r"([a-z]+|[0-9]+|[^a-z0-9]+)")


def attribute_kind(attribute: str) -> str:
    """Return the kind of an attribute key (``"ip"`` for ``"ip:192.0.2.7"``)."""
    return attribute.split(":", 1)[0]


def email_shape(email: str) -> str:
    """Return the shape of an address: its local part's runs, and its domain.

    Letters become ``a`` and digits ``9`` with the run length, so
    ``"jsmith84@example.org"`` and ``"kjones17@example.org"`` share the shape
    ``"a6.9x2@example.org"`` — the pattern of a batch of generated sign-ups.
    Returns ``""`` for a value that is not an address.
    """
    local, sep, domain = email.strip().lower().rpartition("@")
    if not sep or not local or not domain:
        return ""
    parts = []
    for run in _RUN.findall(local):
        if run[0].isalpha():
            parts.append(f"a{len(run)}")
        elif run[0].isdigit():
            parts.append(f"9x{len(run)}")
        else:
            parts.append(run)
    return ".".join(parts) + "@" + domain


def _bounded(value: str) -> str:
    if len(value) <= _MAX_ATTRIBUTE_CHARS:
        return value
    return "h" + blake2b(value.encode(), digest_size=16).hexdigest()


def _network_attributes(ip: str, user_agent: str | None) -> tuple[str, ...]:
    """Return the ``ip``, ``net`` and ``uaip`` keys of an address and agent."""
    try:
        network = ip_prefix(ip)
    except ValueError:
        return ()
    if not network:
        return ()
    found = [f"ip:{ip}", f"net:{network}"]
    if user_agent:
        digest = blake2b(f"{user_agent}\x00{ip}".encode(), digest_size=12).hexdigest()
        found.append(f"uaip:{digest}")
    return tuple(a for a in found if not a.endswith(":"))


#: A stream repeats the same few address and agent pairs per account, and
#: deriving their keys (parsing the address, hashing the agent) costs more
#: than the rest of an event's attributes, so they are cached; agents longer
#: than ``_CACHED_AGENT_CHARS`` are not, so that the cache stays small.
_cached_network_attributes = lru_cache(maxsize=32_768)(_network_attributes)
_CACHED_AGENT_CHARS = 512


def event_attributes(event: EventBase, signup_bucket: float = 600.0) -> list[str]:
    """Return the attribute keys an event ties its account to.

    Parameters
    ----------
    event
        Any event; one without an account has no attributes.
    signup_bucket
        Width in seconds of the sign-up time buckets.

    Returns
    -------
    list of str
        Keys ``"kind:value"``, kinds from :data:`ATTRIBUTE_KINDS`.
    """
    if not event.account:
        return []
    ip = event.ip
    if ip:
        agent = event.user_agent
        if agent is None or len(agent) <= _CACHED_AGENT_CHARS:
            attributes = list(_cached_network_attributes(ip, agent))
        else:
            attributes = list(_network_attributes(ip, agent))
    else:
        attributes = []
    values: list[str] = []
    if event.device_id:
        values.append(f"device:{_bounded(event.device_id)}")
    kind = type(event)
    if kind is FileDownloaded or kind is LinkAccessed:
        values.append(f"target:{_bounded(event.file_id or '')}")  # type: ignore[attr-defined]
    elif kind is FileUploaded:
        if event.sha256:  # type: ignore[attr-defined]
            values.append(f"file:{event.sha256.lower()}")  # type: ignore[attr-defined]
    elif kind is UrlPosted or kind is LinkCreated:
        url = event.url  # type: ignore[attr-defined]
        if url:
            values.append(f"url:{_bounded(url.strip().split('#', 1)[0])}")
    elif kind is FileShared:
        values.extend(
            f"recipient:{_bounded(r.strip().lower())}"
            for r in event.recipients  # type: ignore[attr-defined]
            if r.strip()
        )
    elif kind is AccountCreated:
        bucket = int(event.ts.timestamp() // signup_bucket)
        values.append(f"signup:{bucket}")
        shape = email_shape(event.email or "")  # type: ignore[attr-defined]
        if shape:
            values.append(f"email:{_bounded(shape)}")
    for attribute in values:
        if attribute[-1] != ":":
            attributes.append(attribute)
    return attributes


@dataclass(frozen=True, slots=True)
class PairEvidence:
    """What two accounts share in lockstep, scored.

    Attributes
    ----------
    score
        Sum of the shared attributes' weights.
    groups
        Evidence groups the shared attributes fall in (``network``,
        ``device``, ``content``, ``signup``).
    attributes
        The shared attribute keys, with their current weights.
    """

    score: float
    groups: frozenset[str]
    attributes: dict[str, float]


class EntityGraph:
    """Accounts and the attributes they share, updated one event at a time.

    Parameters
    ----------
    hub_size
        An attribute shared by more accounts than this becomes a hub: it stops
        linking and weighs nothing.
    lockstep_window
        Two accounts' uses of an attribute at most this many seconds apart
        are lockstep evidence.
    retention
        An attribute member not seen for this many seconds is forgotten.
    signup_bucket
        Width in seconds of the sign-up time buckets.
    max_attributes, max_accounts, max_pairs
        Bounds on the attributes, accounts and linked pairs kept.
    max_attributes_per_account
        Most attributes remembered per account (the oldest go first).
    """

    def __init__(
        self,
        hub_size: int = 100,
        lockstep_window: float = 3600.0,
        retention: float = 7 * 86_400.0,
        signup_bucket: float = 600.0,
        max_attributes: int = 500_000,
        max_accounts: int = 200_000,
        max_pairs: int = 500_000,
        max_attributes_per_account: int = 256,
    ) -> None:
        if hub_size < 2:
            raise ConfigError(f"hub_size={hub_size}; hint: use at least 2")
        for label, value in (
            ("lockstep_window", lockstep_window),
            ("retention", retention),
            ("signup_bucket", signup_bucket),
        ):
            if not value > 0:
                raise ConfigError(f"{label}={value}; hint: use a positive duration")
        if retention < lockstep_window:
            raise ConfigError(
                f"retention={retention} is shorter than lockstep_window="
                f"{lockstep_window}; hint: keep members at least one window"
            )
        if min(max_attributes, max_accounts, max_pairs, max_attributes_per_account) < 1:
            raise ConfigError("every max_* bound must be at least 1")
        self.hub_size = hub_size
        self.lockstep_window = float(lockstep_window)
        self.retention = float(retention)
        self.signup_bucket = float(signup_bucket)
        self.max_attributes_per_account = max_attributes_per_account
        self.max_accounts = max_accounts
        # attribute -> {account: last use}; a hub's value is {} (it is in _hubs)
        self._members: LruDict[str, dict[str, float]] = LruDict(max_attributes)
        self._hubs: LruDict[str, int] = LruDict(max_attributes)
        # account -> {attribute: last use}, oldest first
        self._accounts: LruDict[str, dict[str, float]] = LruDict(max_accounts)
        # account -> first time seen
        self._first_seen: LruDict[str, float] = LruDict(max_accounts)
        # (a, b) with a < b -> {attribute: last lockstep time}
        self._pairs: LruDict[tuple[str, str], dict[str, float]] = LruDict(max_pairs)

    # ------------------------------------------------------------ updates

    def add_event(self, event: EventBase, t: float | None = None) -> list[str]:
        """Add an event's attributes to its account.

        Returns the accounts that became lockstep partners of the event's
        account through it (their pair evidence changed).
        """
        attributes = event_attributes(event, self.signup_bucket)
        if not attributes or not event.account:
            return []
        when = event.ts.timestamp() if t is None else t
        return self.add(event.account, attributes, when)

    def add(self, account: str, attributes: list[str], t: float) -> list[str]:
        """Tie ``account`` to ``attributes`` at time ``t``; return its new partners."""
        # Every event passes here, so the bounded maps' ordered dicts are used
        # directly: a read that marks a key used is ``get`` then
        # ``move_to_end`` (LruDict.touch), and writes of new keys go through
        # LruDict.put, which evicts.
        first_seen = self._first_seen
        if account in first_seen._data:
            first_seen._data.move_to_end(account)
        else:
            first_seen.put(account, t)
        accounts = self._accounts
        own = accounts._data.get(account)
        if own is None:
            own = {}
            accounts.put(account, own)
        else:
            accounts._data.move_to_end(account)
        hubs = self._hubs
        hub_counts = hubs._data
        members_map = self._members
        member_sets = members_map._data
        pairs = self._pairs
        pair_attributes = pairs._data
        horizon = t - self.retention
        window = self.lockstep_window
        hub_size = self.hub_size
        partners: dict[str, None] = {}
        for attribute in attributes:
            own.pop(attribute, None)
            own[attribute] = t
            hub = hub_counts.get(attribute)
            if hub is not None:
                hub_counts[attribute] = hub + 1
                hub_counts.move_to_end(attribute)
                continue
            members = member_sets.get(attribute)
            if members is None:
                members_map.put(attribute, {account: t})
                continue
            member_sets.move_to_end(attribute)
            members.pop(account, None)
            expired = False
            for seen in members.values():  # the oldest member's last use
                expired = seen < horizon
                break
            if expired:  # oldest first: expire from the front
                while members:
                    oldest = next(iter(members))
                    if members[oldest] >= horizon:
                        break
                    del members[oldest]
            if len(members) >= hub_size:
                del member_sets[attribute]
                hubs.put(attribute, len(members) + 1)
                continue
            # the account itself is not among the members until after this
            for other, seen in members.items():
                if abs(t - seen) > window:
                    continue
                key = (account, other) if account < other else (other, account)
                shared = pair_attributes.get(key)
                if shared is None:
                    pairs.put(key, {attribute: t})
                else:
                    pair_attributes.move_to_end(key)
                    shared[attribute] = t
                partners[other] = None
            members[account] = t
        limit = self.max_attributes_per_account
        while len(own) > limit:
            del own[next(iter(own))]
        return list(partners)

    # ------------------------------------------------------------ reads

    def attribute_size(self, attribute: str) -> int:
        """Return how many accounts share ``attribute`` (a hub's count grows on)."""
        hub = self._hubs.get(attribute)
        if hub is not None:
            return hub
        members = self._members.get(attribute)
        return len(members) if members else 0

    def is_hub(self, attribute: str) -> bool:
        """Return whether ``attribute`` has grown into a hub and stopped linking."""
        return attribute in self._hubs

    def attribute_weight(self, attribute: str) -> float:
        """Return the weight one shared ``attribute`` adds to a pair's score.

        The kind's weight times ``hub_size / (hub_size + n)`` for ``n``
        accounts sharing it: nearly the kind's full weight for an attribute of
        a few accounts, half of it at ``hub_size``, and zero for a hub. (A log
        IDF falls too fast: a ring of 60 accounts shares its files with 60.)
        """
        if attribute in self._hubs:
            return 0.0
        base, _ = ATTRIBUTE_KINDS.get(attribute_kind(attribute), (0.0, ""))
        size = max(1, self.attribute_size(attribute))
        return base * self.hub_size / (self.hub_size + size)

    def pair(self, a: str, b: str) -> PairEvidence:
        """Return the lockstep evidence between accounts ``a`` and ``b``."""
        key = (a, b) if a < b else (b, a)
        shared = self._pairs.get(key)
        if not shared:
            return PairEvidence(0, frozenset(), {})
        # attribute_weight for each shared attribute, inlined: a pair is
        # scored for every partner of every event
        hubs = self._hubs._data
        member_sets = self._members._data
        hub_size = self.hub_size
        weights: dict[str, float] = {}
        groups: list[str] = []
        for attribute in shared:
            if attribute in hubs:
                continue
            kind = ATTRIBUTE_KINDS.get(attribute.split(":", 1)[0])
            if kind is None:
                continue
            members = member_sets.get(attribute)
            size = len(members) if members else 0
            weight = kind[0] * hub_size / (hub_size + (size if size > 1 else 1))
            if weight > 0:
                weights[attribute] = weight
                groups.append(kind[1])
        return PairEvidence(sum(weights.values()), frozenset(groups), weights)

    def linked_pair(
        self, a: str, b: str, min_score: float, min_groups: int
    ) -> PairEvidence | None:
        """Return :meth:`pair` of ``a`` and ``b`` if it links them, else ``None``.

        The evidence links the two when its score is at least ``min_score``
        and it spans at least ``min_groups`` evidence groups. Most partners
        share only a network (an address and its /24), so the groups their
        shared attributes could reach at most are counted first, and the
        weights only looked up for pairs that could pass.
        """
        key = (a, b) if a < b else (b, a)
        shared = self._pairs.get(key) or {}
        if len(shared) < min_groups:  # each attribute adds at most one group
            return None
        if min_groups > 1:
            reachable: set[str] = set()
            for attribute in shared:
                kind = ATTRIBUTE_KINDS.get(attribute.split(":", 1)[0])
                if kind is not None:
                    reachable.add(kind[1])
            if len(reachable) < min_groups:
                return None
        evidence = self.pair(a, b)
        if evidence.score >= min_score and len(evidence.groups) >= min_groups:
            return evidence
        return None

    def partners(self, account: str) -> Iterator[str]:
        """Yield the accounts ``account`` has lockstep evidence with."""
        own = self._accounts.get(account) or {}
        seen: set[str] = set()
        for attribute in own:
            for other in self._members.get(attribute) or ():
                if other != account and other not in seen:
                    seen.add(other)
                    key = (account, other) if account < other else (other, account)
                    if key in self._pairs:
                        yield other

    def members(self, attribute: str) -> list[str]:
        """Return the accounts sharing ``attribute`` (none for a hub)."""
        return list(self._members.get(attribute) or ())

    def attributes(self, account: str) -> list[str]:
        """Return the attributes remembered for ``account``, oldest first."""
        return list(self._accounts.get(account) or ())

    def first_seen(self, account: str) -> float | None:
        """Return when the graph first saw ``account`` (epoch seconds), if kept."""
        return self._first_seen.get(account)

    def sizes(self) -> dict[str, int]:
        """Return how many attributes, hubs, accounts and pairs are kept."""
        return {
            "attributes": len(self._members),
            "hubs": len(self._hubs),
            "accounts": len(self._accounts),
            "pairs": len(self._pairs),
        }

    # ------------------------------------------------------------ state

    def get_state(self) -> dict[str, Any]:
        """Return the graph as plain JSON values, least recently used first.

        Saving a partition's state gathers this graph's hundreds of thousands
        of entries, so the entries are ``(key, value)`` pairs and the inner
        mappings are the graph's own, not copies: encode the state before the
        graph changes again.
        """
        return {
            "members": list(self._members.items()),
            "hubs": list(self._hubs.items()),
            "accounts": list(self._accounts.items()),
            "first_seen": list(self._first_seen.items()),
            "pairs": [(a, b, v) for (a, b), v in self._pairs.items()],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state`; bounds apply on restore."""

        def times(value: Any) -> dict[str, float]:
            if not isinstance(value, dict):
                raise TypeError(f"expected a mapping, got {type(value).__name__}")
            return {str(k): float(v) for k, v in value.items()}

        members = LruDict(
            self._members.max_keys, ((str(k), times(v)) for k, v in state["members"])
        )
        hubs = LruDict(
            self._hubs.max_keys, ((str(k), int(v)) for k, v in state["hubs"])
        )
        accounts = LruDict(
            self._accounts.max_keys,
            ((str(k), times(v)) for k, v in state["accounts"]),
        )
        first_seen = LruDict(
            self._first_seen.max_keys,
            ((str(k), float(v)) for k, v in state["first_seen"]),
        )
        pairs = LruDict(
            self._pairs.max_keys,
            (((str(a), str(b)), times(v)) for a, b, v in state["pairs"]),
        )
        self._members, self._hubs, self._accounts = members, hubs, accounts
        self._first_seen, self._pairs = first_seen, pairs
