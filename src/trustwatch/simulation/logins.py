"""A seeded login simulator with three kinds of attacker, for judging login risk.

:func:`iter_logins` streams the :class:`~trustwatch.events.model.Login` events
of a platform's users, in time order, each with its truth: ``"legit"`` or the
attacker kind (``"naive"``, ``"stuffing"``, ``"targeted"``). It holds one small
record per user and per attacker at work, and the few logins not yet due, so
memory stays bounded however long it runs. One seed gives one stream. Attacks start
after a warm-up (:attr:`LoginSimulationConfig.warmup_days`) during which the
users build the history a risk model learns from.

Where the figures come from
---------------------------
Published, and used as stated:

- **The RBA dataset and its paper** (Wiefling, Jørgensen, Thunem, Lo Iacono,
  "Pump Up Password Security! Evaluating and Enhancing Risk-Based
  Authentication on a Real-World Large-Scale Online Service", ACM TOPS 26(1),
  2023, doi:10.1145/3546069; dataset README at github.com/das-group/rba-dataset):
  31.3 million login attempts by 3.3 million users of a Norwegian single
  sign-on service, February 2020 to February 2021; the attacker models are
  naive, VPN and targeted, the targeted one knowing the victim's location
  (city, country), browser and device; "the RBA behaviour strongly depends on
  the users' login frequencies". Our attacker kinds follow these models (the
  VPN attacker's hosting addresses are the stuffing kind's here).
- **Login frequency in the RBA dataset**, counted from the published files by
  a third party (luisbruno.site, "user analytics" case study; not a figure of
  the paper): 11,308,156 successful logins that are neither from an attack
  address nor takeovers, by 2,933,249 users over 375 days, or 3.9 successful
  logins per user and year on average, on 3.0 distinct days. Most users of
  that service log in rarely; our "rare" group logs in once every 60 days.
- **Features that matter** (Wiefling, Dürmuth, Lo Iacono, "What's in Score
  for Website Users", FC 2021: 780 users over 1.8 years, 247 features; and
  Wiefling, Lo Iacono, Dürmuth, "Is This Really You?", IFIP SEC 2019: eight
  large services): the IP address (with its ASN and region) and the user
  agent string are what risk-based authentication keys on, as in Freeman et
  al. (NDSS 2016). So a user here varies along exactly those: addresses,
  networks, countries and user agents. No device cookie is sent (``device_id``
  stays empty), as in the RBA dataset and in Freeman et al.'s features.
- **Browser updates**: Chrome (since version 94, 2021) and Firefox (since 2020)
  ship a major release every four weeks, so a user agent's version moves
  every 28 days; Safari's string changes only with the OS and is kept.

Assumptions (no published figure we could check; change them in
:class:`~trustwatch.simulation.login_population.LoginHabits` and
:class:`LoginSimulationConfig`):

- home countries follow the weights of
  :data:`~trustwatch.simulation.netblocks.COUNTRIES` (the RBA population is
  mostly Norwegian, which the bundled address blocks do not cover);
- login frequency: 30% rare users (one login in 60 days), 45% a few a month
  (median 0.12 a day), 25% about daily (median 0.8 a day), log-normal spread
  (sigma 0.5) within the two active groups, capped at 6 a day, with a daily
  rhythm in local time;
- networks: a home ISP address renewed every 14 days on average; phones use
  the home Wi-Fi or the mobile carrier (a fresh address of another ISP of the
  country each time) half of the time each; 35% of users also log in from an
  office whose addresses colleagues share; 3% use a commercial VPN (a hosting
  provider) for 40% of their logins. Most users show one to three networks (the
  report's profile gives the spread);
- devices: 1, 2 or 3 browsers (45%, 35%, 20%), one used three times as
  often as each other; a new device (or a fresh install) every 365 days on
  average; at most four kept;
- travel: 5% of users spend 2-10 days abroad in a 30-day span; abroad, 60%
  of phone logins keep the home carrier's address (home-routed roaming, the
  usual set-up), the others and all computer logins use the hotel's network;
- 4% of logins start with a mistyped password; 0.1% of the starting
  population signs up each day;
- attacks, after the warm-up: 0.2% of accounts per day get a naive attacker
  and 0.2% a targeted one, each logging in 1-3 times; two stuffing campaigns
  a day on average, 800-2,000 attempts each from 30-200 addresses (80% on one
  or two hosting providers, 20% residential proxies abroad) with 1-3 user
  agents, the tools' own in half the campaigns and copies of current
  browsers' in the other half; half the names exist here, and 2% of those
  attempts carry the right password (industry reports put stuffing success
  at 0.1-2%; the upper end gives enough successful attacks to measure). Thresholds
  come from the legitimate logins alone, so the attack volumes mostly set how
  many attack logins there are to count (though a model that learns from
  attack traffic, such as failures per network, sees more of it);
- a naive attacker uses a hosting address 40% of the time, else a residential
  one of a country drawn uniformly from 28 (the 16 where users live and 12
  where none does, :data:`~trustwatch.simulation.login_attackers.ATTACK_ORIGINS`); a
  targeted one uses the victim's ISP 40% of the time (another ISP of the
  victim's country otherwise), the victim's exact user agent 50% of the time
  and another of the same browser family 30% of the time.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from random import Random
from typing import Literal, NamedTuple, TypeAlias

from trustwatch.errors import ConfigError
from trustwatch.events.model import Login
from trustwatch.simulation.catalog import EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES
from trustwatch.simulation.ids import counter
from trustwatch.simulation.login_attackers import (
    LoginProcess,
    NaiveAttack,
    StuffingCampaign,
    TargetedAttack,
    Timed,
)
from trustwatch.simulation.login_population import DAY, LoginHabits, LoginUser

__all__ = [
    "ATTACK_KINDS",
    "LabelledLogin",
    "LoginHabits",
    "LoginSimulationConfig",
    "LoginTruth",
    "iter_logins",
]

LoginTruth: TypeAlias = Literal["legit", "naive", "stuffing", "targeted"]
"""What a simulated login really is."""

ATTACK_KINDS: tuple[LoginTruth, ...] = ("naive", "stuffing", "targeted")
"""The attacker kinds of the simulator, in report order."""


class LabelledLogin(NamedTuple):
    """A login and what it really is (``"legit"`` or the attacker kind)."""

    event: Login
    truth: str


@dataclass(frozen=True)
class LoginSimulationConfig:
    """What to simulate; the defaults are the figures of the module docstring.

    Parameters
    ----------
    accounts
        Users at the start.
    days
        Simulated days, warm-up included.
    warmup_days
        Days of ordinary logins only, before any attack.
    seed
        Seed of the run.
    start
        When the run starts (aware).
    habits
        How ordinary users log in.
    naive_per_day, targeted_per_day
        Accounts that get a naive or a targeted attacker, per account and day.
    stuffing_per_day
        Credential-stuffing campaigns per day.
    stuffing_attempts
        Fewest and most attempts of a campaign.
    stuffing_success
        Chance a stuffing attempt on an existing account has the password.

    Raises
    ------
    ConfigError
        When a value is out of range.
    """

    accounts: int = 10_000
    days: float = 30.0
    warmup_days: float = 14.0
    seed: int = 7
    start: datetime = datetime(2025, 3, 3, tzinfo=UTC)
    habits: LoginHabits = field(default_factory=LoginHabits)
    naive_per_day: float = 0.002
    targeted_per_day: float = 0.002
    stuffing_per_day: float = 2.0
    stuffing_attempts: tuple[int, int] = (800, 2000)
    stuffing_success: float = 0.02

    def __post_init__(self) -> None:
        if self.accounts < 1:
            raise ConfigError(f"accounts must be at least 1, got {self.accounts}")
        if not 0.0 < self.days <= 3650.0:
            raise ConfigError(f"days must be in (0, 3650], got {self.days}")
        if not 0.0 <= self.warmup_days < self.days:
            raise ConfigError(
                f"warmup_days {self.warmup_days} must be at least 0 and less than "
                f"days {self.days}; hint: simulate more days or a shorter warm-up"
            )
        if self.start.tzinfo is None:
            raise ConfigError("start must be an aware datetime")
        rates = (self.naive_per_day, self.targeted_per_day, self.stuffing_per_day)
        if min(rates) < 0.0 or not 0.0 <= self.stuffing_success <= 1.0:
            raise ConfigError(
                "attack rates must be >= 0 and stuffing_success in [0, 1]"
            )
        low, high = self.stuffing_attempts
        if not 1 <= low <= high:
            raise ConfigError(
                f"stuffing_attempts {self.stuffing_attempts} is not a range"
            )

    @property
    def measure_start(self) -> datetime:
        """When the warm-up ends and attacks may begin."""
        return datetime.fromtimestamp(
            self.start.timestamp() + self.warmup_days * DAY, UTC
        )


class _UserLogins:
    """The logins of one ordinary user, one wake per login."""

    __slots__ = ("_next_id", "_rng", "_typo_rate", "user")

    def __init__(
        self, user: LoginUser, rng: Random, next_id: Callable[[], str], typo: float
    ) -> None:
        self.user = user
        self._rng = rng
        self._next_id = next_id
        self._typo_rate = typo

    def step(self, t: float, out: list[Timed]) -> float | None:
        """Log in (after a typo, now and then) and return the next login's time."""
        rng, user = self._rng, self.user
        ip, agent = user.login_context(rng, t)
        if rng.random() < self._typo_rate:
            out.append((t, self._login(t, ip, agent, success=False), "legit"))
            t += rng.uniform(3.0, 25.0)
        out.append((t, self._login(t, ip, agent, success=True), "legit"))
        return user.next_login(rng, t)

    def _login(self, t: float, ip: str, agent: str, *, success: bool) -> Login:
        return Login(
            event_id=self._next_id(),
            ts=datetime.fromtimestamp(t, UTC),
            account=self.user.account_id,
            ip=ip,
            user_agent=agent,
            success=success,
            username=self.user.email,
            failure_reason=None if success else "bad_credentials",
        )


