"""Takeover chains on a simulated platform: what is caught, what else, how fast.

Simulates a platform (``trustwatch.simulation``, every attack mixed in) and
runs :class:`TakeoverChainDetector` over it in stream order with the bundled
offline geolocation, in two set-ups:

1. **alone**, on its own fallback (failure bursts, new country, new device);
2. **after** ``credential_attacks`` and ``login_risk`` (when that detector is
   installed), reading their signals from the event context as the pipeline
   passes them, fallback on.

The answer key: the accounts the simulated brute-force and credential-stuffing
attackers logged into and then looted (an email, password or MFA change, an
API token, a download). Printed per set-up: how many of those raised a chain,
how many other accounts did (the simulator's ordinary users also travel and
change their settings), the highest chain score of each, and the detector's
own cost per event on one core.

    python3 benchmarks/bench_takeover_chain.py --accounts 2000 --days 4
"""

from __future__ import annotations

import argparse
import importlib
import time

from trustwatch.detectors.base import Detector
from trustwatch.detectors.credential_attacks import CredentialAttackDetector
from trustwatch.detectors.takeover_chain import TakeoverChainDetector
from trustwatch.enrichment.geo import BundledGeo
from trustwatch.events.model import (
    ApiTokenCreated,
    EmailChanged,
    FileDownloaded,
    Login,
    MfaChanged,
    PasswordChanged,
)
from trustwatch.features.context import EventContext
from trustwatch.simulation import Simulation, SimulationConfig, simulate

LOOT = (EmailChanged, PasswordChanged, MfaChanged, ApiTokenCreated, FileDownloaded)


def looted_accounts(sim: Simulation) -> set[str]:
    """Return the accounts login attackers got into and then acted in."""
    ids: set[str] = set()
    for name in ("brute_force", "credential_stuffing"):
        if name in sim.truth.attacks:
            ids |= set(sim.truth.attacks[name].event_ids)
    entered = {
        e.account
        for e in sim.events
        if e.event_id in ids and type(e) is Login and e.success and e.account
    }
    return {
        e.account
        for e in sim.events
        if e.event_id in ids and isinstance(e, LOOT) and e.account in entered
    }


def run(
    sim: Simulation, before: list[Detector], chain: TakeoverChainDetector
) -> tuple[dict[str, float], float]:
    """Return the highest chain score per account, and seconds in the chain."""
    geo = BundledGeo()
    best: dict[str, float] = {}
    spent = 0.0
    for event in sim.events:
        ctx = EventContext(event, geo)
        for detector in before:
            if detector.event_types is None or type(event) in detector.event_types:
                ctx.raised.extend(detector.process_one(event, ctx))
        if type(event) not in chain.event_types:
            continue
        started = time.perf_counter()
        found = chain.process_one(event, ctx)
        spent += time.perf_counter() - started
        for signal in found:
            best[signal.entity] = max(best.get(signal.entity, 0.0), signal.score)
    return best, spent


def login_risk() -> Detector | None:
    """Return a login risk detector, when this checkout has one."""
    try:
        module = importlib.import_module("trustwatch.detectors.login_risk")
    except ImportError:
        return None
    detector: Detector = module.LoginRiskDetector()
    return detector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--days", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    sim = simulate(
        SimulationConfig(seed=args.seed, accounts=args.accounts, days=args.days)
    )
    looted = looted_accounts(sim)
    print(
        f"{len(sim.events):,} events, {args.accounts} accounts, {args.days:g} days; "
        f"{len(looted)} accounts taken over and looted"
    )
    setups: list[tuple[str, list[Detector]]] = [("alone", [])]
    risk = login_risk()
    if risk is None:
        print("login_risk is not in this checkout: its set-up is skipped")
    else:
        setups.append(
            (
                "after credential_attacks, login_risk",
                [
                    CredentialAttackDetector(),
                    risk,
                ],
            )
        )
    for name, before in setups:
        best, spent = run(sim, before, TakeoverChainDetector())
        caught = sorted(round(best[a], 3) for a in best if a in looted)
        others = sorted(round(best[a], 3) for a in best if a not in looted)
        print(
            f"{name}: {len(caught)}/{len(looted)} looted accounts raised a chain "
            f"(scores {caught}); {len(others)} other accounts (scores {others}); "
            f"{spent / len(sim.events) * 1e6:.2f} us per event in the chain"
        )


if __name__ == "__main__":
    main()
