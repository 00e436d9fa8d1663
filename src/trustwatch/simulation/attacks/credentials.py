"""Password attacks on the login endpoint: brute force and credential stuffing."""

from __future__ import annotations

from trustwatch.events.model import Login
from trustwatch.simulation.attacks.base import AttackContext, loot, takeover
from trustwatch.simulation.catalog import (
    DESKTOP_USER_AGENTS,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
)
from trustwatch.simulation.ids import at
from trustwatch.simulation.netblocks import HOSTING
from trustwatch.simulation.scales import BruteForceScale, StuffingScale

__all__ = [
    "BRUTE_FORCE_SPAN",
    "STUFFING_SPAN",
    "brute_force",
    "credential_stuffing",
]

BRUTE_FORCE_SPAN = 3_600.0
"""Longest a brute-force attack (guesses and what follows a hit) lasts, s."""

STUFFING_SPAN = 3 * 3_600.0
"""Longest a credential-stuffing wave lasts, in seconds."""


def brute_force(ctx: AttackContext, start: float, scale: BruteForceScale) -> None:
    """One source guesses one account's password, every few seconds.

    The attack ends in a takeover (a success, then the intruder's actions)
    with probability ``scale.success_rate``.
    """
    rng, ev = ctx.rng, ctx.ids.event
    target = ctx.victim()
    ip, ua = ctx.attacker_ip(), ctx.attacker_agent()
    t = start
    for _ in range(rng.randint(*scale.attempts)):
        ctx.emit(
            Login(
                event_id=ev(),
                ts=at(t),
                account=target.account_id,
                ip=ip,
                user_agent=ua,
                success=False,
                username=target.email,
                failure_reason="bad_credentials",
            )
        )
        t += rng.uniform(0.5, 4.0)
    ctx.recorder.ips.add(ip)
    if rng.random() < scale.success_rate:
        loot(ctx, target, t, takeover(ctx, target, t, ip, ua))
    else:
        ctx.recorder.targets.add(target.account_id)


def credential_stuffing(ctx: AttackContext, start: float, scale: StuffingScale) -> None:
    """A few addresses of one hosting block replay a list of leaked logins.

    Each username is tried once. Names that do not exist fail with
    ``invalid_user`` and no account; a small share of real ones succeed.
    """
    rng = ctx.rng
    block_ips = _wave_sources(ctx, rng.randint(*scale.ips))
    total = rng.randint(*scale.usernames)
    invalid = round(total * scale.invalid_share)
    victims = ctx.victims(total - invalid)
    hits = 0
    if victims and scale.success_rate > 0.0:
        hits = max(1, round(len(victims) * scale.success_rate))
    winners = {a.account_id for a in rng.sample(victims, hits)}
    attempts = [(a.account_id, a) for a in victims] + [
        (None, None) for _ in range(invalid)
    ]
    rng.shuffle(attempts)

    step = rng.uniform(1_200.0, 5_400.0) / max(len(attempts), 1)
    uas = (*DESKTOP_USER_AGENTS, ctx.attacker_agent(browser_share=0.0))
    t = start
    for account_id, account in attempts:
        t += step * rng.uniform(0.3, 1.7)
        ip, ua = rng.choice(block_ips), rng.choice(uas)
        if account is None:
            _fail(ctx, t, ip, ua, None, _unknown_username(ctx), "invalid_user")
        elif account_id in winners:
            common = takeover(ctx, account, t, ip, ua)
            if rng.random() < 0.5:
                loot(ctx, account, t, common)
        else:
            _fail(ctx, t, ip, ua, account_id, account.email, "bad_credentials")
            ctx.recorder.targets.add(account.account_id)
    ctx.recorder.ips.update(block_ips)


def _wave_sources(ctx: AttackContext, count: int) -> list[str]:
    """Return ``count`` distinct addresses inside one hosting block."""
    rng = ctx.rng
    block = rng.choice(HOSTING)
    ips: set[str] = set()
    while len(ips) < count:
        ips.add(block.draw(rng))
    return sorted(ips)


def _unknown_username(ctx: AttackContext) -> str:
    """Return a leaked address that has no account here (no dot in the name)."""
    rng = ctx.rng
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return f"{first}{last}{rng.randint(1, 9999)}@{rng.choice(EMAIL_DOMAINS)}"


def _fail(
    ctx: AttackContext,
    t: float,
    ip: str,
    ua: str,
    account: str | None,
    username: str,
    reason: str,
) -> None:
    ctx.emit(
        Login(
            event_id=ctx.ids.event(),
            ts=at(t),
            account=account,
            ip=ip,
            user_agent=ua,
            success=False,
            username=username,
            failure_reason=reason,
        )
    )
