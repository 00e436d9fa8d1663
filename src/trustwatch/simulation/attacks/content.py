"""Abuse of the platform's content: malicious URLs and a spreading malware file."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from trustwatch.events.model import (
    AccountCreated,
    FileDownloaded,
    FileShared,
    FileUploaded,
    LinkAccessed,
    LinkCreated,
    Login,
    UrlPosted,
)
from trustwatch.simulation.attack_urls import BRANDS, malware_url, phishing_url
from trustwatch.simulation.attacks.base import AttackContext, takeover
from trustwatch.simulation.benign import UrlContext
from trustwatch.simulation.catalog import (
    DESKTOP_USER_AGENTS,
    MOBILE_USER_AGENTS,
    SHARE_BASE_URL,
)
from trustwatch.simulation.ids import at, token
from trustwatch.simulation.netblocks import COUNTRIES
from trustwatch.simulation.population import Account
from trustwatch.simulation.scales import LinkCampaignScale, MalwareSpreadScale

__all__ = [
    "EICAR_MD5",
    "EICAR_SHA1",
    "EICAR_SHA256",
    "LINK_CAMPAIGN_SPAN",
    "MALWARE_SPREAD_SPAN",
    "link_campaign",
    "malware_links",
    "malware_spread",
    "phishing_links",
]

EICAR_SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
"""SHA-256 of the EICAR anti-virus test file, the simulated malware."""
EICAR_SHA1 = "3395856ce81f2b7382dee72602f798b642f14140"
"""SHA-1 of the EICAR test file."""
EICAR_MD5 = "44d88612fea8a8f36de82e1278abb02f"
"""MD5 of the EICAR test file."""
_EICAR_SIZE = 68

LINK_CAMPAIGN_SPAN = 4 * 3_600.0
"""Longest a URL-posting campaign lasts, in seconds."""

MALWARE_SPREAD_SPAN = 12 * 3_600.0
"""Longest a malware outbreak lasts, in seconds."""

_CONTEXTS: tuple[UrlContext, ...] = ("comment", "comment", "document", "preview")
_LURE_NAMES = (
    ("Invoice_{n}.pdf.exe", "application/x-msdownload"),
    ("Payment_Advice_{n}.zip", "application/zip"),
    ("scan_{n}.scr", "application/x-msdownload"),
    ("Shipping_Label_{n}.exe", "application/x-msdownload"),
    ("Salary_Review_{n}.js", "text/javascript"),
)
_VISITOR_UAS = DESKTOP_USER_AGENTS + MOBILE_USER_AGENTS


def link_campaign(
    ctx: AttackContext,
    start: float,
    scale: LinkCampaignScale,
    make_url: Callable[[], str],
) -> None:
    """Fake and taken-over accounts post a set of malicious URLs.

    Parameters
    ----------
    ctx
        The campaign's context.
    start
        When the first posting account logs in, in epoch seconds.
    scale
        How many accounts, URLs and posts.
    make_url
        Returns a new malicious URL on each call.
    """
    rng = ctx.rng
    urls = sorted({make_url() for _ in range(rng.randint(*scale.urls))})
    ctx.recorder.urls.update(urls)
    if scale.unlisted_share > 0.0 and urls:
        hidden = max(1, round(len(urls) * scale.unlisted_share))
        ctx.recorder.unlisted_urls.update(rng.sample(urls, hidden))

    posts = [u for u in urls for _ in range(rng.randint(*scale.posts_per_url))]
    rng.shuffle(posts)
    posters = rng.randint(*scale.accounts)
    for index in range(posters):
        mine = posts[index::posters]
        t = start + rng.uniform(0.0, 1_800.0)
        if rng.random() < scale.fake_account_share:
            common, t = _fake_account(ctx, t)
        else:
            victim = ctx.victim()
            common = takeover(ctx, victim, t, ctx.attacker_ip(), ctx.attacker_agent())
        for url in mine:
            t += rng.uniform(20.0, 300.0)
            ctx.emit(
                UrlPosted(
                    event_id=ctx.ids.event(),
                    ts=at(t),
                    url=url,
                    context=rng.choice(_CONTEXTS),
                    **common,
                )
            )


def phishing_links(ctx: AttackContext, start: float, scale: LinkCampaignScale) -> None:
    """A campaign of look-alike pages imitating one brand; see :func:`link_campaign`."""
    brand = ctx.rng.choice(sorted(BRANDS))
    link_campaign(ctx, start, scale, lambda: phishing_url(ctx.rng, brand))


def malware_links(ctx: AttackContext, start: float, scale: LinkCampaignScale) -> None:
    """A campaign of malware-download URLs; see :func:`link_campaign`."""
    link_campaign(ctx, start, scale, lambda: malware_url(ctx.rng))


def _fake_account(ctx: AttackContext, t: float) -> tuple[dict[str, Any], float]:
    """Sign up an attacker account and log it in; return its session fields."""
    rng, ev = ctx.rng, ctx.ids.event
    account_id = ctx.population.reserve_id()
    email = ctx.fake_email()
    ip, ua = ctx.attacker_ip(), ctx.attacker_agent(browser_share=0.6)
    ctx.emit(
        AccountCreated(
            event_id=ev(),
            ts=at(t),
            account=account_id,
            ip=ip,
            user_agent=ua,
            email=email,
        )
    )
    t += rng.uniform(20.0, 120.0)
    common: dict[str, Any] = {
        "account": account_id,
        "ip": ip,
        "user_agent": ua,
        "session_id": ctx.ids.session(),
    }
    ctx.emit(Login(event_id=ev(), ts=at(t), success=True, username=email, **common))
    ctx.recorder.accounts.add(account_id)
    ctx.recorder.ips.add(ip)
    return common, t


def malware_spread(ctx: AttackContext, start: float, scale: MalwareSpreadScale) -> None:
    """A taken-over account shares a malicious file; recipients pass it on.

    Every copy has the EICAR test file's hashes. Each uploader shares it with
    several accounts; at least one recipient opens it, uploads it again and
    shares it onwards, until the outbreak reaches its number of uploaders.
    Some uploaders also publish a link that many addresses open.
    """
    rng = ctx.rng
    for name in (EICAR_SHA256, EICAR_SHA1, EICAR_MD5):
        ctx.recorder.hashes.add(name)
    patient = ctx.victim()
    common = takeover(ctx, patient, start, ctx.attacker_ip(), ctx.attacker_agent())
    frontier: deque[tuple[Account, float, dict[str, Any]]] = deque(
        [(patient, start + rng.uniform(30.0, 300.0), common)]
    )
    for _ in range(rng.randint(*scale.uploaders)):
        if not frontier:
            break
        account, t, common = frontier.popleft()
        file_id, t = _upload_and_share(ctx, account, t, common, scale, frontier)
        if rng.random() < scale.link_share:
            _publish_link(ctx, file_id, t + rng.uniform(10.0, 120.0), common, scale)


def _upload_and_share(
    ctx: AttackContext,
    account: Account,
    t: float,
    common: dict[str, Any],
    scale: MalwareSpreadScale,
    frontier: deque[tuple[Account, float, dict[str, Any]]],
) -> tuple[str, float]:
    """Upload the file, share it, and queue the recipients who will pass it on."""
    rng, ev = ctx.rng, ctx.ids.event
    file_id = ctx.ids.file()
    name, mime = rng.choice(_LURE_NAMES)
    ctx.emit(
        FileUploaded(
            event_id=ev(),
            ts=at(t),
            file_id=file_id,
            name=name.format(n=rng.randint(100, 9999)),
            size=_EICAR_SIZE,
            mime_type=mime,
            sha256=EICAR_SHA256,
            sha1=EICAR_SHA1,
            md5=EICAR_MD5,
            **common,
        )
    )
    ctx.recorder.accounts.add(account.account_id)
    ctx.recorder.file_ids.add(file_id)

    t += rng.uniform(5.0, 60.0)
    recipients = ctx.victims(rng.randint(*scale.recipients))
    emails = tuple(r.email for r in recipients)
    ctx.emit(
        FileShared(
            event_id=ev(), ts=at(t), file_id=file_id, recipients=emails, **common
        )
    )
    for index, recipient in enumerate(recipients):
        if index == 0 or rng.random() < 0.3:
            frontier.append(_open_share(ctx, recipient, file_id, t))
    return file_id, t


def _open_share(
    ctx: AttackContext, recipient: Account, file_id: str, t: float
) -> tuple[Account, float, dict[str, Any]]:
    """The recipient downloads the shared file from home, some time later."""
    rng = ctx.rng
    t += rng.uniform(600.0, 5_400.0)
    device, ua = recipient.devices[0]
    common: dict[str, Any] = {
        "account": recipient.account_id,
        "ip": recipient.ips[0],
        "user_agent": ua,
        "device_id": device,
        "session_id": ctx.ids.session(),
    }
    ctx.emit(
        FileDownloaded(event_id=ctx.ids.event(), ts=at(t), file_id=file_id, **common)
    )
    return recipient, t + rng.uniform(60.0, 1_800.0), common


def _publish_link(
    ctx: AttackContext,
    file_id: str,
    t: float,
    common: dict[str, Any],
    scale: MalwareSpreadScale,
) -> None:
    """Create a public link to the file; many anonymous visitors open it."""
    rng, ev = ctx.rng, ctx.ids.event
    link_id = token(rng, 12)
    ctx.emit(
        LinkCreated(
            event_id=ev(),
            ts=at(t),
            link_id=link_id,
            file_id=file_id,
            url=SHARE_BASE_URL + link_id,
            **common,
        )
    )
    ctx.recorder.link_ids.add(link_id)
    for _ in range(rng.randint(*scale.link_accesses)):
        seen = t + rng.expovariate(1.0 / 1_800.0)
        ip, ua = rng.choice(COUNTRIES).draw(rng), rng.choice(_VISITOR_UAS)
        visit: dict[str, Any] = {"ip": ip, "user_agent": ua}
        ctx.emit(
            LinkAccessed(
                event_id=ev(), ts=at(seen), link_id=link_id, file_id=file_id, **visit
            )
        )
        if rng.random() < 0.8:
            ctx.emit(
                FileDownloaded(
                    event_id=ev(),
                    ts=at(seen + rng.uniform(1.0, 20.0)),
                    file_id=file_id,
                    link_id=link_id,
                    **visit,
                )
            )
