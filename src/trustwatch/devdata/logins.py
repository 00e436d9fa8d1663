"""Login events from real SSH data: a raw OpenSSH log and honeypot session tables.

The raw log goes through trustwatch's own adapter,
:func:`trustwatch.events.parse_auth_log`. The UQO session tables hold counts,
not lines: a session with ``login_failed = n`` and ``login_success = k``
becomes ``n`` failed then ``k`` successful :class:`~trustwatch.events.Login`
events from its source, starting at its start time and spaced by its mean gap
between failures (one second when the table gives none). The tables name no
user, so those events carry neither ``account`` nor ``username``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from random import Random

import msgspec

from trustwatch.devdata.feeds import OPENSSH_LOG, SshSession, open_text
from trustwatch.events import DeadLetter, Login, parse_auth_log

__all__ = ["openssh_logins", "sample_by_source", "session_logins", "shift"]

_DEFAULT_GAP = 1.0


def openssh_logins(datasets: Path, year: int) -> tuple[list[Login], list[str], int]:
    """Parse the raw OpenSSH log with the project's adapter.

    Returns
    -------
    tuple
        The login events, the raw lines (for independent labelling) and the
        number of dead letters the adapter produced.
    """
    with open_text(datasets, OPENSSH_LOG) as handle:
        lines = handle.read().splitlines()
    logins, dead = [], 0
    for item in parse_auth_log(lines, source=OPENSSH_LOG, year=year):
        if isinstance(item, DeadLetter):
            dead += 1
        else:
            logins.append(item)
    return logins, lines, dead


def sample_by_source(
    sessions: Sequence[SshSession], budget: int, rng: Random
) -> list[SshSession]:
    """Pick about ``budget`` sessions, keeping every session of a chosen source.

    Sources are visited in a seeded random order; a source joins the sample
    when all its sessions still fit in the budget. Keeping a source whole
    keeps its bursts, which is what brute-force detection looks at.
    """
    by_ip: dict[str, list[SshSession]] = defaultdict(list)
    for session in sessions:
        by_ip[session.src_ip].append(session)
    order = sorted(by_ip)
    rng.shuffle(order)
    picked: list[SshSession] = []
    for ip in order:
        group = by_ip[ip]
        if len(picked) + len(group) <= budget:
            picked.extend(group)
        if len(picked) >= budget:
            break
    return picked


def session_logins(sessions: Iterable[SshSession], prefix: str) -> list[Login]:
    """Expand session rows into login events with ids ``<prefix>-<session>-<n>``."""
    events = []
    for session in sessions:
        start = datetime.fromisoformat(session.start)
        gap = session.gap if session.gap > 0 else _DEFAULT_GAP
        session_id = f"{prefix}-{session.session_id}"
        outcomes = [False] * session.failed + [True] * session.succeeded
        for n, success in enumerate(outcomes):
            events.append(
                Login(
                    event_id=f"{session_id}-{n}",
                    ts=start + timedelta(seconds=n * gap),
                    ip=session.src_ip,
                    session_id=session_id,
                    success=success,
                    failure_reason=None if success else "bad_credentials",
                )
            )
    return events


def shift(events: Sequence[Login], to: datetime) -> tuple[list[Login], timedelta]:
    """Move events so the earliest lands on ``to``; return them and the span."""
    if not events:
        return [], timedelta(0)
    first = min(e.ts for e in events)
    last = max(e.ts for e in events)
    delta = to - first
    moved = [msgspec.structs.replace(e, ts=e.ts + delta) for e in events]
    return moved, last - first
