"""The login simulator: seeded, in time order, with three recognisable attackers."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest

from trustwatch.enrichment.geo import BundledGeo
from trustwatch.enrichment.useragents import parse_user_agent
from trustwatch.errors import ConfigError
from trustwatch.simulation.login_attackers import ATTACK_ORIGINS
from trustwatch.simulation.login_population import bump_browser_version
from trustwatch.simulation.logins import (
    ATTACK_KINDS,
    LabelledLogin,
    LoginSimulationConfig,
    iter_logins,
)
from trustwatch.simulation.netblocks import COUNTRIES

# Attack rates well above the defaults, so a small run has every kind.
BUSY = LoginSimulationConfig(
    accounts=400,
    days=10.0,
    warmup_days=4.0,
    seed=5,
    naive_per_day=0.02,
    targeted_per_day=0.02,
    stuffing_per_day=0.5,
    stuffing_attempts=(200, 400),
    stuffing_success=0.05,
)
HOSTING_NAMES = ("DIGITALOCEAN", "Hetzner", "OVH", "CHOOPA")


@pytest.fixture(scope="module")
def busy() -> list[LabelledLogin]:
    return list(iter_logins(BUSY))


@pytest.fixture(scope="module")
def geo() -> BundledGeo:
    return BundledGeo()


def _fingerprint(item: LabelledLogin) -> tuple[object, ...]:
    event = item.event
    return (event.event_id, event.ts, event.account, event.ip, event.user_agent,
            event.success, item.truth)  # fmt: skip


def test_one_seed_gives_one_stream(busy: list[LabelledLogin]) -> None:
    again = list(iter_logins(BUSY))
    assert [_fingerprint(i) for i in again] == [_fingerprint(i) for i in busy]
    other = itertools.islice(
        iter_logins(LoginSimulationConfig(accounts=400, seed=6)), 50
    )
    assert [_fingerprint(i) for i in other] != [_fingerprint(i) for i in busy[:50]]


def test_logins_come_in_time_order_with_unique_ids(busy: list[LabelledLogin]) -> None:
    times = [item.event.ts for item in busy]
    assert times == sorted(times)
    assert len({item.event.event_id for item in busy}) == len(busy)
    assert all(t.tzinfo is not None for t in times)


def test_attacks_only_after_the_warm_up_and_of_every_kind(
    busy: list[LabelledLogin],
) -> None:
    start = BUSY.measure_start
    attacks = [item for item in busy if item.truth != "legit"]
    assert {item.truth for item in attacks} == set(ATTACK_KINDS)
    assert min(item.event.ts for item in attacks) >= start
    assert min(item.event.ts for item in busy) < start  # history before it


def test_every_legit_login_names_its_account_and_no_device_cookie(
    busy: list[LabelledLogin],
) -> None:
    legit = [item.event for item in busy if item.truth == "legit"]
    assert all(e.account and e.username and e.ip and e.user_agent for e in legit)
    assert all(e.device_id is None for e in legit)
    failed = [e for e in legit if not e.success]
    assert 0 < len(failed) < 0.1 * len(legit)  # typos only
    assert {e.failure_reason for e in failed} == {"bad_credentials"}


def test_stuffing_sprays_many_names_from_hosting_with_few_agents(
    busy: list[LabelledLogin], geo: BundledGeo
) -> None:
    stuffing = [item.event for item in busy if item.truth == "stuffing"]
    unknown = [e for e in stuffing if e.account is None]
    assert unknown and all(e.failure_reason == "unknown_user" for e in unknown)
    assert all("_" in (e.username or "") and not e.success for e in unknown)
    hits = [e for e in stuffing if e.success]
    assert 0 < len(hits) < 0.1 * len(stuffing)
    hosted = sum(
        any(name in (geo.lookup(e.ip or "").as_name or "") for name in HOSTING_NAMES)
        for e in stuffing
    )
    assert hosted > 0.6 * len(stuffing)
    assert len({e.user_agent for e in stuffing}) < len(stuffing) / 50


def _home_countries(logins: list[LabelledLogin], geo: BundledGeo) -> dict[str, str]:
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for item in logins:
        if item.truth == "legit" and item.event.success:
            country = geo.lookup(item.event.ip or "").country or "?"
            seen[item.event.account or ""][country] += 1
    return {account: c.most_common(1)[0][0] for account, c in seen.items()}


def test_targeted_attackers_log_in_from_the_victims_country_and_browser(
    busy: list[LabelledLogin], geo: BundledGeo
) -> None:
    homes = _home_countries(busy, geo)
    agents: dict[str, set[str]] = defaultdict(set)
    for item in busy:
        if item.truth == "legit":
            agents[item.event.account or ""].add(
                parse_user_agent(item.event.user_agent).browser
            )
    targeted = [
        item.event
        for item in busy
        if item.truth == "targeted" and item.event.account in homes
    ]
    assert len(targeted) >= 20
    same_country = sum(geo.lookup(e.ip or "").country == homes[e.account or ""]
                       for e in targeted)  # fmt: skip
    same_family = sum(
        parse_user_agent(e.user_agent).browser in agents[e.account or ""]
        for e in targeted
    )
    assert same_country >= 0.9 * len(targeted)
    assert same_family >= 0.6 * len(targeted)
    assert all(e.success for e in targeted)


def test_naive_attackers_come_from_all_over(
    busy: list[LabelledLogin], geo: BundledGeo
) -> None:
    naive = [item.event for item in busy if item.truth == "naive"]
    countries = {geo.lookup(e.ip or "").country for e in naive}
    assert len(countries) >= 8
    assert len({e.user_agent for e in naive}) >= 10
    assert all(e.success for e in naive)


def test_legit_population_matches_its_stated_profile(geo: BundledGeo) -> None:
    config = LoginSimulationConfig(accounts=1500, days=30.0, seed=2)
    countries: dict[str, set[str]] = defaultdict(set)
    agents: dict[str, set[str]] = defaultdict(set)
    logins: Counter[str] = Counter()
    new_country = measured = 0
    for item in iter_logins(config):
        event = item.event
        if item.truth != "legit" or not event.success:
            continue
        account = event.account or ""
        country = geo.lookup(event.ip or "").country or "?"
        if event.ts >= config.measure_start:
            measured += 1
            new_country += country not in countries[account]
        countries[account].add(country)
        agents[account].add(event.user_agent or "")
        logins[account] += 1
    # Rare users: some accounts never log in during a month.
    assert 0.6 * config.accounts < len(logins) < 0.95 * config.accounts
    assert statistics.median(len(a) for a in agents.values()) in (1, 2, 3)
    assert statistics.median(len(c) for c in countries.values()) == 1
    travellers = sum(len(c) > 1 for c in countries.values())
    assert 0.01 * len(logins) < travellers < 0.2 * len(logins)
    # New countries among ordinary logins: travel, VPNs, first logins.
    assert 0.005 < new_country / measured < 0.08


def test_browser_updates_move_the_major_version() -> None:
    chrome = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36 Edg/141.0.0.0"
    )
    assert "Chrome/142.0.0.0" in bump_browser_version(chrome)
    assert "Edg/142.0.0.0" in bump_browser_version(chrome)
    safari = (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/26.0 Safari/605.1.15"
    )
    assert bump_browser_version(safari) == safari


def test_user_agents_update_during_a_long_run() -> None:
    config = LoginSimulationConfig(accounts=60, days=90.0, warmup_days=80.0, seed=4)
    versions: dict[str, set[str]] = defaultdict(set)
    for item in iter_logins(config):
        agent = item.event.user_agent or ""
        if item.truth == "legit" and "Chrome/" in agent and "Mobile" not in agent:
            versions[item.event.account or ""].add(agent.split("Chrome/")[1][:3])
    assert any(len(v) >= 3 for v in versions.values())


@pytest.mark.parametrize("origin", ATTACK_ORIGINS, ids=lambda c: c.code)
def test_attack_origins_geolocate_to_their_country(origin, geo: BundledGeo) -> None:
    from random import Random

    rng = Random(8)
    codes = Counter(geo.lookup(origin.draw(rng)).country for _ in range(200))
    assert codes[origin.code] >= 198
    assert origin.code not in {c.code for c in COUNTRIES}


def test_the_stream_is_lazy_on_a_long_run() -> None:
    config = LoginSimulationConfig(accounts=20, days=3650.0, warmup_days=1.0)
    first = next(iter_logins(config))
    assert first.event.ts >= config.start


@pytest.mark.parametrize(
    "changes",
    [
        {"accounts": 0},
        {"days": 0.0},
        {"days": 5.0, "warmup_days": 5.0},
        {"warmup_days": -1.0},
        {"start": datetime(2025, 1, 1)},
        {"naive_per_day": -0.1},
        {"stuffing_success": 1.5},
        {"stuffing_attempts": (10, 5)},
    ],
)
def test_bad_settings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        LoginSimulationConfig(**changes)  # type: ignore[arg-type]


def test_the_run_starts_when_told() -> None:
    start = datetime(2024, 6, 1, tzinfo=UTC)
    config = LoginSimulationConfig(accounts=30, days=2.0, warmup_days=1.0, start=start)
    times = [item.event.ts for item in iter_logins(config)]
    assert (
        times and start <= times[0] and times[-1] < datetime(2024, 6, 3, 1, tzinfo=UTC)
    )
