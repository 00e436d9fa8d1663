"""The simulated users of the login simulator: homes, devices, habits and trips.

Each :class:`LoginUser` carries what decides where and with what it logs in:
a home ISP address that its provider renews now and then, a mobile carrier
whose addresses change on every connection, sometimes an office network
shared with colleagues or a commercial VPN, one to three devices whose
browsers update themselves, and sometimes a trip abroad. The figures behind
the draws, and where they come from, are in :mod:`trustwatch.simulation.logins`.
Changes (a renewed address, a browser update, a new device) are applied
lazily, when the user next logs in, so a user costs nothing between logins.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from random import Random

from trustwatch.simulation.benign import DIURNAL
from trustwatch.simulation.catalog import DESKTOP_USER_AGENTS, MOBILE_USER_AGENTS
from trustwatch.simulation.netblocks import COUNTRIES, HOSTING, Country, Netblock

__all__ = [
    "DAY",
    "LoginHabits",
    "LoginUser",
    "Trip",
    "bump_browser_version",
    "country_by_code",
    "local_rate",
]

DAY = 86_400.0
"""Seconds in a day."""

_PEAK = max(DIURNAL)
_COUNTRY_WEIGHTS = tuple(country.weight for country in COUNTRIES)
_BY_CODE = {country.code: country for country in COUNTRIES}
# Browser tokens whose major version moves on every release.
_VERSIONED = re.compile(r"(Chrome/|Edg/|EdgA/|CriOS/|Firefox/|rv:)(\d+)")
_OFFICE_POOL = 60
_MAX_DEVICES = 4


def country_by_code(code: str) -> Country:
    """Return the home country with ISO code ``code``."""
    return _BY_CODE[code]


def local_rate(t: float, utc_offset: int) -> float:
    """Return the relative login rate at ``t`` for a user ``utc_offset`` hours east."""
    return DIURNAL[(int(t // 3600.0) + utc_offset) % 24]


def bump_browser_version(user_agent: str) -> str:
    """Return ``user_agent`` one browser release later.

    Chrome, Edge and Firefox move their major version on each release (every
    four weeks); Safari's string is left alone, since it changes only with
    the operating system.

    Examples
    --------
    >>> bump_browser_version("Mozilla/5.0 (X11; rv:144.0) Gecko/20100101 Firefox/144.0")
    'Mozilla/5.0 (X11; rv:145.0) Gecko/20100101 Firefox/145.0'
    """
    return _VERSIONED.sub(lambda m: f"{m.group(1)}{int(m.group(2)) + 1}", user_agent)


@dataclass(frozen=True)
class LoginHabits:
    """How ordinary users log in; see :mod:`trustwatch.simulation.logins`.

    Parameters
    ----------
    rare_share, daily_share
        Shares of users who log in about once every two months, and about
        daily; the rest log in a few times a month.
    rare_rate, monthly_rate, daily_rate
        Median logins per day of each group (spread log-normally around it,
        except for the rare group).
    max_rate
        Cap on one user's logins per day.
    typo_rate
        Chance a login starts with a mistyped password.
    office_share
        Share of users who also log in from an office network.
    vpn_share, vpn_use
        Share of users with a commercial VPN, and the share of their logins
        that go through it.
    travel_share
        Share of users who travel abroad in a 30-day span.
    trip_days
        Shortest and longest trip, in days.
    roaming_share
        Share of phone logins abroad that keep the home carrier's address
        (home-routed roaming).
    home_ip_days
        Mean days a home ISP address lasts before the provider renews it.
    new_device_days
        Mean days between a user's new devices (or fresh browser installs).
    release_days
        Days between browser releases.
    signups_per_day
        New users per day, as a share of the starting population.
    """

    rare_share: float = 0.30
    daily_share: float = 0.25
    rare_rate: float = 1.0 / 60.0
    monthly_rate: float = 0.12
    daily_rate: float = 0.8
    max_rate: float = 6.0
    typo_rate: float = 0.04
    office_share: float = 0.35
    vpn_share: float = 0.03
    vpn_use: float = 0.4
    travel_share: float = 0.05
    trip_days: tuple[float, float] = (2.0, 10.0)
    roaming_share: float = 0.6
    home_ip_days: float = 14.0
    new_device_days: float = 365.0
    release_days: float = 28.0
    signups_per_day: float = 0.001


@dataclass(frozen=True, slots=True)
class Trip:
    """Days a user spends abroad, and the hotel network it uses there."""

    start: float
    end: float
    country: Country
    hotel_ip: str


class _Device:
    """One browser on one device, and when it next updates itself."""

    __slots__ = ("mobile", "next_release", "user_agent", "weight")

    def __init__(self, user_agent: str, mobile: bool, weight: float, release: float):
        self.user_agent = user_agent
        self.mobile = mobile
        self.weight = weight
        self.next_release = release


class LoginUser:
    """One account holder: where it logs in from, with what, and how often.

    Parameters
    ----------
    account_id, email
        The account and the name it logs in with.
    rng
        Randomness for the user's set-up and later changes.
    habits
        The population's habits.
    t
        When the user's story starts (epoch seconds).
    span
        Seconds the simulation runs (scales the chance of a trip).
    office_pools
        Office addresses per country, shared by the users who work there.
    """

    __slots__ = (
        "_habits",
        "account_id",
        "carrier",
        "country",
        "devices",
        "email",
        "home_block",
        "home_expires",
        "home_ip",
        "last_login",
        "office_ip",
        "rate",
        "trip",
        "vpn",
    )

    def __init__(
        self,
        account_id: str,
        email: str,
        rng: Random,
        habits: LoginHabits,
        t: float,
        span: float,
        office_pools: dict[str, list[str]],
    ) -> None:
        self._habits = habits
        self.account_id = account_id
        self.email = email
        self.country = rng.choices(COUNTRIES, weights=_COUNTRY_WEIGHTS)[0]
        self.home_block = rng.choice(self.country.blocks)
        self.home_ip = self.home_block.draw(rng)
        self.home_expires = t + rng.expovariate(1.0 / (habits.home_ip_days * DAY))
        self.carrier = _other_block(rng, self.country, self.home_block)
        self.rate = _login_rate(rng, habits)
        self.devices = _devices(rng, habits, t)
        pool = office_pools.setdefault(
            self.country.code,
            [self.country.draw(rng) for _ in range(_OFFICE_POOL)],
        )
        self.office_ip = (
            rng.choice(pool) if rng.random() < habits.office_share else None
        )
        self.vpn: Netblock | None = None
        if rng.random() < habits.vpn_share:
            self.vpn = rng.choice(HOSTING)
        self.trip = _trip(rng, habits, self.country, t, span)
        self.last_login = t

    def next_login(self, rng: Random, t: float) -> float:
        """Return the time of the next login after ``t``.

        A Poisson process at the user's rate, shaped by the hour of day in
        its home country (thinning against the busiest hour).
        """
        peak = self.rate * _PEAK / DAY
        offset = self.country.utc_offset
        while True:
            t += rng.expovariate(peak)
            if rng.random() * _PEAK < local_rate(t, offset):
                return t

    def primary_user_agent(self) -> str:
        """Return the user agent of the device the user logs in with most."""
        return max(self.devices, key=lambda d: d.weight).user_agent

    def login_context(self, rng: Random, t: float) -> tuple[str, str]:
        """Return the address and user agent of a login at ``t``.

        Pending changes (a renewed home address, browser updates, a new
        device) are applied first.
        """
        self._catch_up(rng, t)
        device = rng.choices(self.devices, weights=[d.weight for d in self.devices])[0]
        return self._address(rng, t, device), device.user_agent

    def _address(self, rng: Random, t: float, device: _Device) -> str:
        habits = self._habits
        trip = self.trip
        if trip is not None and trip.start <= t < trip.end:
            if device.mobile and rng.random() < habits.roaming_share:
                return self.carrier.draw(rng)
            return trip.hotel_ip
        if self.vpn is not None and rng.random() < habits.vpn_use:
            return self.vpn.draw(rng)
        if device.mobile:
            return self.carrier.draw(rng) if rng.random() < 0.5 else self.home_ip
        if self.office_ip is not None and _working_hours(t, self.country.utc_offset):
            return self.office_ip
        return self.home_ip

    def _catch_up(self, rng: Random, t: float) -> None:
        habits = self._habits
        while self.home_expires <= t:
            self.home_ip = self.home_block.draw(rng)
            self.home_expires += rng.expovariate(1.0 / (habits.home_ip_days * DAY))
        for device in self.devices:
            while device.next_release <= t:
                device.user_agent = bump_browser_version(device.user_agent)
                device.next_release += habits.release_days * DAY
        elapsed = t - self.last_login
        self.last_login = t
        if rng.random() < 1.0 - math.exp(-elapsed / (habits.new_device_days * DAY)):
            self.devices.append(_new_device(rng, habits, t, weight=1.0))
            if len(self.devices) > _MAX_DEVICES:
                del self.devices[1]  # the oldest device besides the main one


def _other_block(rng: Random, country: Country, home: Netblock) -> Netblock:
    """A block of another ISP of the same country (the mobile carrier)."""
    others = [b for b in country.blocks if b.network != home.network]
    return rng.choice(others or list(country.blocks))


def _login_rate(rng: Random, habits: LoginHabits) -> float:
    group = rng.random()
    if group < habits.rare_share:
        return habits.rare_rate
    median = (
        habits.daily_rate if group > 1.0 - habits.daily_share else habits.monthly_rate
    )
    return min(habits.max_rate, median * rng.lognormvariate(0.0, 0.5))


def _new_device(rng: Random, habits: LoginHabits, t: float, weight: float) -> _Device:
    mobile = rng.random() < 0.45
    user_agent = rng.choice(MOBILE_USER_AGENTS if mobile else DESKTOP_USER_AGENTS)
    release = t + rng.uniform(0.0, habits.release_days) * DAY
    return _Device(user_agent, mobile, weight, release)


def _devices(rng: Random, habits: LoginHabits, t: float) -> list[_Device]:
    count = rng.choices((1, 2, 3), weights=(0.45, 0.35, 0.20))[0]
    devices = [_new_device(rng, habits, t, weight=3.0)]
    devices.extend(_new_device(rng, habits, t, weight=1.0) for _ in range(count - 1))
    return devices


def _trip(
    rng: Random, habits: LoginHabits, home: Country, t: float, span: float
) -> Trip | None:
    if rng.random() >= habits.travel_share * span / (30.0 * DAY):
        return None
    abroad = [c for c in COUNTRIES if c.code != home.code]
    country = rng.choices(abroad, weights=[c.weight for c in abroad])[0]
    start = t + rng.uniform(0.0, span)
    length = rng.uniform(*habits.trip_days) * DAY
    return Trip(start, start + length, country, country.draw(rng))


def _working_hours(t: float, utc_offset: int) -> bool:
    local = t + utc_offset * 3600.0
    weekday = int(local // DAY + 3) % 7  # the epoch fell on a Thursday
    return weekday < 5 and 8 <= int(local // 3600.0) % 24 < 18
