"""What the simulator planted: per attack, its events and the entities to flag.

:class:`GroundTruth` is the answer key a benchmark scores detectors against.
Per attack it lists the event ids the attack produced and the entities a
detector or policy should act on:

- ``ips``: attacker sources (not victims who merely opened a link);
- ``accounts``: accounts that were taken over or are run by the attacker;
- ``targets``: accounts that were attacked but not taken over;
- ``urls`` and ``hashes``: malicious indicators; ``unlisted_urls`` is the
  part of ``urls`` deliberately kept out of the simulated intel feed, so
  only heuristics can catch them;
- ``file_ids`` and ``link_ids``: platform objects carrying the payload.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec

__all__ = ["AttackTruth", "GroundTruth", "TruthRecorder"]


class AttackTruth(msgspec.Struct, frozen=True, kw_only=True):
    """Events and entities of one kind of attack (all its campaigns together)."""

    attack: str
    event_ids: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    unlisted_urls: tuple[str, ...] = ()
    hashes: tuple[str, ...] = ()
    file_ids: tuple[str, ...] = ()
    link_ids: tuple[str, ...] = ()


class GroundTruth(msgspec.Struct, frozen=True, kw_only=True):
    """The answer key of one simulation run.

    Parameters
    ----------
    seed
        Seed of the run.
    start, end
        The simulated interval; every event lies in ``[start, end)``.
    attacks
        Truth per attack name.
    """

    seed: int
    start: datetime
    end: datetime
    attacks: dict[str, AttackTruth] = {}

    def malicious_event_ids(self) -> frozenset[str]:
        """Return the ids of every event any attack produced."""
        return frozenset(e for a in self.attacks.values() for e in a.event_ids)

    def attacker_ips(self) -> frozenset[str]:
        """Return every attacker source address."""
        return frozenset(ip for a in self.attacks.values() for ip in a.ips)

    def bad_accounts(self) -> frozenset[str]:
        """Return every account taken over by, or belonging to, an attacker."""
        return frozenset(x for a in self.attacks.values() for x in a.accounts)

    def malicious_urls(self) -> frozenset[str]:
        """Return every malicious URL, listed in the intel or not."""
        return frozenset(u for a in self.attacks.values() for u in a.urls)

    def unlisted_urls(self) -> frozenset[str]:
        """Return the malicious URLs the intel feed does not know."""
        return frozenset(u for a in self.attacks.values() for u in a.unlisted_urls)

    def malicious_hashes(self) -> frozenset[str]:
        """Return every malicious file hash (sha256, sha1 and md5)."""
        return frozenset(h for a in self.attacks.values() for h in a.hashes)


class TruthRecorder:
    """Collect one attack's truth while its events are generated.

    Parameters
    ----------
    attack
        Name of the attack.
    """

    __slots__ = (
        "accounts",
        "attack",
        "event_ids",
        "file_ids",
        "hashes",
        "ips",
        "link_ids",
        "targets",
        "unlisted_urls",
        "urls",
    )

    def __init__(self, attack: str) -> None:
        self.attack = attack
        self.event_ids: list[str] = []
        self.ips: set[str] = set()
        self.accounts: set[str] = set()
        self.targets: set[str] = set()
        self.urls: set[str] = set()
        self.unlisted_urls: set[str] = set()
        self.hashes: set[str] = set()
        self.file_ids: set[str] = set()
        self.link_ids: set[str] = set()

    def discard(self, event_ids: Iterable[str]) -> None:
        """Forget events the stream will not emit (those past the end of the run)."""
        drop = set(event_ids)
        self.event_ids = [e for e in self.event_ids if e not in drop]

    def freeze(self) -> AttackTruth:
        """Return the collected truth with every entity list sorted."""
        ids = self.event_ids
        return AttackTruth(
            attack=self.attack,
            event_ids=tuple(ids),
            ips=tuple(sorted(self.ips)),
            accounts=tuple(sorted(self.accounts)),
            targets=tuple(sorted(self.targets - self.accounts)),
            urls=tuple(sorted(self.urls)),
            unlisted_urls=tuple(sorted(self.unlisted_urls)),
            hashes=tuple(sorted(self.hashes)),
            file_ids=tuple(sorted(self.file_ids)),
            link_ids=tuple(sorted(self.link_ids)),
        )
