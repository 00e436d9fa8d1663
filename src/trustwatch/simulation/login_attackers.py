"""The three attackers of the login simulator: naive, stuffing and targeted.

Each attacker is a process the simulator wakes at its own times; a wake emits
a few login attempts and says when to wake next. Who the attackers are, and
the figures behind them, are told in :mod:`trustwatch.simulation.logins`:

- **naive**: has one victim's password and logs in from anywhere with
  anything: a fresh address of a random country (or of a hosting provider)
  and a random user agent on every login;
- **stuffing**: replays a leaked list of credentials against the login page
  from rented servers and proxies (a few hosting providers, some residential
  proxies abroad), with one to three user agents (its tools' own, or copies
  of current browsers'), through many accounts
  and many names that do not exist here; a small share of the pairs work;
- **targeted**: knows its victim: logs in from a home connection in the
  victim's country (often the victim's own ISP), during the victim's
  daytime, mostly with the victim's browser.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from random import Random
from typing import Protocol, TypeAlias

from trustwatch.enrichment.useragents import parse_user_agent
from trustwatch.events.model import Login
from trustwatch.simulation.catalog import (
    ATTACK_USER_AGENTS,
    DESKTOP_USER_AGENTS,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    MOBILE_USER_AGENTS,
)
from trustwatch.simulation.login_population import DAY, LoginUser, local_rate
from trustwatch.simulation.netblocks import COUNTRIES, HOSTING, Country, Netblock

__all__ = [
    "ATTACK_ORIGINS",
    "LoginProcess",
    "NaiveAttack",
    "StuffingCampaign",
    "TargetedAttack",
    "Timed",
]

Timed: TypeAlias = tuple[float, Login, str]
"""A login with its time in epoch seconds and its truth (``"legit"`` or a kind)."""


class LoginProcess(Protocol):
    """Anything the simulator wakes: a user, an attacker, the sign-up desk."""

    def step(self, t: float, out: list[Timed]) -> float | None:
        """Emit the logins of a wake at ``t`` (none before ``t``) into ``out``.

        Returns the next wake, or ``None`` when the process is done.
        """
        ...


def _origin(code: str, offset: int, *blocks: tuple[str, str]) -> Country:
    return Country(code, offset, 1.0, tuple(Netblock(c, n) for c, n in blocks))


ATTACK_ORIGINS: tuple[Country, ...] = (
    _origin("RU", 3, ("95.24.0.0/13", "PJSC VimpelCom")),
    _origin("CN", 8, ("116.224.0.0/12", "China Telecom"), ("27.8.0.0/13", "Unicom")),
    _origin("VN", 7, ("14.160.0.0/11", "VNPT")),
    _origin("ID", 7, ("36.64.0.0/11", "Telkom Indonesia")),
    _origin("TR", 3, ("78.160.0.0/11", "Turk Telekom")),
    _origin("NG", 1, ("102.88.0.0/14", "MTN Nigeria")),
    _origin("PK", 5, ("39.32.0.0/11", "PTCL")),
    _origin("EG", 2, ("41.32.0.0/12", "TE Data")),
    _origin("TH", 7, ("1.0.128.0/17", "TOT")),
    _origin("AR", -3, ("181.0.0.0/12", "Telecom Argentina")),
    _origin("PH", 8, ("49.144.0.0/13", "PLDT")),
    _origin("ZA", 2, ("41.112.0.0/12", "MTN South Africa")),
)
"""Residential blocks of countries where none of the simulated users lives.

