"""Speed of the login risk model, next to the enrichment it needs, in one run.

Simulates a platform (``trustwatch.simulation``) until it has ``--logins``
login attempts (benign logins, brute force and credential stuffing mixed
in), then times on one core, over the same logins in stream order:

1. ``dict update``: build each login's context and count it in a plain dict
   keyed by account and address, the floor of any per-login Python work;
2. ``enrichment``: build the context, geolocate the source (country and
   network, bundled offline data) and parse the user agent, with their
   caches warm: what any login model must pay before it scores;
3. ``login_risk assess``: :meth:`LoginRiskDetector.assess` on a fresh
   detector (attribute extraction with its own caches, scoring, learning);
4. ``... evicting``: the same with every bound a fraction of what the run
   needs (accounts, population paths, failure windows, caches), so that
   nearly every login evicts: the cost of the least-recently-used tables
   once full, which must stay O(1).

Each is timed ``--repeat`` times and the best run counts (the machine may be
shared).

It prints logins per second per core for each, the cost per login, the
model's cost over the enrichment, and what the model's state kept.

    python3 benchmarks/bench_login_risk.py --logins 200000
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable

from trustwatch.detectors.login_risk import LoginRiskDetector
from trustwatch.enrichment.geo import BundledGeo, GeoResolver
from trustwatch.enrichment.useragents import parse_user_agent
from trustwatch.events.model import Login
from trustwatch.features.context import EventContext
from trustwatch.simulation import SimulationConfig, iter_events


def simulated_logins(count: int, seed: int) -> list[Login]:
    """Return the first ``count`` login attempts of a large simulated platform."""
    # the simulator makes about 1.3 logins per account per day
    config = SimulationConfig(seed=seed, accounts=max(2000, count // 4), days=4.0)
    logins: list[Login] = []
    for event in iter_events(config):
        if type(event) is Login:
            logins.append(event)
            if len(logins) >= count:
                break
    return logins


def dict_update(logins: list[Login], geo: GeoResolver) -> None:
    """Count each login per account and address in a dict."""
    counts: dict[tuple[str | None, str], int] = {}
    for event in logins:
        ctx = EventContext(event, geo)
        key = (event.account, ctx.source())
        counts[key] = counts.get(key, 0) + 1


def enrichment(logins: list[Login], geo: GeoResolver) -> None:
    """Geolocate each login's source and parse its user agent."""
    for event in logins:
        ctx = EventContext(event, geo)
        ctx.location()
        ctx.network()
        parse_user_agent(event.user_agent)


def assess_all(
    logins: list[Login], geo: GeoResolver, **bounds: int
) -> LoginRiskDetector:
    """Assess every login with a fresh detector (``bounds`` its sizes); return it."""
    detector = LoginRiskDetector(**bounds)
    assess = detector.assess
    for event in logins:
        assess(event, EventContext(event, geo))
    return detector


def timed(step: Callable[[], object], repeat: int) -> float:
    """Return the fewest seconds ``step`` takes in ``repeat`` runs."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many")
    args = parser.parse_args()

    logins = simulated_logins(args.logins, args.seed)
    n = len(logins)
    accounts = len({e.account for e in logins if e.account})
    failed = sum(not e.success for e in logins)
    print(f"logins: {n:,} ({failed:,} failed) for {accounts:,} accounts")

    geo = BundledGeo()
    enrichment(logins, geo)  # loads the geo data and warms the lookup caches
    floor = timed(lambda: dict_update(logins, geo), args.repeat)
    base = timed(lambda: enrichment(logins, geo), args.repeat)
    model = timed(lambda: assess_all(logins, geo), args.repeat)
    detector = assess_all(logins, geo)
    small = {
        "max_accounts": max(8, accounts // 8),
        "max_population_keys": max(8, n // 8),
        "max_evidence_keys": max(8, n // 200),
        "cache_size": max(8, n // 100),
    }
    evicting = timed(lambda: assess_all(logins, geo, **small), args.repeat)

    for label, seconds in (
        ("dict update", floor),
        ("enrichment (warm)", base),
        ("login_risk assess", model),
        ("... evicting", evicting),
    ):
        print(
            f"{label:<18}: {n / seconds:10,.0f} logins/s per core, "
            f"{1e6 * seconds / n:6.1f} us/login"
        )
    print("evicting bounds: " + ", ".join(f"{k}={v:,}" for k, v in small.items()))
    print(
        f"assess / enrichment: {model / base:.1f}x; "
        f"assess / dict update: {model / floor:.1f}x"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"accounts kept: {detector.model.accounts:,}; peak RSS: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