class _Run:
    """The state of one simulation: users, processes and logins not yet due."""

    def __init__(self, config: LoginSimulationConfig) -> None:
        self.config = config
        self.rng = Random(config.seed)
        self.next_id = counter(f"login-{config.seed}-")
        self.users: list[LoginUser] = []
        self.t0 = config.start.timestamp()
        self.end = self.t0 + config.days * DAY
        self._span = config.days * DAY
        self._offices: dict[str, list[str]] = {}
        self._seq = itertools.count()
        self.processes: list[tuple[float, int, LoginProcess]] = []

    def spawn(self, process: LoginProcess, wake: float) -> None:
        """Wake ``process`` at ``wake``."""
        heapq.heappush(self.processes, (wake, next(self._seq), process))

    def add_user(self, t: float) -> LoginUser:
        """Create a user whose story starts at ``t``."""
        rng = self.rng
        index = len(self.users)
        email = (
            f"{rng.choice(FIRST_NAMES)}.{rng.choice(LAST_NAMES)}{index}"
            f"@{rng.choice(EMAIL_DOMAINS)}"
        )
        user = LoginUser(
            f"acct{index:07d}",
            email,
            rng,
            self.config.habits,
            t,
            self._span,
            self._offices,
        )
        self.users.append(user)
        return user

    def user_process(self, user: LoginUser) -> _UserLogins:
        """The process that logs ``user`` in."""
        typo = self.config.habits.typo_rate
        return _UserLogins(user, self.rng, self.next_id, typo)

    def schedule_attacks(self) -> None:
        """Start the arrivals of each attacker kind at the end of the warm-up."""
        config, rng = self.config, self.rng
        begin = self.t0 + config.warmup_days * DAY
        kinds: list[tuple[float, Callable[[], LoginProcess]]] = [
            (
                config.naive_per_day * config.accounts,
                lambda: NaiveAttack(rng, self.users, self.next_id),
            ),
            (
                config.targeted_per_day * config.accounts,
                lambda: TargetedAttack(rng, self.users, self.next_id),
            ),
            (
                config.stuffing_per_day,
                lambda: StuffingCampaign(
                    rng,
                    self.users,
                    self.next_id,
                    config.stuffing_attempts,
                    success_rate=config.stuffing_success,
                ),
            ),
        ]
        for per_day, build in kinds:
            if per_day > 0.0:
                arrivals = _Arrivals(self, per_day, build)
                self.spawn(arrivals, begin + rng.expovariate(per_day / DAY))


