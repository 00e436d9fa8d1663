"""A login's attributes on two hierarchies, keyed for the risk model.

The login risk model (:mod:`trustwatch.loginmodel.model`) reads each login as
two chains of attributes, each level refining the one above it:

- the **network** chain: country → network (the AS, else the address
  prefix) → IP address;
- the **client** chain: operating system → device → browser → the full
  user-agent string.

Every level is keyed by its whole path (``DE / AS:Deutsche Telekom AG /
203.0.113.9``), so the same address under another country is another key
and counts at each level add up to the level above. Keys are stable 62-bit
integers (BLAKE2b of the path, the level in the low three bits), the same in
every process, so checkpoints restore anywhere; the readable values ride
along for reasons.

A value that is not known (no geolocation, a user agent the rules do not
recognise: ``"Other"``) still takes its place in the path as ``?``. At the
top of a chain (country, operating system) the ``?`` is a value like any
other, and so is a chain's absence (no valid source address, no or an empty
user agent: the top key :data:`ABSENT_KEYS`, nothing below): an account
whose logins always came from placed addresses, or always sent a browser's
user agent, finds such a login new, while one that never sent a user agent
finds it familiar. Below the top an unknown value (a desktop's device) is
skipped: the levels below it are conditioned on the path through it.

Geolocation and user-agent parsing are the costly steps, so
:class:`AttributeExtractor` caches the keyed chain per distinct address and
per distinct user-agent string, with a bound on each cache.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, NamedTuple, TypeVar

from trustwatch.enrichment.geo import GeoResolver
from trustwatch.enrichment.useragents import MAX_UA_CHARS, UNKNOWN, parse_user_agent
from trustwatch.events.model import EventBase
from trustwatch.features.context import EventContext

__all__ = [
    "ABSENT_KEYS",
    "CLIENT_LEVELS",
    "LEVELS",
    "LEVEL_LABELS",
    "NETWORK_LEVELS",
    "ROOT_KEYS",
    "UNKNOWN_TOP_KEYS",
    "AttributeExtractor",
    "LoginAttributes",
    "chain_keys",
]

#: The attribute levels, network chain first, then client chain.
LEVELS: Final = ("country", "network", "ip", "os", "device", "browser", "user_agent")
#: Level indices of the network chain, top first.
NETWORK_LEVELS: Final = (0, 1, 2)
#: Level indices of the client chain, top first.
CLIENT_LEVELS: Final = (3, 4, 5, 6)
#: How reasons name each level.
LEVEL_LABELS: Final = (
    "country",
    "network",
    "IP address",
    "operating system",
    "device",
    "browser",
    "user agent",
)

_K = TypeVar("_K")
_V = TypeVar("_V")
_ROOT_LEVEL = 7  # low bits of keys that are not attribute levels (chain roots)
_HASH_MASK = (1 << 59) - 1
_MISSING = "?"
_ABSENT = "\x00"  # the path token of a missing chain: no real value has it


def _key(path: str, level: int) -> int:
    digest = hashlib.blake2b(
        path.encode("utf-8", "surrogatepass"), digest_size=8
    ).digest()
    return (int.from_bytes(digest, "big") & _HASH_MASK) << 3 | level


#: The parent key of each chain's top level (network chain, client chain).
ROOT_KEYS: Final = (_key("network", _ROOT_LEVEL), _key("client", _ROOT_LEVEL))
#: The top key of a missing chain: no valid source address, no user agent.
ABSENT_KEYS: Final = (
    _key(f"network\x1f{_ABSENT}", NETWORK_LEVELS[0]),
    _key(f"client\x1f{_ABSENT}", CLIENT_LEVELS[0]),
)
#: The top key of an unknown top value: an address not placed, an agent
#: whose operating system the rules do not recognise.
UNKNOWN_TOP_KEYS: Final = (
    _key(f"network\x1f{_MISSING}", NETWORK_LEVELS[0]),
    _key(f"client\x1f{_MISSING}", CLIENT_LEVELS[0]),
)


def chain_keys(
    root: str, first_level: int, values: tuple[str | None, ...]
) -> tuple[int, ...]:
    """Key every level of one chain by its path from the chain's root.

    Parameters
    ----------
    root
        Name of the chain (``"network"`` or ``"client"``).
    first_level
        Index in :data:`LEVELS` of the chain's top level.
    values
        The chain's values, top first; ``None`` where unknown.

    Returns
    -------
    tuple of int
        One key per level, unique to the path down to it.
    """
    keys: list[int] = []
    path = root
    for offset, value in enumerate(values):
        path = f"{path}\x1f{_MISSING if value is None else value}"
        keys.append(_key(path, first_level + offset))
    return tuple(keys)


@dataclass(frozen=True, slots=True)
class LoginAttributes:
    """One login's attribute values and their path keys.

    Attributes
    ----------
    values
        One value per level of :data:`LEVELS`; ``None`` where unknown or absent.
    keys
        One path key per level. A chain the login does not have (no source
        address, no user agent) has :data:`ABSENT_KEYS` at its top and ``0``
        below.
    automation
        Whether the user agent names a script or tool rather than a browser.
    learn_keys
        The keys a learned login counts: each present chain's root and levels.
    evidence_keys
        The keys of the known network, address and user agent, which failed
        logins are counted against.
    """

    values: tuple[str | None, ...]
    keys: tuple[int, ...]
    automation: bool = False
    learn_keys: tuple[int, ...] = ()
    evidence_keys: tuple[int, ...] = ()

    @property
    def has_network(self) -> bool:
        """Whether the login has a (valid) source address."""
        return self.values[2] is not None

    @property
    def has_client(self) -> bool:
        """Whether the login has a (non-empty) user agent."""
        return self.values[6] is not None

    @classmethod
    def build(
        cls,
        *,
        country: str | None = None,
        network: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> LoginAttributes:
        """Build the attributes from plain values (parses the user agent).

        Parameters
        ----------
        country, network, ip
            Where the login came from; without ``ip`` the network chain is
            absent.
        user_agent
            The ``User-Agent`` header; without it the client chain is absent.

        Examples
        --------
        >>> a = LoginAttributes.build(country="DE", network="AS3320", ip="192.0.2.1")
        >>> a.values[:3], a.has_client
        (('DE', 'AS3320', '192.0.2.1'), False)
        """
        return _combine(_network_chain(country, network, ip), _client_chain(user_agent))


class _Chain(NamedTuple):
    """One chain of a login, keyed, with what learning it touches."""

    values: tuple[str | None, ...]
    keys: tuple[int, ...]
    learn_keys: tuple[int, ...]
    evidence_keys: tuple[int, ...]
    automation: bool = False


_NO_NETWORK: Final = _Chain(
    (None, None, None), (ABSENT_KEYS[0], 0, 0), (ROOT_KEYS[0], ABSENT_KEYS[0]), ()
)
_NO_CLIENT: Final = _Chain(
    (None, None, None, None),
    (ABSENT_KEYS[1], 0, 0, 0),
    (ROOT_KEYS[1], ABSENT_KEYS[1]),
    (),
)
#: Levels (within their chain) whose values failed logins are counted against.
_EVIDENCE_OFFSETS: Final = ((1, 2), (3,))


def _chain(
    chain: int, values: tuple[str | None, ...], automation: bool = False
) -> _Chain:
    first = (NETWORK_LEVELS, CLIENT_LEVELS)[chain][0]
    keys = chain_keys(("network", "client")[chain], first, values)
    evidence = tuple(keys[i] for i in _EVIDENCE_OFFSETS[chain] if values[i] is not None)
    return _Chain(values, keys, (ROOT_KEYS[chain], *keys), evidence, automation)


def _combine(network: _Chain, client: _Chain) -> LoginAttributes:
    return LoginAttributes(
        network.values + client.values,
        network.keys + client.keys,
        client.automation,
        network.learn_keys + client.learn_keys,
        network.evidence_keys + client.evidence_keys,
    )


def _network_chain(country: str | None, network: str | None, ip: str | None) -> _Chain:
    if not ip:
        return _NO_NETWORK
    return _chain(0, (country or None, network or None, ip))


def _client_chain(user_agent: str | None) -> _Chain:
    if not user_agent:
        return _NO_CLIENT
    ua = user_agent[:MAX_UA_CHARS]
    info = parse_user_agent(ua)
    values = (_known(info.os), _known(info.device), _known(info.browser), ua)
    return _chain(1, values, info.is_bot)


@lru_cache(maxsize=1024)
def _country_path(country: str | None) -> tuple[str, int]:
    """Return the network chain's path down to ``country``, and its key."""
    path = f"network\x1f{_path_token(country)}"
    return path, _key(path, NETWORK_LEVELS[0])


