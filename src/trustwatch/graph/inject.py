"""Inject lockstep rings into a stream of benign telemetry, with the answer key.

A ring, as bulk abuse on a file-sharing platform runs one: its accounts sign
up in a burst through a few proxies of one network with generated email
addresses of one shape, then, in bursts, upload the same files and post and
link the same URLs; to look ordinary they also download the stream's most
popular files (camouflage). Each member gets its own device id and a browser
string from a small pool, as a ring that rotates them would.

Used by the tests and evaluations of :mod:`trustwatch.graph`; it reads only
events, so it sits beside the graph rather than in the simulator.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from trustwatch.errors import ConfigError
from trustwatch.events.model import (
    AccountCreated,
    EventBase,
    FileDownloaded,
    FileUploaded,
    LinkCreated,
    Login,
    UrlPosted,
)

__all__ = ["InjectedRing", "RingSpec", "inject_rings"]

_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1",
)


@dataclass(frozen=True, slots=True)
class RingSpec:
    """Shape of one injected ring.

    Parameters
    ----------
    members
        Accounts in the ring.
    proxies
        Distinct source addresses, all in one /24, the members sign up and act
        from.
    files, urls
        Files (by hash) every member uploads and URLs every member posts and
        links.
    camouflage
        Downloads of the stream's most popular files per member.
    bursts
        Activity bursts after the sign-up burst, one file and one URL each at
        least.
    burst_minutes
        How long each burst lasts (members act at random times within it).
    late_joiners
        Members that sign up and act a day after the others (new accounts
        attaching to a known ring); counted within ``members``.
    """

    members: int = 30
    proxies: int = 4
    files: int = 3
    urls: int = 2
    camouflage: int = 3
    bursts: int = 3
    burst_minutes: float = 30.0
    late_joiners: int = 0

    def __post_init__(self) -> None:
        """Reject shapes a ring cannot have."""
        if self.members < 2 or self.proxies < 1 or self.bursts < 1:
            raise ConfigError(
                f"ring spec {self!r}; hint: members >= 2, proxies and bursts >= 1"
            )
        if not 0 <= self.late_joiners < self.members:
            raise ConfigError(
                f"late_joiners={self.late_joiners}; hint: fewer than members"
            )
        if min(self.files, self.urls, self.camouflage) < 0 or self.burst_minutes <= 0:
            raise ConfigError(f"ring spec {self!r}; hint: counts >= 0, minutes > 0")


@dataclass(frozen=True, slots=True)
class InjectedRing:
    """An injected ring's answer key: its accounts, late joiners apart."""

    name: str
    members: tuple[str, ...]
    late_joiners: tuple[str, ...]


def _popular_files(events: Sequence[EventBase], top: int) -> list[str]:
    counts: Counter[str] = Counter()
    for event in events:
        if isinstance(event, FileDownloaded):
            counts[event.file_id] += 1
    return [file_id for file_id, _ in counts.most_common(top)] or ["file-popular"]


def inject_rings(
    events: Sequence[EventBase],
    specs: Sequence[RingSpec],
    seed: int = 11,
) -> tuple[list[EventBase], list[InjectedRing]]:
    """Mix rings into ``events`` and return the merged stream and the key.

    Parameters
    ----------
    events
        Benign telemetry in time order (at least one event).
    specs
        One spec per ring; ring ``i`` starts ``i + 1`` hours into the stream.
    seed
        Seed of every random draw.

    Returns
    -------
    tuple
        The merged events in time order, and one :class:`InjectedRing` per spec.
    """
    if not events:
        raise ConfigError("no events to inject rings into; hint: simulate some first")
    rng = random.Random(seed)
    start = min(e.ts for e in events)
    popular = _popular_files(events, 5)
    injected: list[EventBase] = []
    key: list[InjectedRing] = []
    counter = 0

    def next_id() -> str:
        nonlocal counter
        counter += 1
        return f"ring-ev-{seed}-{counter}"

    for index, spec in enumerate(specs):
        name = f"injected-{index}"
        net = f"198.18.{(index * 7 + seed) % 250}"
        proxies = [f"{net}.{10 + p}" for p in range(spec.proxies)]
        word = "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(5))
        files = [rng.randbytes(32).hex() for _ in range(spec.files)]
        urls = [
            f"https://{word}-{rng.randrange(10**6)}.example/d/{rng.randrange(10**9)}"
            for _ in range(spec.urls)
        ]
        members = [f"ringacct-{seed}-{index}-{m}" for m in range(spec.members)]
        late = members[spec.members - spec.late_joiners :]
        ring_start = start + timedelta(hours=index + 1)
        for m, account in enumerate(members):
            offset = timedelta(days=1) if account in late else timedelta(0)
            base = ring_start + offset
            ip = proxies[m % len(proxies)]
            device = f"dev-{rng.randbytes(8).hex()}"
            agent = rng.choice(_AGENTS)

            def at(
                burst: int,
                base_time: datetime = base,
                spread: float = spec.burst_minutes,
            ) -> datetime:
                minutes = rng.uniform(0, spread)
                return base_time + timedelta(hours=2 * burst, minutes=minutes)

            signup = at(0)
            injected.append(
                AccountCreated(
                    event_id=next_id(),
                    ts=signup,
                    device_id=device,
                    email=f"{word}{rng.randrange(1000, 9999)}@mail.example",
                    account=account,
                    ip=ip,
                    user_agent=agent,
                )
            )
            injected.append(
                Login(
                    event_id=next_id(),
                    ts=signup + timedelta(seconds=30),
                    device_id=device,
                    success=True,
                    account=account,
                    ip=ip,
                    user_agent=agent,
                )
            )
            for burst in range(1, spec.bursts + 1):
                for i, sha in enumerate(files):
                    if i % spec.bursts == burst - 1:
                        injected.append(
                            FileUploaded(
                                event_id=next_id(),
                                ts=at(burst),
                                device_id=device,
                                file_id=f"f-{account}-{i}",
                                sha256=sha,
                                account=account,
                                ip=ip,
                                user_agent=agent,
                            )
                        )
                for i, url in enumerate(urls):
                    if i % spec.bursts == burst - 1:
                        injected.append(
                            UrlPosted(
                                event_id=next_id(),
                                ts=at(burst),
                                url=url,
                                account=account,
                                ip=ip,
                                user_agent=agent,
                            )
                        )
                        injected.append(
                            LinkCreated(
                                event_id=next_id(),
                                ts=at(burst),
                                link_id=f"l-{account}-{i}",
                                url=url,
                                account=account,
                                ip=ip,
                                user_agent=agent,
                            )
                        )
            for c in range(spec.camouflage):
                injected.append(
                    FileDownloaded(
                        event_id=next_id(),
                        ts=at(rng.randrange(spec.bursts + 1)),
                        file_id=popular[c % len(popular)],
                        account=account,
                        ip=ip,
                        user_agent=agent,
                    )
                )
        key.append(InjectedRing(name, tuple(members), tuple(late)))
    merged = sorted([*events, *injected], key=lambda e: e.ts)
    return merged, key
