"""What every simulated attack shares: its context and the takeover steps."""

from __future__ import annotations

from random import Random
from typing import Any

from trustwatch.events.model import (
    ApiTokenCreated,
    EmailChanged,
    Event,
    FileDownloaded,
    Login,
    MfaChanged,
    PasswordChanged,
)
from trustwatch.simulation.catalog import (
    ATTACK_USER_AGENTS,
    DESKTOP_USER_AGENTS,
    EMAIL_DOMAINS,
)
from trustwatch.simulation.ids import IdSpace, at, hex_token, token
from trustwatch.simulation.netblocks import COUNTRIES, HOSTING
from trustwatch.simulation.population import Account, Population
from trustwatch.simulation.truth import TruthRecorder

__all__ = ["AttackContext", "loot", "takeover"]

_VICTIM_TRIES = 64


class AttackContext:
    """Everything one attack campaign writes to or draws from.

    Parameters
    ----------
    rng
        The campaign's own generator.
    ids
        Id counters of the run.
    population
        The platform's accounts.
    recorder
        Where the campaign's truth goes.
    used
        Account ids already claimed by an attack of the run; shared between
        campaigns so that no account is the victim of two of them.
    """

    __slots__ = ("ids", "out", "population", "recorder", "rng", "used")

    def __init__(
        self,
        rng: Random,
        ids: IdSpace,
        population: Population,
        recorder: TruthRecorder,
        used: set[str],
    ) -> None:
        self.rng = rng
        self.ids = ids
        self.population = population
        self.recorder = recorder
        self.used = used
        self.out: list[Event] = []

    def emit(self, event: Event) -> None:
        """Add an attack event to the stream and to the truth."""
        self.out.append(event)
        self.recorder.event_ids.append(event.event_id)

    def victim(self, *, allow_mfa: bool = False) -> Account:
        """Return an account no other attack claimed (without MFA by default)."""
        pop, rng = self.population, self.rng
        account = pop.pick(rng)
        for _ in range(_VICTIM_TRIES):
            if account.account_id not in self.used and (allow_mfa or not account.mfa):
                break
            account = pop.pick(rng)
        self.used.add(account.account_id)
        return account

    def victims(self, count: int) -> list[Account]:
        """Return up to ``count`` distinct accounts no other attack claimed."""
        accounts = self.population.accounts
        drawn = self.rng.sample(accounts, min(len(accounts), 2 * count))
        chosen = [a for a in drawn if a.account_id not in self.used][:count]
        self.used.update(a.account_id for a in chosen)
        return chosen

    def attacker_ip(self) -> str:
        """Return an attacker source: a rented server or a residential proxy."""
        rng = self.rng
        if rng.random() < 0.7:
            return rng.choice(HOSTING).draw(rng)
        return rng.choice(COUNTRIES).draw(rng)

    def attacker_agent(self, *, browser_share: float = 0.3) -> str:
        """Return the user agent of attack tooling (sometimes a browser's)."""
        rng = self.rng
        if rng.random() < browser_share:
            return rng.choice(DESKTOP_USER_AGENTS)
        return rng.choice(ATTACK_USER_AGENTS)

    def fake_email(self) -> str:
        """Return the address of an attacker-made account (no dot, unlike users)."""
        rng = self.rng
        return f"{token(rng, 8, lower=True)}{rng.randint(10, 99)}@" + rng.choice(
            EMAIL_DOMAINS
        )


def takeover(
    ctx: AttackContext, account: Account, t: float, ip: str, ua: str
) -> dict[str, Any]:
    """Emit the attacker's successful login and return the session's fields."""
    common: dict[str, Any] = {
        "account": account.account_id,
        "ip": ip,
        "user_agent": ua,
        "session_id": ctx.ids.session(),
    }
    ctx.emit(
        Login(
            event_id=ctx.ids.event(),
            ts=at(t),
            success=True,
            username=account.email,
            **common,
        )
    )
    ctx.recorder.accounts.add(account.account_id)
    ctx.recorder.ips.add(ip)
    return common


def loot(
    ctx: AttackContext, account: Account, t: float, common: dict[str, Any]
) -> float:
    """Emit what an intruder does right after a takeover; return the last time.

    A mix of locking the owner out (email, password, MFA changes), keeping
    access (API token) and taking data (downloads of the owner's files).
    """
    rng, ev = ctx.rng, ctx.ids.event
    for _ in range(rng.randint(1, 4)):
        t += rng.uniform(5.0, 90.0)
        r = rng.random()
        if r < 0.25:
            domain = rng.choice(EMAIL_DOMAINS)
            new_email = f"{token(rng, 9, lower=True)}@{domain}"
            ctx.emit(
                EmailChanged(event_id=ev(), ts=at(t), new_email=new_email, **common)
            )
        elif r < 0.4:
            ctx.emit(PasswordChanged(event_id=ev(), ts=at(t), **common))
        elif r < 0.5 and account.mfa:
            ctx.emit(MfaChanged(event_id=ev(), ts=at(t), change="disabled", **common))
        elif r < 0.7:
            ctx.emit(
                ApiTokenCreated(
                    event_id=ev(),
                    ts=at(t),
                    token_id=hex_token(rng, 64),
                    scopes=("files.read", "files.write", "links.write"),
                    **common,
                )
            )
        elif account.files:
            stored = account.files[rng.randrange(len(account.files))]
            ctx.emit(
                FileDownloaded(
                    event_id=ev(), ts=at(t), file_id=stored.file_id, **common
                )
            )
    return t