Like :mod:`trustwatch.simulation.netblocks`, they are data only: real
allocations that the bundled GeoIP data places in the country named (checked
by the tests); nothing ever contacts them.
"""

_WORLD: tuple[Country, ...] = COUNTRIES + ATTACK_ORIGINS
_BROWSER_AGENTS: tuple[str, ...] = DESKTOP_USER_AGENTS + MOBILE_USER_AGENTS
_ANY_AGENT: tuple[str, ...] = _BROWSER_AGENTS + ATTACK_USER_AGENTS
_HOSTING_NETWORKS: dict[str, tuple[Netblock, ...]] = {}
for _block in HOSTING:
    _HOSTING_NETWORKS[_block.network] = (
        *_HOSTING_NETWORKS.get(_block.network, ()),
        _block,
    )


def _world_address(rng: Random) -> str:
    """A residential address of a country drawn uniformly (not by users)."""
    return rng.choice(_WORLD).draw(rng)


def _login(
    event_id: str,
    t: float,
    user: LoginUser | None,
    ip: str,
    user_agent: str,
    *,
    success: bool,
    username: str,
    failure: str | None = None,
) -> Login:
    return Login(
        event_id=event_id,
        ts=datetime.fromtimestamp(t, UTC),
        account=user.account_id if user is not None else None,
        ip=ip,
        user_agent=user_agent,
        success=success,
        username=username,
        failure_reason=failure,
    )


class NaiveAttack:
    """One victim's password used from random places with random agents.

    Parameters
    ----------
    rng
        Randomness of the run.
    users
        The users that exist so far (the victim is drawn at the first wake).
    next_id
        Hands out event ids.
    logins
        Shortest and longest number of logins into the victim's account.
    """

    def __init__(
        self,
        rng: Random,
        users: Sequence[LoginUser],
        next_id: Callable[[], str],
        logins: tuple[int, int] = (1, 3),
    ) -> None:
        self._rng = rng
        self._users = users
        self._next_id = next_id
        self._left = rng.randint(*logins)
        self._victim: LoginUser | None = None

    def step(self, t: float, out: list[Timed]) -> float | None:
        """Log into the victim's account once, from a new place."""
        rng = self._rng
        if self._victim is None:
            self._victim = rng.choice(self._users)
        victim = self._victim
        ip = (
            rng.choice(HOSTING).draw(rng) if rng.random() < 0.4 else _world_address(rng)
        )
        event = _login(
            self._next_id(),
            t,
            victim,
            ip,
            rng.choice(_ANY_AGENT),
            success=True,
            username=victim.email,
        )
        out.append((t, event, "naive"))
        self._left -= 1
        return t + rng.expovariate(1.0 / (6 * 3600.0)) if self._left > 0 else None


class TargetedAttack:
    """An attacker that knows its victim's country, ISP and browser.

    Parameters
    ----------
    rng, users, next_id, logins
        As for :class:`NaiveAttack`.
    same_isp, same_agent, same_family
        Chances the attacker's home connection is on the victim's ISP, that it
        sends the victim's exact user agent, and (otherwise) another agent of
        the victim's browser family.
    """

    def __init__(
        self,
        rng: Random,
        users: Sequence[LoginUser],
        next_id: Callable[[], str],
        logins: tuple[int, int] = (1, 3),
        *,
        same_isp: float = 0.4,
        same_agent: float = 0.5,
        same_family: float = 0.3,
    ) -> None:
        self._rng = rng
        self._users = users
        self._next_id = next_id
        self._left = rng.randint(*logins)
        self._odds = (same_isp, same_agent, same_family)
        self._victim: LoginUser | None = None
        self._ip = ""
        self._agent = ""

    def step(self, t: float, out: list[Timed]) -> float | None:
        """Log into the victim's account, during the victim's daytime."""
        rng = self._rng
        if self._victim is None:
            self._prepare(rng.choice(self._users))
        victim = self._victim
        assert victim is not None
        offset = victim.country.utc_offset
        if local_rate(t, offset) < 1.0:  # night at the victim's: wait for day
            return t + rng.uniform(1.0, 3.0) * 3600.0
        event = _login(
            self._next_id(),
            t,
            victim,
            self._ip,
            self._agent,
            success=True,
            username=victim.email,
        )
        out.append((t, event, "targeted"))
        self._left -= 1
        return t + rng.uniform(0.2, 2.0) * DAY if self._left > 0 else None

    def _prepare(self, victim: LoginUser) -> None:
        rng = self._rng
        same_isp, same_agent, same_family = self._odds
        self._victim = victim
        home = victim.home_block
        block = home if rng.random() < same_isp else rng.choice(victim.country.blocks)
        self._ip = block.draw(rng)
        agent = victim.primary_user_agent()
        draw = rng.random()
        if draw < same_agent:
            self._agent = agent
        elif draw < same_agent + same_family:
            family = parse_user_agent(agent).browser
            kin = [
                a
                for a in _BROWSER_AGENTS
                if a != agent and parse_user_agent(a).browser == family
            ]
            self._agent = rng.choice(kin) if kin else agent
        else:
            self._agent = rng.choice(_BROWSER_AGENTS)


