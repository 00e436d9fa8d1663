"""The platform's users: who they are, where they log in from, what they own."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from random import Random

from trustwatch.enrichment.places import min_country_distance_km
from trustwatch.events.model import FileUploaded, LoginMethod
from trustwatch.simulation.catalog import (
    DESKTOP_USER_AGENTS,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    MOBILE_USER_AGENTS,
)
from trustwatch.simulation.ids import hex_token
from trustwatch.simulation.netblocks import COUNTRIES, Country

__all__ = ["Account", "CountryGroup", "Population", "Trip"]

_METHODS: tuple[LoginMethod, ...] = ("password", "sso", "passkey", "oauth")
_METHOD_WEIGHTS = (0.80, 0.10, 0.05, 0.05)
_COUNTRY_WEIGHTS = tuple(c.weight for c in COUNTRIES)
_RECENT_FILES = 8


@dataclass(frozen=True, slots=True)
class Trip:
    """A stretch of time an account logs in from abroad.

    The account leaves home at ``start`` and lands ``flight`` seconds later;
    it flies home at ``end``. It logs in from abroad between landing and
    ``end``, and not at all while in the air.
    """

    start: float
    end: float
    ip: str
    country: str
    flight: float = 0.0

    def abroad(self, t: float) -> bool:
        """Whether the account is abroad (landed, not yet flown home) at ``t``."""
        return self.start + self.flight <= t < self.end

    def in_the_air(self, t: float) -> bool:
        """Whether the account is on its way out or back at ``t``."""
        return (
            self.start <= t < self.start + self.flight
            or self.end <= t < self.end + self.flight
        )


class Account:
    """One user: identity, home network, devices, habits and recent files.

    ``devices`` holds ``(device_id, user_agent)`` pairs; ``files`` keeps the
    upload events of the most recent files only, so memory stays bounded on
    long runs.
    """

    __slots__ = (
        "account_id",
        "activity",
        "country",
        "devices",
        "email",
        "files",
        "ips",
        "method",
        "mfa",
        "trip",
    )

    def __init__(
        self,
        account_id: str,
        email: str,
        country: Country,
        ips: tuple[str, ...],
        devices: tuple[tuple[str, str], ...],
        *,
        mfa: bool,
        method: LoginMethod,
        activity: float,
        trip: Trip | None = None,
    ) -> None:
        self.account_id = account_id
        self.email = email
        self.country = country
        self.ips = ips
        self.devices = devices
        self.mfa = mfa
        self.method = method
        self.activity = activity
        self.trip = trip
        self.files: deque[FileUploaded] = deque(maxlen=_RECENT_FILES)

    def ip_at(self, t: float, rng: Random) -> str:
        """Return the address the account uses at time ``t``."""
        trip = self.trip
        if trip is not None and trip.abroad(t):
            return trip.ip
        r = rng.random()
        if r < 0.12:
            # Phone on mobile data: a fresh carrier address in the home country.
            return self.country.draw(rng)
        ips = self.ips
        return ips[int((r - 0.12) / 0.88 * len(ips))]


class CountryGroup:
    """Accounts of one country with cumulative activity weights for sampling."""

    __slots__ = ("accounts", "country", "cum_weights")

    def __init__(self, country: Country) -> None:
        self.country = country
        self.accounts: list[Account] = []
        self.cum_weights: list[float] = []

    def add(self, account: Account) -> None:
        """Append an account (its weight is its activity)."""
        last = self.cum_weights[-1] if self.cum_weights else 0.0
        self.accounts.append(account)
        self.cum_weights.append(last + account.activity)

    @property
    def total_activity(self) -> float:
        """Sum of the group's activity weights."""
        return self.cum_weights[-1] if self.cum_weights else 0.0


class Population:
    """All accounts of a run, grouped by home country.

    Parameters
    ----------
    rng
        Source of randomness for the accounts.
    size
        Number of accounts at the start of the run.
    start, end
        Simulated interval, in epoch seconds (trips fall inside it).
    mfa_share, travel_share
        Fractions of accounts with a second factor and with a trip abroad.
    """

    def __init__(
        self,
        rng: Random,
        size: int,
        start: float,
        end: float,
        *,
        mfa_share: float,
        travel_share: float,
    ) -> None:
        self._rng = rng
        self._start = start
        self._end = end
        self._mfa_share = mfa_share
        self._travel_share = travel_share
        self._next = itertools.count()
        self.accounts: list[Account] = []
        self.groups = [CountryGroup(c) for c in COUNTRIES]
        for _ in range(size):
            self.add_new()

    def add_new(self) -> Account:
        """Create one more account, register it and return it."""
        rng = self._rng
        idx = next(self._next)
        group = rng.choices(self.groups, weights=_COUNTRY_WEIGHTS)[0]
        account = Account(
            f"acct{idx:07d}",
            _email(rng, idx),
            group.country,
            tuple(group.country.draw(rng) for _ in range(rng.randint(1, 3))),
            _devices(rng),
            mfa=rng.random() < self._mfa_share,
            method=rng.choices(_METHODS, weights=_METHOD_WEIGHTS)[0],
            activity=rng.lognormvariate(0.0, 0.8),
            trip=self._trip(rng, group.country),
        )
        self.accounts.append(account)
        group.add(account)
        return account

    def reserve_id(self) -> str:
        """Return a fresh account id without adding an ordinary user.

        Attack code uses it for accounts the attacker signs up, which must
        never take part in ordinary activity.
        """
        return f"acct{next(self._next):07d}"

    def pick(self, rng: Random) -> Account:
        """Return an account chosen uniformly."""
        return self.accounts[rng.randrange(len(self.accounts))]

    def _trip(self, rng: Random, home: Country) -> Trip | None:
        if rng.random() >= self._travel_share:
            return None
        abroad = [c for c in COUNTRIES if c.code != home.code]
        dest = rng.choice(abroad)
        begin = rng.uniform(self._start, self._end)
        length = rng.uniform(1.0, 5.0) * 86_400.0
        return Trip(
            begin, begin + length, dest.draw(rng), dest.code, _flight(home, dest)
        )


def _flight(home: Country, dest: Country) -> float:
    """Return the seconds from leaving home to logging in abroad.

    Airport time plus the distance at a jet's 800 km/h, so no login pair of
    a trip is faster than a plane.
    """
    distance = min_country_distance_km(home.code, dest.code) or 0.0
    return (2.0 + distance / 800.0) * 3_600.0


def _email(rng: Random, idx: int) -> str:
    """Return a unique address; real users always have a dot in the local part."""
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    return f"{first}.{last}{idx}@{rng.choice(EMAIL_DOMAINS)}"


def _devices(rng: Random) -> tuple[tuple[str, str], ...]:
    desktop = (hex_token(rng, 64), rng.choice(DESKTOP_USER_AGENTS))
    mobile = (hex_token(rng, 64), rng.choice(MOBILE_USER_AGENTS))
    first, second = (desktop, mobile) if rng.random() < 0.6 else (mobile, desktop)
    return (first, second) if rng.random() < 0.5 else (first,)