class _Arrivals:
    """Attackers of one kind arriving as a Poisson process; each starts at once."""

    def __init__(
        self, run: _Run, per_day: float, build: Callable[[], LoginProcess]
    ) -> None:
        self._run = run
        self._rate = per_day / DAY
        self._build = build

    def step(self, t: float, out: list[Timed]) -> float | None:
        """Start one attacker now and return the next arrival."""
        self._run.spawn(self._build(), t)
        return t + self._run.rng.expovariate(self._rate)


class _Signups:
    """New users arriving at a steady rate; each logs in on arrival."""

    def __init__(self, run: _Run, per_day: float) -> None:
        self._run = run
        self._mean_gap = DAY / per_day

    def step(self, t: float, out: list[Timed]) -> float | None:
        """Add one user, let it log in now, and return the next arrival."""
        run = self._run
        run.spawn(run.user_process(run.add_user(t)), t)
        return t + run.rng.expovariate(1.0 / self._mean_gap)


def iter_logins(config: LoginSimulationConfig | None = None) -> Iterator[LabelledLogin]:
    """Stream the simulated logins in time order, each with its truth.

    Parameters
    ----------
    config
        What to simulate; the defaults otherwise.

    Yields
    ------
    LabelledLogin
        Logins in non-decreasing time; failed ones included (typos, stuffing).

    Examples
    --------
    >>> config = LoginSimulationConfig(accounts=50, days=3.0, warmup_days=1.0)
    >>> first = next(iter_logins(config))
    >>> first.truth, first.event.success in (True, False)
    ('legit', True)
    """
    run = _Run(config or LoginSimulationConfig())
    rng = run.rng
    for _ in range(run.config.accounts):
        user = run.add_user(run.t0)
        run.spawn(run.user_process(user), user.next_login(rng, run.t0))
    signups = run.config.habits.signups_per_day * run.config.accounts
    if signups > 0.0:
        run.spawn(_Signups(run, signups), run.t0 + rng.expovariate(signups / DAY))
    run.schedule_attacks()
    return _drive(run)


def _drive(run: _Run) -> Iterator[LabelledLogin]:
    """Wake processes in time order; release each login once nothing can precede it."""
    pending: list[tuple[float, int, Login, str]] = []
    produced: list[Timed] = []
    order = itertools.count()
    processes = run.processes
    while processes and processes[0][0] < run.end:
        wake, _, process = heapq.heappop(processes)
        while pending and pending[0][0] <= wake:
            _, _, event, truth = heapq.heappop(pending)
            yield LabelledLogin(event, truth)
        following = process.step(wake, produced)
        for t, event, truth in produced:
            heapq.heappush(pending, (t, next(order), event, truth))
        produced.clear()
        if following is not None:
            run.spawn(process, following)
    while pending:
        _, _, event, truth = heapq.heappop(pending)
        yield LabelledLogin(event, truth)