class StuffingCampaign:
    """A leaked credential list replayed from rented servers and proxies.

    Parameters
    ----------
    rng, users, next_id
        As for :class:`NaiveAttack`.
    attempts
        Fewest and most login attempts of the campaign.
    success_rate
        Chance an attempt on an existing account has the right password.
    existing_share
        Share of attempts whose name is an account of this platform.
    proxy_share
        Share of the campaign's addresses that are residential proxies abroad
        rather than hosting servers.
    spoof_share
        Chance the campaign sends current browsers' user agents instead of
        its tools' own.
    """

    _BURST = 25

    def __init__(
        self,
        rng: Random,
        users: Sequence[LoginUser],
        next_id: Callable[[], str],
        attempts: tuple[int, int] = (800, 2000),
        *,
        success_rate: float = 0.02,
        existing_share: float = 0.5,
        proxy_share: float = 0.2,
        spoof_share: float = 0.5,
    ) -> None:
        self._rng = rng
        self._users = users
        self._next_id = next_id
        self._left = rng.randint(*attempts)
        self._success_rate = success_rate
        self._existing_share = existing_share
        self._proxy_share = proxy_share
        self._spoof_share = spoof_share
        self._pool: list[str] = []
        self._agents: list[str] = []
        self._gap = 1.0

    def _equip(self) -> None:
        """Rent the servers and proxies, and pick the user agents."""
        rng = self._rng
        proxy_share, spoof_share = self._proxy_share, self._spoof_share
        networks = rng.sample(sorted(_HOSTING_NETWORKS), k=rng.randint(1, 2))
        blocks = [b for name in networks for b in _HOSTING_NETWORKS[name]]
        self._pool = [
            _world_address(rng)
            if rng.random() < proxy_share
            else rng.choice(blocks).draw(rng)
            for _ in range(rng.randint(30, 200))
        ]
        # Half the tools send their own agent, half copy current browsers'.
        agents = _BROWSER_AGENTS if rng.random() < spoof_share else ATTACK_USER_AGENTS
        self._agents = rng.sample(agents, k=rng.randint(1, 3))
        self._gap = rng.uniform(1.0, 5.0)

    def step(self, t: float, out: list[Timed]) -> float | None:
        """Send the next burst of attempts."""
        rng = self._rng
        if not self._pool:
            self._equip()
        for _ in range(min(self._BURST, self._left)):
            out.append(self._attempt(rng, t))
            t += rng.expovariate(1.0 / self._gap)
        self._left -= self._BURST
        return t if self._left > 0 else None

    def _attempt(self, rng: Random, t: float) -> Timed:
        ip = rng.choice(self._pool)
        agent = rng.choice(self._agents)
        if rng.random() < self._existing_share:
            victim = rng.choice(self._users)
            success = rng.random() < self._success_rate
            event = _login(
                self._next_id(),
                t,
                victim,
                ip,
                agent,
                success=success,
                username=victim.email,
                failure=None if success else "bad_credentials",
            )
        else:
            # An underscore: no account here has it (theirs carry a dot).
            name = (
                f"{rng.choice(FIRST_NAMES)}_{rng.choice(LAST_NAMES)}"
                f"{rng.randrange(10_000)}@{rng.choice(EMAIL_DOMAINS)}"
            )
            event = _login(
                self._next_id(),
                t,
                None,
                ip,
                agent,
                success=False,
                username=name,
                failure="unknown_user",
            )
        return t, event, "stuffing"
