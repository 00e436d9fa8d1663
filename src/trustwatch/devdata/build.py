"""Build a labelled development event stream from the real shared datasets.

:func:`build_dev_stream` reads ``shared/datasets`` in place and writes two
files to an output folder:

- ``events.jsonl``: logins from a raw OpenSSH log (through trustwatch's own
  adapter) and from Cowrie honeypot and legitimate SSH session tables; URL
  posts and link objects carrying real malicious and benign URLs; uploads
  carrying real malicious file hashes among random benign ones;
- ``truth.json``: a :class:`~trustwatch.devdata.truth.DevTruth` with the label
  and origin of every URL, hash and login source, the malicious event ids,
  the counts, and every labelling rule in words.

Timeline: each login source is shifted so its first event falls on ``start``
(keeping its own internal timing, bursts included); posts and uploads are
spread uniformly over the longest login source's span. Everything is sorted
by time, then id. The intel to load with the stream is the list of dataset
files in ``DevTruth.intel_feeds`` (URLhaus and PhishTank 2021-03).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from random import Random

import msgspec

from trustwatch.devdata.content import (
    benign_hash_labels,
    make_posters,
    malicious_hash_labels,
    upload_events,
    url_events,
)
from trustwatch.devdata.feeds import (
    COWRIE_SESSIONS,
    HASH_IOCS,
    LEGIT_SESSIONS,
    read_hash_iocs,
    read_sessions,
)
from trustwatch.devdata.labels import (
    BRUTE_FORCE_RULE,
    brute_force_sources,
    failed_passwords,
)
from trustwatch.devdata.logins import (
    openssh_logins,
    sample_by_source,
    session_logins,
    shift,
)
from trustwatch.devdata.truth import DevTruth, HashLabel, IpLabel, UrlLabel
from trustwatch.devdata.urls import INTEL_FEEDS, choose_urls, load_feeds
from trustwatch.errors import ConfigError
from trustwatch.events import Event, Login

__all__ = ["DEV_START", "DevStream", "DevStreamSizes", "build_dev_stream"]

logger = logging.getLogger(__name__)

DEV_START = datetime(2026, 11, 2, tzinfo=UTC)
"""Where every source of the stream starts by default."""

_LOG_YEAR = 2026  # the raw log has no year; any will do, the stream is shifted
_BRUTE_THRESHOLD = 10
_BRUTE_MINUTES = 10
_WRITE_BATCH = 10_000


@dataclass(frozen=True)
class DevStreamSizes:
    """How much of each kind the development stream samples.

    Parameters
    ----------
    sessions
        Sessions drawn from each honeypot table (whole sources at a time).
    malicious_urls
        Malicious URLs posted: half listed in the loaded intel, half not.
    benign_urls
        Benign URLs posted.
    malicious_hashes
        Files uploaded with a real malicious hash.
    benign_hashes
        Files uploaded with a random hash.
    accounts
        Synthetic accounts that post and upload.
    abusive_accounts
        How many of those post and upload the malicious content.
    """

    sessions: int = 2000
    malicious_urls: int = 400
    benign_urls: int = 2000
    malicious_hashes: int = 300
    benign_hashes: int = 3000
    accounts: int = 300
    abusive_accounts: int = 25

    def validate(self) -> None:
        """Raise :class:`~trustwatch.errors.ConfigError` on an unusable size."""
        for f in fields(self):
            value = getattr(self, f.name)
            if value < 0:
                raise ConfigError(f"{f.name}={value} is negative; hint: use 0 or more")
        if not 0 < self.abusive_accounts < self.accounts:
            raise ConfigError(
                f"abusive_accounts={self.abusive_accounts} with accounts="
                f"{self.accounts}; hint: need 0 < abusive_accounts < accounts"
            )


@dataclass(frozen=True)
class DevStream:
    """What :func:`build_dev_stream` wrote.

    Attributes
    ----------
    events_path, truth_path
        The two files.
    events
        Number of events written.
    counts
        Events per event type.
    sources
        Events per source (``openssh``, ``cowrie``, ``ssh_legitimate``,
        ``urls``, ``uploads``).
    dead_letters
        Lines of the raw SSH log the adapter could not turn into events.
    """

    events_path: Path
    truth_path: Path
    events: int
    counts: dict[str, int]
    sources: dict[str, int]
    dead_letters: int


def build_dev_stream(
    datasets: Path,
    out_dir: Path,
    *,
    seed: int = 7,
    sizes: DevStreamSizes | None = None,
    start: datetime = DEV_START,
) -> DevStream:
    """Build ``events.jsonl`` and ``truth.json`` from the shared datasets.

    Parameters
    ----------
    datasets
        The ``shared/datasets`` folder, read in place.
    out_dir
        Where to write; created when missing.
    seed
        Seed of every sample and synthetic draw: one seed, one stream.
    sizes
        How much to sample (defaults to :class:`DevStreamSizes`).
    start
        Timezone-aware instant every source starts at.

    Raises
    ------
    trustwatch.errors.ConfigError
        When a dataset file is missing or a size or ``start`` is unusable.
    """
    sizes = sizes or DevStreamSizes()
    sizes.validate()
    if start.tzinfo is None:
        raise ConfigError(f"start={start.isoformat()} has no timezone; hint: use UTC")
    if not datasets.is_dir():
        raise ConfigError(
            f"{datasets} is not a folder; hint: pass the path of shared/datasets"
        )

    logins = _Logins.read(datasets, seed, sizes.sessions, start)
    content = _Content.make(datasets, seed, sizes, start, logins.span)
    events = sorted([*logins.events, *content.events], key=attrgetter("ts", "event_id"))
    truth = _truth(seed, logins, content, events)
    stream = _write(out_dir, events, truth, logins.dead_letters)
    logger.info("dev stream: %d events written to %s", stream.events, out_dir)
    return stream


@dataclass
class _Logins:
    """Login events of the three SSH sources, shifted, with their labels."""

    events: list[Login]
    sources: dict[str, int]
    ips: list[IpLabel]
    malicious: set[str]
    span: timedelta
    dead_letters: int

    @classmethod
    def read(cls, datasets: Path, seed: int, budget: int, start: datetime) -> _Logins:
        raw, lines, dead = openssh_logins(datasets, _LOG_YEAR)
        brute = brute_force_sources(
            failed_passwords(lines, _LOG_YEAR),
            threshold=_BRUTE_THRESHOLD,
            minutes=_BRUTE_MINUTES,
        )
        openssh, ssh_span = shift(raw, start)
        cowrie, cowrie_span = shift(
            _sessions(datasets, COWRIE_SESSIONS, seed, budget, "cowrie"), start
        )
        legit, legit_span = shift(
            _sessions(datasets, LEGIT_SESSIONS, seed, budget, "sshlegit"), start
        )

        malicious = {e.event_id for e in cowrie}
        malicious.update(e.event_id for e in openssh if e.ip in brute)
        return cls(
            events=[*openssh, *cowrie, *legit],
            sources={
                "openssh": len(openssh),
                "cowrie": len(cowrie),
                "ssh_legitimate": len(legit),
            },
            ips=_ip_labels(openssh, brute, cowrie, legit),
            malicious=malicious,
            span=max(ssh_span, cowrie_span, legit_span),
            dead_letters=dead,
        )


def _sessions(
    datasets: Path, relative: str, seed: int, budget: int, prefix: str
) -> list[Login]:
    rows = read_sessions(datasets, relative)
    picked = sample_by_source(rows, budget, Random(f"{seed}/{prefix}"))
    return session_logins(picked, prefix)


def _ip_labels(
    openssh: Iterable[Login],
    brute: set[str],
    cowrie: Iterable[Login],
    legit: Iterable[Login],
) -> list[IpLabel]:
    """Label every login source; an attacker label wins over any other."""
    labels: dict[str, IpLabel] = {}
    for ip in {e.ip for e in openssh if e.ip}:
        labels[ip] = IpLabel(ip=ip, label="unlabelled", source="openssh-log")
    for ip in {e.ip for e in legit if e.ip}:
        labels[ip] = IpLabel(ip=ip, label="benign", source="ssh-legitimate")
    for ip in {e.ip for e in cowrie if e.ip}:
        labels[ip] = IpLabel(ip=ip, label="attacker", source="cowrie-honeypot")
    for ip in brute:
        labels[ip] = IpLabel(ip=ip, label="attacker", source="openssh-bruteforce-rule")
    return sorted(labels.values(), key=attrgetter("ip"))


@dataclass
class _Content:
    """URL posts and uploads by synthetic accounts, with their labels."""

    events: list[Event]
    urls: list[UrlLabel]
    hashes: list[HashLabel]
    accounts: list[str]
    malicious: set[str]

    @classmethod
    def make(
        cls,
        datasets: Path,
        seed: int,
        sizes: DevStreamSizes,
        start: datetime,
        span: timedelta,
    ) -> _Content:
        rng = Random(f"{seed}/content")
        posters = make_posters(rng, sizes.accounts, sizes.abusive_accounts)
        urls = choose_urls(
            load_feeds(datasets),
            rng,
            malicious=sizes.malicious_urls,
            benign=sizes.benign_urls,
        )
        hashes = _hash_labels(datasets, rng, sizes)
        ids = [f"dev-{seed}-{n:06d}" for n in range(len(urls) + len(hashes))]
        url_ids, hash_ids = ids[: len(urls)], ids[len(urls) :]

        events = url_events(urls, posters, rng, start=start, span=span, ids=url_ids)
        events += upload_events(
            hashes, posters, rng, start=start, span=span, ids=hash_ids
        )
        malicious = {i for i, u in zip(url_ids, urls, strict=True) if u.malicious}
        malicious.update(
            i for i, h in zip(hash_ids, hashes, strict=True) if h.malicious
        )
        return cls(
            events=events,
            urls=urls,
            hashes=hashes,
            accounts=sorted(p.account for p in posters if p.abusive),
            malicious=malicious,
        )


def _hash_labels(datasets: Path, rng: Random, sizes: DevStreamSizes) -> list[HashLabel]:
    """Sample malicious IOC hashes and make benign ones of the same algorithms."""
    iocs = read_hash_iocs(datasets)
    picked = rng.sample(iocs, min(sizes.malicious_hashes, len(iocs)))
    bad = malicious_hash_labels(picked, HASH_IOCS.split("/", 1)[0])
    avoid = {i.value for i in iocs}
    good = benign_hash_labels(
        rng, sizes.benign_hashes, avoid, [h.algorithm for h in bad]
    )
    return [*bad, *good]


def _truth(
    seed: int, logins: _Logins, content: _Content, events: Sequence[Event]
) -> DevTruth:
    counts = Counter(str(type(e).__struct_config__.tag) for e in events)
    sources = {
        **logins.sources,
        "urls": len(content.urls),
        "uploads": len(content.hashes),
    }
    return DevTruth(
        seed=seed,
        start=events[0].ts if events else DEV_START,
        end=events[-1].ts if events else DEV_START,
        intel_feeds=INTEL_FEEDS,
        rules=_RULES,
        counts=dict(sorted(counts.items())),
        sources=sources,
        urls=tuple(content.urls),
        hashes=tuple(content.hashes),
        ips=tuple(logins.ips),
        accounts=tuple(content.accounts),
        malicious_event_ids=tuple(
            e.event_id
            for e in events
            if e.event_id in logins.malicious or e.event_id in content.malicious
        ),
    )


_RULES = {
    "openssh_bruteforce": BRUTE_FORCE_RULE.format(
        threshold=_BRUTE_THRESHOLD, minutes=_BRUTE_MINUTES
    )
    + "; its events are malicious, other sources of the log stay unlabelled",
    "honeypot": (
        "every source of the Cowrie honeypot table (label 0) is an attacker and "
        "all its logins are malicious; sources are sampled whole"
    ),
    "ssh_legitimate": (
        "every source of the legitimate SSH table (label 1) is benign; the table "
        "looks semi-synthetic, so use it for plumbing, not headline numbers"
    ),
    "listed_urls": "sampled from the intel feeds loaded with the stream",
    "unlisted_urls": (
        "sampled from phishtank-2020-05 and openphish-2024h2; neither the "
        "canonical URL nor its host is in a loaded intel feed"
    ),
    "benign_urls": (
        "sampled from iscx-url2016-benign; neither the canonical URL nor its "
        "host is in any malicious feed here"
    ),
    "hashes": (
        "malicious: sampled from hashes-signature-base hash IOCs (algorithm by "
        "length); benign: random digests of the same algorithms"
    ),
    "timeline": (
        "each login source shifted to start at `start`, keeping its own timing; "
        "posts and uploads uniform over the longest login source's span"
    ),
}


def _write(
    out_dir: Path, events: Sequence[Event], truth: DevTruth, dead: int
) -> DevStream:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create {out_dir}: {exc.strerror}; hint: choose a writable folder"
        ) from exc
    encoder = msgspec.json.Encoder()
    events_path, truth_path = out_dir / "events.jsonl", out_dir / "truth.json"
    with events_path.open("wb") as sink:
        for i in range(0, len(events), _WRITE_BATCH):
            sink.write(encoder.encode_lines(events[i : i + _WRITE_BATCH]))
    truth_path.write_bytes(msgspec.json.format(encoder.encode(truth), indent=2))
    return DevStream(
        events_path=events_path,
        truth_path=truth_path,
        events=len(events),
        counts=dict(truth.counts),
        sources=dict(truth.sources),
        dead_letters=dead,
    )
