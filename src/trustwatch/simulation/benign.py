"""Ordinary platform use: sessions of logins, uploads, shares, links and posts.

Each account starts sessions at a rate set by its activity weight and by a
daily rhythm in its home country's local time. A session is a login (now and
then after a mistyped password), a few actions spaced a minute or two apart,
and sometimes a logout. Shared links draw accesses from other addresses over
the following hours. This module is the simulator's hot path: it builds
events directly, with no intermediate objects.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from math import log
from operator import itemgetter
from random import Random
from typing import Any, Literal, TypeAlias

from trustwatch.events.model import (
    AccountCreated,
    ApiTokenCreated,
    EmailChanged,
    Event,
    FileDownloaded,
    FileShared,
    FileUploaded,
    LinkAccessed,
    LinkCreated,
    Login,
    Logout,
    MfaChanged,
    PasswordChanged,
    UrlPosted,
)
from trustwatch.simulation.benign_urls import BENIGN_URLS
from trustwatch.simulation.catalog import (
    DESKTOP_USER_AGENTS,
    EMAIL_DOMAINS,
    FILE_KINDS,
    MOBILE_USER_AGENTS,
    SHARE_BASE_URL,
)
from trustwatch.simulation.draws import poisson
from trustwatch.simulation.ids import IdSpace, hex_token, link_token
from trustwatch.simulation.netblocks import COUNTRIES
from trustwatch.simulation.population import Account, Population

__all__ = ["DIURNAL", "BenignActivity", "BenignBehaviour", "Timed", "UrlContext"]

_RAW_DIURNAL = (
    0.15, 0.10, 0.08, 0.07, 0.08, 0.15, 0.35, 0.70, 1.10, 1.40, 1.50, 1.45,
    1.30, 1.35, 1.40, 1.35, 1.25, 1.15, 1.10, 1.20, 1.30, 1.15, 0.80, 0.40,
)  # fmt: skip
DIURNAL: tuple[float, ...] = tuple(w * 24 / sum(_RAW_DIURNAL) for w in _RAW_DIURNAL)
"""Relative session rate per local hour; averages 1 over a day."""

UrlContext: TypeAlias = Literal["comment", "preview", "document", "link", "other"]
"""Where a posted URL appeared (the ``context`` of :class:`UrlPosted`)."""

# ids.at without its Python frame: this module builds most events of a run.
_stamp = datetime.fromtimestamp

# Mean of lognormvariate(0, 0.8), the activity weight of an account.
_MEAN_ACTIVITY = math.exp(0.8**2 / 2)
# Each kind repeated in proportion to its weight: one index picks a kind.
_KIND_TABLE = tuple(k for k in FILE_KINDS for _ in range(round(k.weight * 4)))
_ALL_UAS = DESKTOP_USER_AGENTS + MOBILE_USER_AGENTS
_CONTEXTS: tuple[UrlContext, ...] = (
    "comment",
    "comment",
    "comment",
    "document",
    "preview",
)
_SCOPES = (("files.read",), ("files.read", "files.write"), ("links.read",))
_FIRST = itemgetter(0)
_POPULAR_POOL = 400
_RECENT_LINKS = 4096


@dataclass(frozen=True)
class BenignBehaviour:
    """How ordinary users behave; every rate is per account unless noted.

    Parameters
    ----------
    sessions_per_day
        Mean sessions an average account starts per day.
    actions_per_session
        Mean actions (uploads, shares, links, downloads, posts) per session.
    typo_rate
        Chance a session starts with a mistyped password.
    mfa_share
        Fraction of accounts that log in with a second factor.
    travel_share
        Fraction of accounts that spend some days abroad during the run.
    signups_per_day
        New accounts per day, as a fraction of the starting population.
    link_accesses
        Mean number of times a shared link is opened by others.
    popular_content_share
        Chance an upload is a copy of widely shared content (same hashes).
    """

    sessions_per_day: float = 1.2
    actions_per_session: float = 4.0
    typo_rate: float = 0.05
    mfa_share: float = 0.35
    travel_share: float = 0.02
    signups_per_day: float = 0.002
    link_accesses: float = 2.0
    popular_content_share: float = 0.08


class _Content:
    """Bytes of a file, seen through what the platform records about them."""

    __slots__ = ("md5", "mime_type", "names", "sha1", "sha256", "size")

    def __init__(self, rng: Random) -> None:
        rand = rng.random
        kind = _KIND_TABLE[int(rand() * len(_KIND_TABLE))]
        self.names = kind.names
        self.mime_type = kind.mime_type
        self.size = max(1, int(kind.median_size * math.exp(rng.gauss(0.0, 1.0))))
        # One draw for all three digests: 32 + 20 + 16 bytes.
        digest = rng.randbytes(68).hex()
        self.sha256 = digest[:64]
        self.sha1 = digest[64:104]
        self.md5 = digest[104:]


Timed: TypeAlias = tuple[float, Event]
"""An event with its time in epoch seconds, the cheap key to sort by."""

# account, ip, user_agent, device_id, session_id of the session under way.
_Session: TypeAlias = tuple[str, str, str, str, str]


class BenignActivity:
    """Generate ordinary use, one time window at a time.

    Parameters
    ----------
    rng
        Source of randomness for benign behaviour only.
    population
        The accounts.
    ids
        Id counters shared with the attacks of the run.
    end
        End of the run in epoch seconds; nothing is generated at or after it.
    behaviour
        Rates of ordinary use.
    """

    def __init__(
        self,
        rng: Random,
        population: Population,
        ids: IdSpace,
        end: float,
        behaviour: BenignBehaviour,
    ) -> None:
        self._rng = rng
        self._rand = rng.random
        self._pop = population
        self._ids = ids
        self._ev = ids.event
        self._end = end
        self._b = behaviour
        self._mean_gap = 1.0 / max(behaviour.actions_per_session - 1.0, 0.1)
        self._start_size = len(population.accounts)
        self._popular = [_Content(rng) for _ in range(_POPULAR_POOL)]
        self._links: deque[tuple[str, str]] = deque(maxlen=_RECENT_LINKS)

    def window(self, w0: float, w1: float, out: list[Timed]) -> None:
        """Append the sessions that start in ``[w0, w1)`` to ``out``.

        Each entry is a ``(time, event)`` pair. Follow-ups (link accesses) may
        lie after ``w1``, never after the end of the run.
        """
        rng, rand = self._rng, self._rand
        days = (w1 - w0) / 86_400.0
        hour = int(w0 // 3600) % 24
        per_activity = self._b.sessions_per_day * days / _MEAN_ACTIVITY
        starts: list[tuple[float, Account]] = []
        for group in self._pop.groups:
            if not group.accounts:
                continue
            rate = DIURNAL[(hour + group.country.utc_offset) % 24]
            n = poisson(rng, group.total_activity * per_activity * rate)
            if n:
                picked = rng.choices(group.accounts, cum_weights=group.cum_weights, k=n)
                starts.extend((w0 + (w1 - w0) * rand(), a) for a in picked)
        # Sessions in start order leave the window's events nearly sorted,
        # which makes the sort of the window cheap.
        starts.sort(key=_FIRST)
        for t, account in starts:
            self._session(account, t, out)
        signups = poisson(rng, self._b.signups_per_day * days * self._start_size)
        for _ in range(signups):
            self._signup(rng.uniform(w0, w1), out)

    def _signup(self, t: float, out: list[Timed]) -> None:
        account = self._pop.add_new()
        device, ua = account.devices[0]
        event = AccountCreated(
            event_id=self._ev(),
            ts=_stamp(t, UTC),
            account=account.account_id,
            ip=account.ips[0],
            user_agent=ua,
            device_id=device,
            email=account.email,
        )
        out.append((t, event))
        self._session(account, t + self._rng.uniform(5.0, 60.0), out)

    def _session(self, account: Account, t: float, out: list[Timed]) -> None:
        rand, ev = self._rand, self._ev
        if t >= self._end or (account.trip is not None and account.trip.in_the_air(t)):
            return
        devices = account.devices
        device, ua = devices[0] if rand() < 0.7 else devices[-1]
        ip = account.ip_at(t, self._rng)
        aid = account.account_id
        if rand() < self._b.typo_rate:
            event = Login(
                event_id=ev(),
                ts=_stamp(t, UTC),
                account=aid,
                ip=ip,
                user_agent=ua,
                device_id=device,
                success=False,
                username=account.email,
                failure_reason="bad_credentials",
            )
            out.append((t, event))
            t += 3.0 + 22.0 * rand()
        sid = self._ids.session()
        event = Login(
            event_id=ev(),
            ts=_stamp(t, UTC),
            account=aid,
            ip=ip,
            user_agent=ua,
            device_id=device,
            session_id=sid,
            success=True,
            method=account.method,
            mfa=account.mfa,
            username=account.email,
        )
        out.append((t, event))
        self._actions(account, t, (aid, ip, ua, device, sid), out)

    def _actions(
        self, account: Account, t: float, s: _Session, out: list[Timed]
    ) -> None:
        rng, rand, end = self._rng, self._rand, self._end
        for _ in range(1 + int(rng.expovariate(self._mean_gap))):
            t += 2.0 - 90.0 * log(1.0 - rand())
            if t >= end:
                return
            r = rand()
            if r < 0.28:
                self._upload(account, t, s, out)
            elif r < 0.40:
                self._share(account, t, s, out)
            elif r < 0.52:
                self._link(account, t, s, out)
            elif r < 0.78:
                self._download(account, t, s, out)
            elif r < 0.97:
                self._post_url(account, t, s, out)
            else:
                self._account_change(account, t, s, out)
        t += 5.0 + 595.0 * rand()
        if rand() < 0.35 and t < end:
            aid, ip, ua, device, sid = s
            event = Logout(
                event_id=self._ev(),
                ts=_stamp(t, UTC),
                account=aid,
                ip=ip,
                user_agent=ua,
                device_id=device,
                session_id=sid,
            )
            out.append((t, event))

    def _upload(
        self, account: Account, t: float, s: _Session, out: list[Timed]
    ) -> FileUploaded:
        rand = self._rand
        if rand() < self._b.popular_content_share:
            content = self._popular[int(rand() * _POPULAR_POOL)]
        else:
            content = _Content(self._rng)
        names = content.names
        aid, ip, ua, device, sid = s
        event = FileUploaded(
            event_id=self._ev(),
            ts=_stamp(t, UTC),
            account=aid,
            ip=ip,
            user_agent=ua,
            device_id=device,
            session_id=sid,
            file_id=self._ids.file(),
            name=names[int(rand() * len(names))].format(n=1 + int(rand() * 9999)),
            size=content.size,
            mime_type=content.mime_type,
            sha256=content.sha256,
            sha1=content.sha1,
            md5=content.md5,
        )
        account.files.append(event)
        out.append((t, event))
        return event

    def _some_file(
        self, account: Account, t: float, s: _Session, out: list[Timed]
    ) -> tuple[FileUploaded, float]:
        """Return a file the account holds, uploading one first if it has none."""
        files = account.files
        if files:
            return files[int(self._rand() * len(files))], t
        stored = self._upload(account, t, s, out)
        return stored, t + 2.0 + 28.0 * self._rand()

    def _share(self, account: Account, t: float, s: _Session, out: list[Timed]) -> None:
        rand = self._rand
        stored, t = self._some_file(account, t, s, out)
        accounts = self._pop.accounts
        count = 1 + (rand() < 0.4) + (rand() < 0.15)
        recipients = tuple(
            accounts[int(rand() * len(accounts))].email for _ in range(count)
        )
        aid, ip, ua, device, sid = s
        event = FileShared(
            event_id=self._ev(),
            ts=_stamp(t, UTC),
            account=aid,
            ip=ip,
            user_agent=ua,
            device_id=device,
            session_id=sid,
            file_id=stored.file_id,
            recipients=recipients,
        )
        out.append((t, event))

    def _link(self, account: Account, t: float, s: _Session, out: list[Timed]) -> None:
        rng = self._rng
        stored, t = self._some_file(account, t, s, out)
        link_id = link_token(rng)
        aid, ip, ua, device, sid = s
        event = LinkCreated(
            event_id=self._ev(),
            ts=_stamp(t, UTC),
            account=aid,
            ip=ip,
            user_agent=ua,
            device_id=device,
            session_id=sid,
            link_id=link_id,
            file_id=stored.file_id,
            url=SHARE_BASE_URL + link_id,
            public=self._rand() < 0.8,
        )
        out.append((t, event))
        self._links.append((link_id, stored.file_id))
        for _ in range(min(poisson(rng, self._b.link_accesses), 12)):
            self._access(link_id, stored.file_id, t + rng.expovariate(1 / 7200), out)

    def _access(self, link_id: str, file_id: str, t: float, out: list[Timed]) -> None:
        """Somebody else opens a link: a known account or an anonymous visitor."""
        rng, rand = self._rng, self._rand
        if t >= self._end:
            return
        account: str | None = None
        if rand() < 0.5:
            accounts = self._pop.accounts
            other = accounts[int(rand() * len(accounts))]
            account, ip, ua = other.account_id, other.ip_at(t, rng), other.devices[0][1]
        else:
            ip = COUNTRIES[int(rand() * len(COUNTRIES))].draw(rng)
            ua = _ALL_UAS[int(rand() * len(_ALL_UAS))]
        event: Event = LinkAccessed(
            event_id=self._ev(),
            ts=_stamp(t, UTC),
            account=account,
            ip=ip,
            user_agent=ua,
            link_id=link_id,
            file_id=file_id,
        )
        out.append((t, event))
        t += 1.0 + 19.0 * rand()
        if rand() < 0.7 and t < self._end:
            event = FileDownloaded(
                event_id=self._ev(),
                ts=_stamp(t, UTC),
                account=account,
                ip=ip,
                user_agent=ua,
                file_id=file_id,
                link_id=link_id,
            )
            out.append((t, event))

    def _download(
        self, account: Account, t: float, s: _Session, out: list[Timed]
    ) -> None:
        rand, ev = self._rand, self._ev
        aid, ip, ua, device, sid = s
        files, links = account.files, self._links
        if files and (rand() < 0.6 or not links):
            stored = files[int(rand() * len(files))]
            event: Event = FileDownloaded(
                event_id=ev(),
                ts=_stamp(t, UTC),
                account=aid,
                ip=ip,
                user_agent=ua,
                device_id=device,
                session_id=sid,
                file_id=stored.file_id,
            )
            out.append((t, event))
            return
        if not links:
            return
        link_id, file_id = links[int(rand() * len(links))]
        event = LinkAccessed(
            event_id=ev(),
            ts=_stamp(t, UTC),
            account=aid,
            ip=ip,
            user_agent=ua,
            device_id=device,
            session_id=sid,
            link_id=link_id,
            file_id=file_id,
        )
        out.append((t, event))
        t += 1.0 + 14.0 * rand()
        if t < self._end:
            event = FileDownloaded(
                event_id=ev(),
                ts=_stamp(t, UTC),
                account=aid,
                ip=ip,
                user_agent=ua,
                device_id=device,
                session_id=sid,
                file_id=file_id,
                link_id=link_id,
            )
            out.append((t, event))

    def _post_url(
        self, account: Account, t: float, s: _Session, out: list[Timed]
    ) -> None:
        rand = self._rand
        context = _CONTEXTS[int(rand() * len(_CONTEXTS))]
        file_id = None
        if context != "comment" and account.files:
            file_id = account.files[-1].file_id
        aid, ip, ua, device, sid = s
        event = UrlPosted(
            event_id=self._ev(),
            ts=_stamp(t, UTC),
            account=aid,
            ip=ip,
            user_agent=ua,
            device_id=device,
            session_id=sid,
            url=BENIGN_URLS[int(rand() * len(BENIGN_URLS))],
            context=context,
            file_id=file_id,
        )
        out.append((t, event))

    def _account_change(
        self, account: Account, t: float, s: _Session, out: list[Timed]
    ) -> None:
        rng = self._rng
        aid, ip, ua, device, sid = s
        common: dict[str, Any] = {
            "event_id": self._ev(),
            "ts": _stamp(t, UTC),
            "account": aid,
            "ip": ip,
            "user_agent": ua,
            "device_id": device,
            "session_id": sid,
        }
        r = rng.random()
        if r < 0.4:
            event: Event = PasswordChanged(**common)
            out.append((t, event))
        elif r < 0.6:
            event = MfaChanged(change="device_added", **common)
            out.append((t, event))
        elif r < 0.85:
            scopes = rng.choice(_SCOPES)
            event = ApiTokenCreated(
                token_id=hex_token(rng, 64), scopes=scopes, **common
            )
            out.append((t, event))
        else:
            local, domain = account.email.split("@", 1)
            others = [d for d in EMAIL_DOMAINS if d != domain]
            account.email = f"{local}@{rng.choice(others)}"
            event = EmailChanged(new_email=account.email, **common)
            out.append((t, event))
