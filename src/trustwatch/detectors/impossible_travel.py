"""Impossible travel: one account logging in from places no plane could link.

For each account the detector remembers its last successful login that could
be placed (a country with known places, see
:mod:`trustwatch.enrichment.places`). When the next success comes from another
country, the shortest distance between the two countries, divided by the time
between the logins, is the speed a traveller would have needed; above
``max_speed_kmh`` (1,000 km/h by default, faster than an airliner's cruise) the
login raises an ``impossible_travel`` signal on the account. Country-level
places make the distance a lower bound: neighbouring countries are zero apart,
so only travel between distant countries fires.

A change of place that is not travel stays quiet:

- **the same address, or the same /24 (IPv4) or /64 (IPv6)** as the previous
  login: one network whose geolocation changed is not a journey;
- **the geolocation database moved the previous address**: it is looked up
  again, and when it now lies in the new country (or elsewhere) the fresh
  answer replaces the stored one;
- **a network the account already logged in from** (its AS, or its prefix when
  the AS is unknown) within ``known_days``: a user switching between a home
  line and a VPN or corporate exit it has used before flip-flops between
  countries all day. A VPN or hosting exit never seen for the account still
  fires, because an attacker behind a proxy looks exactly like that; the
  evidence names both networks for the analyst. A flagged login does not make
  its network known; the next login from it that raises nothing does, so a
  new VPN is flagged once, not on every switch;
- **a network that egresses far from its users**: satellite links, in-flight
  Wi-Fi, privacy relays and consumer VPNs (named in
  :mod:`trustwatch.enrichment.networks`). A login from one is neither
  compared nor kept as the account's last place, so the next login is
  compared with the last one that said where the user was. Hosting providers
  in general are not on that list: an attacker's proxy is one.

State is bounded: at most ``max_accounts`` accounts (least recently seen
evicted), and per account the last placed login and at most
``max_known_networks`` networks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trustwatch.detectors.base import Detector, Signal, threshold_score
from trustwatch.detectors.registry import register
from trustwatch.enrichment.geo import GeoInfo, GeoResolver
from trustwatch.enrichment.ips import ip_prefix
from trustwatch.enrichment.networks import network_kind
from trustwatch.enrichment.places import min_country_distance_km
from trustwatch.errors import ConfigError, InvalidIndicatorError
from trustwatch.events.model import EventBase, Login
from trustwatch.features.context import EventContext
from trustwatch.features.windows import LruDict

__all__ = ["ImpossibleTravelDetector"]

_DAY = 86_400.0
#: The shortest interval a speed is computed over: clocks of two log sources
#: disagree by seconds, and a zero interval would make any distance infinite.
_MIN_INTERVAL_S = 60.0

# Positions in an account's trail (a list, so a checkpoint is plain JSON).
_T, _IP, _PREFIX, _COUNTRY, _EVENT, _NETWORK, _KNOWN = range(7)


@register
class ImpossibleTravelDetector(Detector):
    """Flag successful logins of one account from places too far apart in time.

    Parameters
    ----------
    max_speed_kmh
        Fastest plausible travel; a faster one is impossible travel.
    known_days
        How long a network the account logged in from stays known, in days.
    max_known_networks
        Networks remembered per account (the least recently used go first).
    max_accounts
        Accounts remembered (the least recently seen are evicted).
    geo
        Resolver used when the event context carries none (tests, batch
        runs); the pipeline's own resolver wins when it has one.
    """

    name = "impossible_travel"
    version = "1"
    event_types = frozenset({Login})
    signal_kinds = ("impossible_travel",)

    def __init__(
        self,
        max_speed_kmh: float = 1000.0,
        known_days: float = 30.0,
        max_known_networks: int = 8,
        max_accounts: int = 200_000,
        geo: GeoResolver | None = None,
    ) -> None:
        if max_speed_kmh <= 0 or known_days <= 0:
            raise ConfigError(
                f"max_speed_kmh={max_speed_kmh} and known_days={known_days} must "
                "be positive; hint: 1000 km/h and 30 days are the defaults"
            )
        if max_known_networks < 1 or max_accounts < 1:
            raise ConfigError(
                f"max_known_networks={max_known_networks} and max_accounts="
                f"{max_accounts} must be at least 1"
            )
        self._params = {
            "max_speed_kmh": max_speed_kmh,
            "known_days": known_days,
            "max_known_networks": max_known_networks,
            "max_accounts": max_accounts,
        }
        self.max_speed_kmh = max_speed_kmh
        self.known_seconds = known_days * _DAY
        self.max_known_networks = max_known_networks
        self.max_accounts = max_accounts
        self.geo = geo
        self._trails: LruDict[str, list[Any]] = LruDict(max_accounts)

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Compare a successful login with the account's last placed one."""
        if type(event) is not Login or not event.success:
            return ()
        resolver = ctx.geo if ctx.geo is not None else self.geo
        if resolver is None:
            return ()  # nowhere to place the login
        account = event.account or event.username
        source = ctx.source()
        if not account or not source:
            return ()
        info = ctx.location() if ctx.geo is not None else _lookup(resolver, source)
        country = info.country if info is not None else None
        if not country or min_country_distance_km(country, country) is None:
            return ()  # a login that cannot be placed says nothing about travel
        if info is not None and network_kind(info.asn, info.as_name):
            return ()  # satellite, in-flight, relay or VPN: placed far from the user

        here: list[Any] = [ctx.t, source, ip_prefix(source), country, event.event_id]
        here.append(_network(info, here[_PREFIX]))
        trail = self._trails.touch(account)
        if trail is None:
            self._trails.put(account, [*here, {here[_NETWORK]: ctx.t}])
            return ()
        signals = self._compare(event, trail, here, resolver)
        self._advance(trail, here, flagged=bool(signals))
        return signals

    def _compare(
        self, event: Login, trail: list[Any], here: list[Any], resolver: GeoResolver
    ) -> list[Signal]:
        if here[_COUNTRY] == trail[_COUNTRY]:
            return []
        if here[_IP] == trail[_IP] or here[_PREFIX] == trail[_PREFIX]:
            return []  # one network whose geolocation changed
        before = _lookup(resolver, trail[_IP])
        previous = trail[_COUNTRY]
        if before is not None and before.country:
            previous = before.country  # the database may have moved it since
        if previous == here[_COUNTRY]:
            return []
        last_used = trail[_KNOWN].get(here[_NETWORK])
        if last_used is not None and here[_T] - last_used <= self.known_seconds:
            return []  # back on a network this account uses
        distance = min_country_distance_km(previous, here[_COUNTRY])
        if distance is None or distance <= 0:
            return []
        seconds = abs(here[_T] - trail[_T])
        speed = distance / (max(seconds, _MIN_INTERVAL_S) / 3600)
        if speed <= self.max_speed_kmh:
            return []
        return [self._signal(event, trail, here, previous, distance, seconds, speed)]

    def _signal(
        self,
        event: Login,
        trail: list[Any],
        here: list[Any],
        previous: str,
        distance: float,
        seconds: float,
        speed: float,
    ) -> Signal:
        minutes = seconds / 60
        apart = f"{seconds:.0f} s" if seconds < 120 else f"{minutes:,.0f} min"
        reason = (
            f"successful logins from {previous} and {here[_COUNTRY]} "
            f"{apart} apart: at least {distance:,.0f} km, "
            f"{speed:,.0f} km/h needed (limit {self.max_speed_kmh:,.0f} km/h)"
        )
        return self.signal(
            event,
            kind="impossible_travel",
            score=threshold_score(round(speed), round(self.max_speed_kmh)),
            entity_type="account",
            entity=event.account or event.username or "",
            reasons=(reason, f"new network {here[_NETWORK]} for this account"),
            evidence={
                "previous_country": previous,
                "country": here[_COUNTRY],
                "minutes": round(minutes, 1),
                "min_distance_km": round(distance),
                "speed_kmh": round(speed),
                "previous_ip": trail[_IP],
                "previous_network": trail[_NETWORK],
                "network": here[_NETWORK],
                "previous_event_id": trail[_EVENT],
            },
        )

    def _advance(self, trail: list[Any], here: list[Any], *, flagged: bool) -> None:
        """Make this login the account's last one; learn its network if not flagged."""
        known: dict[str, float] = trail[_KNOWN]
        if not flagged:
            known.pop(here[_NETWORK], None)
            known[here[_NETWORK]] = here[_T]
        horizon = here[_T] - self.known_seconds
        for network in [n for n, seen in known.items() if seen < horizon]:
            del known[network]
        while len(known) > self.max_known_networks:
            del known[next(iter(known))]
        if here[_T] >= trail[_T]:  # a late event does not replace a newer one
            trail[:_KNOWN] = here

    @property
    def evicted(self) -> int:
        """Accounts forgotten so far to stay within ``max_accounts``."""
        return self._trails.evicted

    def get_state(self) -> dict[str, Any]:
        """Return each account's last placed login and known networks."""
        return {
            "evicted": self.evicted,
            "accounts": [
                [account, *trail[:_KNOWN], list(map(list, trail[_KNOWN].items()))]
                for account, trail in self._trails.items()
            ],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._trails = LruDict(
            self.max_accounts,
            (
                (row[0], [*row[1 : 1 + _KNOWN], {net: float(t) for net, t in row[-1]}])
                for row in state["accounts"]
            ),
        )
        self._trails.evicted += int(state["evicted"])


def _lookup(resolver: GeoResolver, address: str) -> GeoInfo | None:
    try:
        return resolver.lookup(address)
    except InvalidIndicatorError:
        return None


def _network(info: GeoInfo | None, prefix: str) -> str:
    """Key a network by AS number, else AS name, else address prefix."""
    if info is not None and info.asn is not None:
        return f"AS{info.asn}"
    if info is not None and info.as_name:
        return f"AS:{info.as_name}"
    return prefix
