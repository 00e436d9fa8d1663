"""Latency of the analyst API under a small concurrent load, per endpoint.

Builds a decision store of synthetic verdicts (failed-login bursts, risky
logins and intel URL hits over ``--accounts`` accounts, a few rings), builds
cases from them into a review store, starts ``trustwatch serve``'s app with
uvicorn on a free loopback port in a child process, and sends ``--requests``
authenticated requests with ``--concurrency`` client threads, round-robin
over the main endpoints. Prints per endpoint the p50 and p99 latency, the
error rate, and the p50 against ``/api/v1/whoami`` (authentication and
framing only) measured in the same run.

    python3 benchmarks/bench_api.py --accounts 2000 --verdicts 20000 \
        --requests 2000 --concurrency 8
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import socket
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors.base import Signal
from trustwatch.events.model import Login
from trustwatch.graph.rings import RingSnapshot
from trustwatch.review.cases import build_cases
from trustwatch.review.store import open_review_store
from trustwatch.storage.sqlite import SqliteStore

T0 = datetime(2026, 5, 1, tzinfo=UTC)
KINDS = (("brute_force", "ip"), ("risky_login", "account"), ("intel_url", "url"))


def build_stores(folder: Path, accounts: int, verdicts: int, seed: int) -> None:
    """Write synthetic verdicts, actions and rings, then build cases."""
    rng = random.Random(seed)
    engine = DecisionEngine(default_policy())
    written_verdicts, written_actions = [], []
    for i in range(verdicts):
        account = f"user{rng.randrange(accounts):05d}"
        kind, entity_type = rng.choice(KINDS)
        event = Login(
            event_id=f"e{i}",
            ts=T0 + timedelta(seconds=17 * i),
            account=account,
            ip=f"198.51.{rng.randrange(256)}.{rng.randrange(256)}",
            success=kind == "risky_login",
        )
        entity = {
            "ip": event.ip,
            "account": account,
            "url": f"http://lure{rng.randrange(500)}.example.net/login",
        }[entity_type]
        signal = Signal(
            detector="bench",
            detector_version="1",
            kind=kind,
            score=rng.uniform(0.3, 1.0),
            entity_type=entity_type,
            entity=entity or account,
            event_id=event.event_id,
        )
        verdict, actions = engine.decide(event, [signal])
        written_verdicts.append(verdict)
        written_actions += actions
    rings = [
        RingSnapshot(
            ring_id=f"ring{r}",
            method="lockstep",
            size=12,
            risk=0.5 + r / 40,
            reasons=("12 accounts acting in lockstep",),
            founded=T0.timestamp(),
            updated=T0.timestamp() + r,
            members=tuple(f"user{(r * 12 + m):05d}" for m in range(12)),
            evidence=((f"ip:192.0.2.{r}", 12), (f"device:d{r}", 9)),
            holdings={
                f"user{(r * 12 + m):05d}": (f"ip:192.0.2.{r}", f"device:d{r}")
                for m in range(12)
            },
        )
        for r in range(20)
    ]
    with SqliteStore(folder / "store.sqlite") as store:
        store.write_verdicts(written_verdicts)
        store.write_actions(written_actions)
        store.write_rings(rings)
        with open_review_store(folder / "review.sqlite") as review:
            summary = build_cases(store, review, clock=lambda: T0)
    print(
        f"store: {len(written_verdicts)} verdicts, {len(written_actions)} actions, "
        f"{len(rings)} rings, {summary.cases_opened} cases"
    )


def serve(folder: str, port: int) -> None:
    """Child process: serve the app on 127.0.0.1:port until killed."""
    import logging

    import uvicorn

    from trustwatch.api.app import create_app
    from trustwatch.api.settings import ServeSettings

    logging.disable(logging.WARNING)
    settings = ServeSettings(
        db=f"{folder}/store.sqlite",
        review_db=f"{folder}/review.sqlite",
        tokens=Path(folder) / "tokens.json",
        max_failed_logins=1_000_000,
    )
    uvicorn.run(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="error",
        access_log=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(base: str, headers: dict[str, str], deadline_s: float = 60) -> None:
    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        try:
            if httpx.get(f"{base}/api/v1/whoami", headers=headers).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not start")


def endpoints(base: str, headers: dict[str, str]) -> dict[str, str]:
    """The paths to load, named; ids taken from the running service."""
    case = httpx.get(f"{base}/api/v1/cases?limit=1", headers=headers).json()
    case_id = case["items"][0]["case_id"]
    account = case["items"][0]["accounts"][0]
    return {
        "whoami": "/api/v1/whoami",
        "cases": "/api/v1/cases?limit=50",
        "case": f"/api/v1/cases/{case_id}",
        "alerts": "/api/v1/alerts?limit=50",
        "alerts?account": f"/api/v1/alerts?account={account}",
        "timeline": f"/api/v1/accounts/{account}/timeline",
        "rings": "/api/v1/rings",
        "ring.svg": "/api/v1/rings/ring3/picture.svg",
        "actions": "/api/v1/actions?limit=50",
        "policies": "/api/v1/policies",
    }


def load(
    base: str,
    headers: dict[str, str],
    paths: dict[str, str],
    requests: int,
    concurrency: int,
) -> dict[str, list[tuple[float, bool]]]:
    """Send ``requests`` requests round-robin; return (seconds, ok) per name."""
    names = list(paths)
    plan = [names[i % len(names)] for i in range(requests)]
    results: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    lock = threading.Lock()
    local = threading.local()

    def one(name: str) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=base, headers=headers)
        started = time.perf_counter()
        try:
            ok = client.get(paths[name]).status_code == 200
        except httpx.HTTPError:
            ok = False
        elapsed = time.perf_counter() - started
        with lock:
            results[name].append((elapsed, ok))

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, plan))
    return results


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--verdicts", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from trustwatch.api.tokens import TokenFile

    with tempfile.TemporaryDirectory() as folder:
        build_stores(Path(folder), args.accounts, args.verdicts, args.seed)
        token = TokenFile(Path(folder) / "tokens.json").add("bench", "viewer")
        headers = {"Authorization": f"Bearer {token}"}
        port = free_port()
        child = multiprocessing.get_context("spawn").Process(
            target=serve, args=(folder, port), daemon=True
        )
        child.start()
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, headers)
            paths = endpoints(base, headers)
            load(base, headers, paths, 10 * len(paths), args.concurrency)  # warm up
            started = time.perf_counter()
            results = load(base, headers, paths, args.requests, args.concurrency)
            wall = time.perf_counter() - started
        finally:
            child.terminate()
            child.join(10)
    baseline = statistics.median(t for t, _ in results["whoami"])
    print(
        f"{args.requests} requests, concurrency {args.concurrency}, "
        f"{args.requests / wall:.0f} req/s overall"
    )
    print(
        f"{'endpoint':<16}{'n':>5}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'x whoami':>10}"
    )
    for name, samples in results.items():
        times = [t for t, _ in samples]
        errors = sum(not ok for _, ok in samples) / len(samples)
        p50 = statistics.median(times)
        print(
            f"{name:<16}{len(samples):>5}{p50 * 1e3:>9.1f}"
            f"{percentile(times, 0.99) * 1e3:>9.1f}{errors:>8.1%}"
            f"{p50 / baseline:>10.1f}"
        )


if __name__ == "__main__":
    main()