def _path_token(value: str | None) -> str:
    return _MISSING if value is None else value


def _known(family: str) -> str | None:
    return None if family == UNKNOWN else family


class AttributeExtractor:
    """Read a login's attributes from its context, caching per distinct value.

    Parameters
    ----------
    cache_size
        Most distinct addresses, and most distinct user agents, kept; as
        many (country, network) places and address and agent pairings.

    Notes
    -----
    The address and place caches hold what the context's geolocation said;
    they are emptied whenever a context brings another resolver. Each cache
    is first in, first out, in an :class:`~collections.OrderedDict` (O(1)
    eviction).
    """

    def __init__(self, cache_size: int = 65_536) -> None:
        self.cache_size = max(1, cache_size)
        self._geo: GeoResolver | None = None
        self._networks: OrderedDict[str, _Chain] = OrderedDict()
        self._clients: OrderedDict[str, _Chain] = OrderedDict()
        # the attributes per pair of cached chains (by identity)
        self._pairs: OrderedDict[
            tuple[int, int], tuple[_Chain, _Chain, LoginAttributes]
        ] = OrderedDict()
        # the country and network keys by (country, network): many addresses
        # share them, so a new address costs the hash of its own path only
        self._places: OrderedDict[
            tuple[str | None, str | None], tuple[str, int, int]
        ] = OrderedDict()

    def extract(self, event: EventBase, ctx: EventContext) -> LoginAttributes:
        """Return the attributes of ``event`` as ``ctx`` locates its source.

        Parameters
        ----------
        event
            A login (any event with ``ip`` and ``user_agent`` works).
        ctx
            Its context: the canonical source address and the geolocation.

        Returns
        -------
        LoginAttributes
            Missing or invalid fields give absent chains, never an error.
        """
        network = self._network(ctx)
        client = self._client(event.user_agent)
        # a source keeps its agent from login to login: reuse their pairing,
        # keyed by identity (each entry holds both chains, so neither id can
        # pass to another chain while the entry is kept)
        pair = (id(network), id(client))
        found = self._pairs.get(pair)
        if found is not None:
            return found[2]
        attrs = _combine(network, client)
        _bounded_put(self._pairs, pair, (network, client, attrs), self.cache_size)
        return attrs

    def _network(self, ctx: EventContext) -> _Chain:
        source = ctx.source()
        if not source:
            return _NO_NETWORK
        if ctx.geo is not self._geo:
            self._geo = ctx.geo
            self._networks.clear()
            self._places.clear()
            self._pairs.clear()
        found = self._networks.get(source)
        if found is None:
            info = ctx.location()
            country = (info.country if info is not None else None) or None
            network = ctx.network() or None
            place = self._places.get((country, network))
            if place is None:
                path, country_key = _country_path(country)
                path = f"{path}\x1f{_path_token(network)}"
                place = (path, country_key, _key(path, NETWORK_LEVELS[1]))
                _bounded_put(self._places, (country, network), place, self.cache_size)
            path, country_key, network_key = place
            keys = (
                country_key,
                network_key,
                _key(f"{path}\x1f{source}", NETWORK_LEVELS[2]),
            )
            found = _Chain(
                (country, network, source),
                keys,
                (ROOT_KEYS[0], *keys),
                keys[1:] if network is not None else keys[2:],
            )
            _bounded_put(self._networks, source, found, self.cache_size)
        return found

    def _client(self, user_agent: str | None) -> _Chain:
        if not user_agent:
            return _NO_CLIENT
        # keyed by the capped string, so a flood of long agents stays bounded
        ua = user_agent[:MAX_UA_CHARS]
        found = self._clients.get(ua)
        if found is None:
            found = _client_chain(ua)
            _bounded_put(self._clients, ua, found, self.cache_size)
        return found


def _bounded_put(cache: OrderedDict[_K, _V], key: _K, value: _V, size: int) -> None:
    if len(cache) >= size:
        cache.popitem(last=False)  # first in, first out
    cache[key] = value
