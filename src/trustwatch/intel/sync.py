"""Keep feeds current: fetch what is due, store indicators in SQLite, report.

:func:`sync_feeds` walks a :class:`~trustwatch.intel.feedlist.FeedList`, skips
the feeds that are not due, fetches the others and applies each one to an
:class:`IntelDatabase` in its own transaction, with its checkpoint. A crash
part-way leaves every feed either fully applied (and not due again until its
next time) or untouched, so the next run resumes with the feeds not yet done.

Fetching:

- HTTP(S) feeds are fetched with httpx using conditional requests
  (``If-None-Match`` / ``If-Modified-Since`` from the last ``ETag`` and
  ``Last-Modified``); a ``304`` changes nothing and reports ``not_modified``
  (a ``304`` to a request that sent no validators fails the feed).
  Timeouts, ``429``, ``5xx`` and connection errors are retried with
  exponential back-off and jitter, or after the server's ``Retry-After``
  when it asks for longer (a wait that would end past the deadline fails
  the feed at once); other errors are not. A redirect must stay
  on the same host and port (an ``http`` to ``https`` upgrade on the default
  ports excepted); the body is decoded (``Content-Encoding`` gzip, deflate
  or zstd; another coding, or a compressed stream that stops before its
  end, fails the feed), limited to the feed's ``max_bytes`` (after
  decompression) and written to a temporary file read with
  :func:`~trustwatch.intel.feeds.load_feed`. No proxy is taken from the
  environment: only the feed's ``proxy`` is used.
- A ``misp_feed`` URL names a MISP feed folder published over HTTP: its
  ``manifest.json`` is fetched (conditionally), then only the ``<uuid>.json``
  events that are new or whose manifest ``timestamp`` changed, each with the
  same guards (same host, ``max_bytes``, retries). Unchanged events are read
  from the copies the database keeps, so a snapshot still sees every event;
  events gone from the manifest leave with their records. A manifest key
  that is not a uuid, or an event that cannot be fetched, is a reject
  (``malformed_record``, ``missing_event`` for a 404, ``event_unavailable``
  otherwise), not a failure of the feed; an unavailable event keeps its last
  copy and is fetched again on the next sync.
- Local paths are loaded when their files' sizes or modification times
  changed.
- TAXII 2.1 collections are polled with ``added_after`` set to the last
  poll's checkpoint; envelope entries that are not STIX objects are
  ``malformed_record`` rejects. A date-added time more than five minutes
  after the sync's time is not kept as the checkpoint (every later poll would
  get nothing): the sync's time is, with a warning in the feed's report.
  Every answer of a poll is held to the feed's ``deadline`` and, together,
  to its ``max_bytes`` (after decompression) while it is read; failed
  requests are retried as for HTTP feeds (``retries``, the same back-off
  and ``Retry-After``).

Each feed's fetch has a ``deadline`` for the whole download, redirects and
retries included: no request waits longer than the time left (connecting,
waiting for the headers, each read), no redirect or retry starts after it,
a server that drips its body is cut off and the feed fails, the other feeds
still run. A file that decompresses (gzip) to more than
``max_bytes`` is refused while it is read, local or downloaded.

Applying: records are keyed by (feed, type, value). In ``snapshot`` mode a
value the feed no longer lists is removed; in ``incremental`` mode values
leave when they expire, when they are revoked, or when a newer version of
their STIX indicator no longer names them (an older version than the one
a feed gave is a ``superseded`` reject). A STIX revocation removes the
revoking feed's records of that id and keeps them out; it never reaches
another feed's records, even when both objects name the same creator
(``created_by_ref`` is only what a feed says); a revocation that finds no
records of the feed is ``skipped`` as ``revoked``. A feed's revocations leave
with the feed. Records that arrive already
expired are not stored (``skipped`` as ``already_expired``). A
feed's ``expires`` gives records without an expiry one, renewed each time the
feed lists them again; a snapshot feed answering ``304 Not Modified`` (or a
local path whose files did not change) lists them again too. Records whose
own, source-given expiry is earlier keep it. Expired records are purged on
every sync; when a snapshot feed loses records to its default expiry, its
validators are forgotten so the next fetch is unconditional and brings
back whatever the source still lists.

Guarding snapshots: a snapshot fetch is refused as a failure, removing
nothing, when

- it gives no usable record but has rejected rows (an HTML error page, the
  wrong format): always;
- it gives nothing at all while the feed holds records (an empty download
  is likelier a fault than an emptied list), unless the sync accepts empty
  snapshots (``accept_empty``; fetching before a feed is due does not);
- more than 80 % of its rows are rejected while the feed holds records (a
  broken or changed format would otherwise empty the feed).

Rows skipped on purpose (``to_ids`` false, observations, types no matcher
uses) are neither usable nor rejected: they are reported as ``skipped``.

Feeds held in the database that the feed list no longer names are dropped,
records, revocations and checkpoint, by :func:`sync_feeds` (reported with status
``dropped``) unless it is told to keep them.

Concurrency: :func:`sync_lock` takes an exclusive lock on ``<db>.lock`` for
a sync's run, so overlapping runs (cron) never interleave; the second one
fails at once naming the database. SQLite itself waits up to 30 seconds for
a busy database, then the sync fails with :class:`StorageError`.

Logging: nothing sync logs or reports carries a URL's query string or user
info (:func:`~trustwatch.intel.feedlist.redact_url`), and the ``httpx``
logger's request lines are redacted the same way.

Failures: a feed that fails keeps what it had and is due again after five
minutes, doubling with each consecutive failure, never later than its
``every``; its checkpoint counts the failures and keeps the last error. Its
report says when it is tried again; until it succeeds, a sync that skips it
as not yet due reports it ``failing`` (in :attr:`SyncReport.failed`).
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import logging
import os
import random as random_module
import re
import sqlite3
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, Protocol, TypeAlias
from urllib.parse import urljoin, urlsplit

import httpx
import msgspec
import zstandard

from trustwatch.errors import (
    ConfigError,
    IntelSourceError,
    InvalidIndicatorError,
    StorageError,
)
from trustwatch.intel._files import read_limit
from trustwatch.intel._times import parse_feed_time
from trustwatch.intel.feedlist import FeedList, FeedSpec, redact_url
from trustwatch.intel.feeds import FeedLoad, Reject, load_feed, resolve_feed_paths
from trustwatch.intel.indicators import (
    Indicator,
    merge_indicators,
    normalize_indicator,
)
from trustwatch.intel.stix_patterns import (
    PatternIndicator,
    make_pattern_indicator,
    parse_pattern,
)
from trustwatch.intel.store import IndicatorStore
from trustwatch.locks import exclusive_lock

if TYPE_CHECKING:
    from trustwatch.intel.allowlists import AllowList
    from trustwatch.intel.taxii import TaxiiPoll, TaxiiSource

__all__ = [
    "Checkpoint",
    "FeedFetcher",
    "FeedReport",
    "FeedStatus",
    "Fetched",
    "Fetcher",
    "IntelDatabase",
    "RejectExample",
    "StoredIndicator",
    "SyncReport",
    "sync_feeds",
    "sync_lock",
]

log = logging.getLogger(__name__)

FeedStatus: TypeAlias = Literal[
    "updated", "not_modified", "failed", "skipped_not_due", "disabled", "dropped"
]

_SCHEMA_VERSION: Final = 1
_REJECT_EXAMPLES: Final = 3
_MAX_REDIRECTS: Final = 5
_BASE_DELAY: Final = 1.0
_MAX_DELAY: Final = 60.0
_FAILURE_RETRY: Final = timedelta(minutes=5)
_RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_POSITION: Final = re.compile(r"(?:line|record) \d+|[^:\s]*:\d+")
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_USER_AGENT: Final = "trustwatch-intel-sync"
_SAFE_NAME: Final = re.compile(r"[^A-Za-z0-9_.-]+")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_MISP_MANIFEST: Final = "manifest.json"
_EVENT_UUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_GONE_STATUSES: Final = frozenset({404, 410})
# share of a snapshot's rows that may be rejected while the feed holds records
_MOST_REJECTED: Final = 0.8
_URL_IN_TEXT: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
# punctuation that ends a sentence after a URL rather than belongs to it
_AFTER_URL: Final = ".,;:!?)]}"
# how far in the future a TAXII date-added time may be (server clock skew)
_CLOCK_SKEW: Final = timedelta(minutes=5)
_CONDITIONAL_HEADERS: Final = ("If-None-Match", "If-Modified-Since")


def _redact_text(text: str) -> str:
    """Return ``text`` with every URL in it shown without query or user info.

    Punctuation right after a URL (``;``, ``:``, ``,``...) ends the sentence
    and is kept outside it.
    """

    def redact(found: re.Match[str]) -> str:
        url = found.group(0)
        bare = url.rstrip(_AFTER_URL)
        return redact_url(bare) + url[len(bare) :]

    return _URL_IN_TEXT.sub(redact, text)


class _RedactUrls(logging.Filter):
    """Rewrite a log record's message so that no URL keeps its query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; always keep it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        record.msg, record.args = _redact_text(message), None
        return True


for _name in ("httpx", "httpcore"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _RedactUrls) for f in _logger.filters):
        _logger.addFilter(_RedactUrls())

_encode = msgspec.msgpack.Encoder().encode
_decode_indicator = msgspec.msgpack.Decoder(Indicator).decode


# --- reports ------------------------------------------------------------------------


class RejectExample(msgspec.Struct, frozen=True, kw_only=True):
    """One rejected record, as an example in a report (no raw content)."""

    location: str
    reason: str
    message: str


class FeedReport(msgspec.Struct, kw_only=True):
    """What one sync did to one feed.

    Attributes
    ----------
    feed
        The feed's name.
    status
        ``updated`` (fetched and applied), ``not_modified`` (the source said
        nothing changed), ``failed`` (see ``reason``), ``skipped_not_due``,
        ``disabled`` or ``dropped`` (no longer in the feed list: its records,
        counted in ``removed``, revocations and checkpoint were deleted).
    reason
        Why it failed, with a hint; ``None`` otherwise.
    source
        The source, without credentials or query.
    added
        Values new to the feed.
    updated
        Values the feed listed before whose record changed.
    unchanged
        Values listed again, unchanged.
    removed
        Values a snapshot feed no longer lists, and values an older version
        of a STIX indicator named that its newer version no longer does.
    expired
        Stored records dropped because their expiry passed (records that
        arrive already expired are ``skipped`` as ``already_expired``).
    revoked
        Records dropped because this feed revoked their STIX id (its own).
    rejected
        Records that gave no indicator.
    rejected_by_reason
        ``rejected`` per reason code.
    skipped
        Records left out on purpose (``to_ids`` false, observations,
        unsupported types, already expired): neither stored nor rejected.
    skipped_by_reason
        ``skipped`` per reason.
    reject_examples
        The first few rejects.
    total
        Records of the feed stored after the sync.
    next_due
        When the feed is next due.
    failing
        The feed's latest attempt failed: in this sync (status ``failed``),
        or in an earlier one when it is skipped as not yet due (``reason``
        then says why and when it is tried again).
    warnings
        What went wrong without failing the feed (e.g. a TAXII server's
        date-added time in the future, not kept as the checkpoint).
    """

    feed: str
    status: FeedStatus
    reason: str | None = None
    source: str = ""
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    expired: int = 0
    revoked: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = msgspec.field(default_factory=dict)
    skipped: int = 0
    skipped_by_reason: dict[str, int] = msgspec.field(default_factory=dict)
    reject_examples: list[RejectExample] = msgspec.field(default_factory=list)
    total: int = 0
    next_due: datetime | None = None
    failing: bool = False
    warnings: list[str] = msgspec.field(default_factory=list)

    def note_rejects(self, rejects: Iterable[Reject]) -> None:
        """Count rejects by reason and keep the first few as examples."""
        counts = Counter(self.rejected_by_reason)
        for reject in rejects:
            counts[reject.reason] += 1
            self.rejected += 1
            if len(self.reject_examples) < _REJECT_EXAMPLES:
                self.reject_examples.append(
                    RejectExample(
                        location=reject.location,
                        reason=reject.reason,
                        message=reject.message,
                    )
                )
        self.rejected_by_reason = dict(counts)

    def note_skipped(self, skipped: Mapping[str, int]) -> None:
        """Add records skipped on purpose, by reason."""
        counts = Counter(self.skipped_by_reason)
        counts.update(skipped)
        self.skipped += sum(skipped.values())
        self.skipped_by_reason = dict(counts)


class SyncReport(msgspec.Struct, kw_only=True):
    """What one :func:`sync_feeds` run did, feed by feed, in feed-list order."""

    at: datetime
    feeds: list[FeedReport]

    @property
    def failed(self) -> list[FeedReport]:
        """Return the reports of feeds that failed, or are still failing.

        A feed skipped as not yet due whose last attempt failed counts: it
        has not recovered (see :attr:`FeedReport.failing`).
        """
        return [
            report
            for report in self.feeds
            if report.status == "failed" or report.failing
        ]

    def get(self, feed: str) -> FeedReport:
        """Return the report of one feed.

        Raises
        ------
        KeyError
            When the feed was not in the run.
        """
        for report in self.feeds:
            if report.feed == feed:
                return report
        raise KeyError(feed)

    def to_json(self) -> bytes:
        """Return the report as JSON."""
        return msgspec.json.encode(self)


# --- fetching -----------------------------------------------------------------------


class Checkpoint(msgspec.Struct, kw_only=True):
    """What the database remembers about a feed between syncs."""

    feed: str
    etag: str | None = None
    last_modified: str | None = None
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    next_due: datetime | None = None
    failures: int = 0
    added_after: str | None = None
    fingerprint: str | None = None
    last_status: str | None = None
    last_error: str | None = None
    events: dict[str, str] | None = None


@dataclass(slots=True)
class Fetched:
    """What a fetch gave.

    Attributes
    ----------
    not_modified
        The source reported no change: nothing else is set.
    files
        Feed files (or a MISP feed folder) to read with ``load_feed``.
    objects
        STIX objects from a TAXII poll, instead of files.
    etag, last_modified
        Validators for the next conditional request (for local paths,
        ``etag`` is a digest of the files' sizes and times).
    added_after
        TAXII checkpoint for the next poll.
    events
        For a MISP feed over HTTP: the manifest timestamp of each event the
        folder in ``files`` holds or should hold, by uuid.
    kept_events
        Events of ``events`` not fetched again: their last copies, kept by
        the database, complete the folder before it is read.
    rejects
        Records refused while fetching (manifest keys, unavailable events,
        TAXII envelope entries that are not STIX objects).
    """

    not_modified: bool = False
    files: list[Path] = field(default_factory=list)
    objects: list[dict[str, Any]] | None = None
    etag: str | None = None
    last_modified: str | None = None
    added_after: str | None = None
    events: dict[str, str] | None = None
    kept_events: list[str] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)


class Fetcher(Protocol):
    """Fetches one feed into ``workdir``; raises on failure."""

    def __call__(
        self, feed: FeedSpec, checkpoint: Checkpoint | None, workdir: Path
    ) -> Fetched:
        """Fetch ``feed``; ``checkpoint`` is ``None`` for a full refetch."""
        ...


class _Retryable(Exception):
    """A transient HTTP failure worth another attempt.

    ``retry_after`` is the answer's ``Retry-After`` header, if any.
    """

    def __init__(self, message: str, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class _Gone(IntelSourceError):
    """The server says the resource does not exist (404 or 410)."""


class FeedFetcher:
    """The default fetcher: HTTP(S) with httpx, local paths, TAXII 2.1.

    Parameters
    ----------
    sleep
        Called with the back-off delay in seconds between attempts.
    random
        Returns a float in [0, 1) for the jitter.
    transport
        An httpx transport to use instead of the network (tests).
    environ
        Where credentials named by ``headers_env`` and the TAXII
        ``*_env`` keys are looked up.
    clock
        Monotonic seconds, for each feed's ``deadline``.
    """

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = random_module.random,
        transport: httpx.BaseTransport | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sleep = sleep
        self.clock = clock
        self._deadline = float("inf")
        self.random = random
        self.transport = transport
        self.environ: Mapping[str, str] = os.environ if environ is None else environ

    def __call__(
        self, feed: FeedSpec, checkpoint: Checkpoint | None, workdir: Path
    ) -> Fetched:
        """Fetch ``feed`` from its source.

        Raises
        ------
        IntelSourceError
            When the source cannot be read (after the retries, for HTTP).
        ConfigError
            When a local path names no file.
        """
        self._deadline = self.clock() + feed.deadline
        if feed.url is not None and feed.format == "misp_feed":
            return self._fetch_misp_feed(feed, feed.url, checkpoint, workdir)
        if feed.url is not None:
            return self._fetch_http(feed, feed.url, checkpoint, workdir)
        if feed.path is not None:
            return _fetch_path(feed.path, checkpoint)
        return self._fetch_taxii(feed, checkpoint)

    def delay(self, attempt: int) -> float:
        """Return the back-off before retry number ``attempt`` (from 0).

        Exponential from one second, capped at a minute, with equal jitter:
        between half and all of the exponential step.
        """
        step = min(_MAX_DELAY, _BASE_DELAY * 2.0**attempt)
        return step / 2 + step / 2 * self.random()

    def retry_wait(self, attempt: int, retry_after: str | None) -> float:
        """Return the wait before retry number ``attempt`` (from 0).

        The back-off of :meth:`delay`, or the server's ``Retry-After``
        (seconds or an HTTP date) when that asks for longer; whether the
        wait fits before the feed's deadline is the caller's to check.
        """
        return max(self.delay(attempt), _retry_after_seconds(retry_after) or 0.0)

    # --- HTTP ---------------------------------------------------------------------

    def _fetch_http(
        self, feed: FeedSpec, url: str, checkpoint: Checkpoint | None, workdir: Path
    ) -> Fetched:
        """GET the feed with retries; see the module docstring."""
        with self._client(feed) as client:
            return self._get_with_retries(client, feed, url, checkpoint, workdir)

    def _client(self, feed: FeedSpec) -> httpx.Client:
        """Return an HTTP client with the feed's proxy and timeout."""
        try:
            return httpx.Client(
                trust_env=False,
                proxy=feed.proxy,
                follow_redirects=False,
                timeout=feed.timeout,
                transport=self.transport,
            )
        except (ValueError, httpx.InvalidURL) as exc:
            raise IntelSourceError(
                f"feed {feed.name}: cannot use proxy {redact_url(feed.proxy or '')}: "
                f"{type(exc).__name__}; hint: write proxy as http://host:port"
            ) from exc

    def _get_with_retries(
        self,
        client: httpx.Client,
        feed: FeedSpec,
        url: str,
        checkpoint: Checkpoint | None,
        workdir: Path,
        name: str | None = None,
    ) -> Fetched:
        """GET one URL, conditionally when ``checkpoint`` has validators.

        ``name`` is the file to save the body as (by default named after the
        feed and the URL).
        """
        headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "gzip"}
        if checkpoint is not None and checkpoint.etag:
            headers["If-None-Match"] = checkpoint.etag
        if checkpoint is not None and checkpoint.last_modified:
            headers["If-Modified-Since"] = checkpoint.last_modified
        for header, variable in feed.headers_env.items():
            headers[header] = self._secret(feed, variable, f"headers_env.{header}")
        for attempt in range(feed.retries + 1):
            self._check_deadline(feed, url)
            try:
                return self._get(client, feed, url, headers, workdir, name)
            except _Retryable as exc:
                tries = "1 attempt" if attempt == 0 else f"{attempt + 1} attempts"
                if attempt == feed.retries:
                    raise IntelSourceError(
                        f"feed {feed.name}: {exc} from {redact_url(url)}, "
                        f"{tries}; hint: the server may be down"
                    ) from exc
                wait = self.retry_wait(attempt, exc.retry_after)
                if self.clock() + wait > self._deadline:
                    asked = (
                        f" (the server sent Retry-After: {exc.retry_after[:40]})"
                        if exc.retry_after
                        else ""
                    )
                    raise IntelSourceError(
                        f"feed {feed.name}: {exc} from {redact_url(url)}, {tries}"
                        f"{asked}; no time is left for another before its deadline of "
                        f"{feed.deadline:g} s; hint: the server may be down, or "
                        "raise the feed's deadline"
                    ) from exc
                log.info("feed %s: %s, retrying in %.1f s", feed.name, exc, wait)
                self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_deadline(self, feed: FeedSpec, url: str) -> None:
        """Raise when the feed's whole-download deadline has passed."""
        if self.clock() > self._deadline:
            raise self._past_deadline(feed, url)

    def _past_deadline(self, feed: FeedSpec, url: str) -> IntelSourceError:
        """Return the error for a download that ran past the feed's deadline."""
        return IntelSourceError(
            f"feed {feed.name}: the download from {redact_url(url)} took more "
            f"than its deadline of {feed.deadline:g} s; hint: the server is too "
            "slow, or raise the feed's deadline"
        )

    def _request_timeout(self, feed: FeedSpec) -> httpx.Timeout:
        """Return the timeouts of the next request: the feed's, cut to its deadline.

        Connecting, waiting for the headers and each read of the body wait
        no longer than the time left before the deadline.
        """
        left = self._deadline - self.clock()
        return httpx.Timeout(max(min(feed.timeout, left), 0.001))

    def _get(
        self,
        client: httpx.Client,
        feed: FeedSpec,
        url: str,
        headers: dict[str, str],
        workdir: Path,
        name: str | None = None,
    ) -> Fetched:
        """One attempt: follow same-host redirects, then save the body."""
        current = url
        conditional = any(header in headers for header in _CONDITIONAL_HEADERS)
        for hop in range(_MAX_REDIRECTS + 1):
            if hop:
                self._check_deadline(feed, url)
            timeout = self._request_timeout(feed)
            try:
                with client.stream(
                    "GET", current, headers=headers, timeout=timeout
                ) as response:
                    if response.status_code in _REDIRECTS:
                        current = _redirect_target(feed, current, response)
                        continue
                    return _save(
                        feed,
                        current,
                        response,
                        workdir,
                        name,
                        lambda: self._check_deadline(feed, url),
                        conditional=conditional,
                    )
            except httpx.TimeoutException as exc:
                if self.clock() >= self._deadline:
                    raise self._past_deadline(feed, url) from exc
                raise _Retryable(f"timed out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise _Retryable(f"connection failed ({type(exc).__name__})") from exc
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise IntelSourceError(
                    f"feed {feed.name}: cannot read {redact_url(current)} "
                    f"({type(exc).__name__}); hint: check that the server sends "
                    "the feed as plain or gzip data"
                ) from exc
        raise IntelSourceError(
            f"feed {feed.name}: more than {_MAX_REDIRECTS} redirects from "
            f"{redact_url(url)}; hint: point url at the final address"
        )

    # --- MISP feeds over HTTP -----------------------------------------------------

    def _fetch_misp_feed(
        self, feed: FeedSpec, url: str, checkpoint: Checkpoint | None, workdir: Path
    ) -> Fetched:
        """Fetch a MISP feed's manifest, then its new and changed events.

        The folder returned in ``files`` holds ``manifest.json`` (the keys to
        read) and the fetched events; ``kept_events`` names the events whose
        last copies complete it.
        """
        base = _folder_url(url)
        folder = workdir / "misp-feed"
        folder.mkdir()
        with self._client(feed) as client:
            manifest = self._get_with_retries(
                client,
                feed,
                urljoin(base, _MISP_MANIFEST),
                checkpoint,
                folder,
                _MISP_MANIFEST,
            )
            if manifest.not_modified:
                return manifest
            entries = _read_manifest(feed, folder / _MISP_MANIFEST)
            known = (checkpoint.events if checkpoint is not None else None) or {}
            events: dict[str, str] = {}
            fetched = Fetched(
                files=[folder],
                etag=manifest.etag,
                last_modified=manifest.last_modified,
                events=events,
            )
            listed: dict[str, object] = {}
            for number, (uuid, entry) in enumerate(entries.items(), 1):
                where = f"{feed.name}/{_MISP_MANIFEST}:{number}"
                if _EVENT_UUID.fullmatch(uuid) is None:
                    fetched.rejects.append(_manifest_reject(where, uuid))
                    continue
                stamp = _manifest_stamp(entry)
                listed[uuid] = entry
                if stamp and known.get(uuid) == stamp:
                    events[uuid] = stamp
                    fetched.kept_events.append(uuid)
                    continue
                try:
                    self._get_with_retries(
                        client,
                        feed,
                        urljoin(base, f"{uuid}.json"),
                        None,
                        folder,
                        f"{uuid}.json",
                    )
                except _Gone:
                    # listed without its file: read as a ``missing_event`` reject
                    continue
                except IntelSourceError as exc:
                    fetched.rejects.append(_unavailable_reject(where, uuid, exc))
                    # without validators the next sync reads the manifest again
                    fetched.etag = fetched.last_modified = None
                    if uuid in known:
                        events[uuid] = known[uuid]
                        fetched.kept_events.append(uuid)
                    else:
                        del listed[uuid]
                    continue
                events[uuid] = stamp
        (folder / _MISP_MANIFEST).write_bytes(msgspec.json.encode(listed))
        return fetched

    # --- TAXII --------------------------------------------------------------------

    def _fetch_taxii(self, feed: FeedSpec, checkpoint: Checkpoint | None) -> Fetched:
        """Poll the TAXII collection from the last ``added_after``."""
        from trustwatch.intel.taxii import TaxiiSource

        spec = feed.taxii
        assert spec is not None
        username = password = None
        if spec.username_env is not None:
            username = self._secret(feed, spec.username_env, "taxii.username_env")
        if spec.password_env is not None:
            password = self._secret(feed, spec.password_env, "taxii.password_env")
        source = TaxiiSource(
            spec.url,
            spec.collection,
            username=username,
            password=password,
            verify_tls=spec.verify_tls,
        )
        added_after = checkpoint.added_after if checkpoint is not None else None
        if feed.mode == "snapshot":
            added_after = None
        try:
            poll = self._poll_taxii(feed, source, added_after)
        except IntelSourceError as exc:
            if self.clock() >= self._deadline:
                raise self._past_deadline(feed, spec.url) from exc
            raise
        # a page of entries that are all rejects still changed something
        unchanged = not poll.objects and not poll.rejects
        return Fetched(
            not_modified=unchanged and added_after is not None,
            objects=list(poll.objects),
            added_after=poll.added_last or added_after,
            rejects=list(poll.rejects),
        )

    def _poll_taxii(
        self, feed: FeedSpec, source: TaxiiSource, added_after: str | None
    ) -> TaxiiPoll:
        """Poll within the feed's deadline, ``max_bytes`` and retries."""
        from trustwatch.intel.taxii import TaxiiRetry, poll_collection

        return poll_collection(
            source,
            added_after,
            timeout=feed.timeout,
            deadline=max(self._deadline - self.clock(), 0.001),
            max_bytes=feed.max_bytes,
            retry=TaxiiRetry(
                retries=feed.retries,
                statuses=_RETRY_STATUSES,
                wait=self.retry_wait,
                sleep=self.sleep,
            ),
        )

    def _secret(self, feed: FeedSpec, variable: str, key: str) -> str:
        """Return a credential from the environment, or raise naming its key."""
        value = self.environ.get(variable)
        if value is None:
            raise IntelSourceError(
                f"feed {feed.name}: environment variable {variable} (from {key}) is "
                "not set; hint: export it before the sync"
            )
        if any((ord(char) < 32 and char != "\t") or ord(char) == 127 for char in value):
            raise ConfigError(
                f"feed {feed.name} key {key!r}: environment variable {variable} "
                "holds a line break or control character; hint: set it to the "
                "bare value, without newline"
            )
        return value


def _retry_after_seconds(value: str | None) -> float | None:
    """Read a ``Retry-After`` header: seconds, or an HTTP date (from now).

    ``None`` when absent or unreadable; a date in the past gives ``0``.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _origin(url: str) -> tuple[str, str, int]:
    """Return (scheme, host, port) of a URL, ports defaulted."""
    parts = urlsplit(url)
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    return parts.scheme, (parts.hostname or "").lower(), port


def _redirect_target(feed: FeedSpec, current: str, response: httpx.Response) -> str:
    """Return where a redirect points, refusing another host or port."""
    target = urljoin(current, str(response.headers.get("location", "")))
    try:
        old, new = _origin(current), _origin(target)
    except ValueError as exc:
        raise IntelSourceError(
            f"feed {feed.name}: redirect to an invalid URL; hint: fix the url"
        ) from exc
    upgrade = old == ("http", new[1], 80) and new[0::2] == ("https", 443)
    if not upgrade and (old[1:] != new[1:] or (old[0], new[0]) == ("https", "http")):
        raise IntelSourceError(
            f"feed {feed.name}: {redact_url(current)} redirects to another host, "
            f"{redact_url(target)}; hint: redirects are followed on the same host "
            "and port only, set url to the new address if it is trusted"
        )
    return target


def _save(
    feed: FeedSpec,
    url: str,
    response: httpx.Response,
    workdir: Path,
    name: str | None = None,
    check_deadline: Callable[[], None] | None = None,
    *,
    conditional: bool = True,
) -> Fetched:
    """Turn a final response into a :class:`Fetched`, the body in a file.

    ``check_deadline`` is called after each chunk and raises when the
    feed's deadline has passed. ``conditional`` tells whether the request
    sent validators: only then may the server answer ``304``. The body is
    decoded here (``Content-Encoding``), so that a compressed stream that
    stops before its end fails the feed instead of giving part of the list.
    """
    status = response.status_code
    if status == 304:
        if not conditional:
            raise IntelSourceError(
                f"feed {feed.name}: {redact_url(url)} answered 304 Not Modified to "
                "a request that named no version (no If-None-Match or "
                "If-Modified-Since); nothing was changed; hint: the server or a "
                "cache in front of it is misbehaving, check it with its "
                "administrator"
            )
        return Fetched(not_modified=True)
    if status in _RETRY_STATUSES:
        raise _Retryable(f"HTTP {status}", response.headers.get("retry-after"))
    if status != 200:
        error = _Gone if status in _GONE_STATUSES else IntelSourceError
        raise error(
            f"feed {feed.name}: HTTP {status} from {redact_url(url)}; hint: check "
            "the url and, for 401/403, the credentials in headers_env"
        )
    _refuse_html_page(feed, url, response.headers.get("content-type", ""))
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > feed.max_bytes:
        raise _too_large(feed, url)
    target = workdir / (name or _file_name(feed, url))
    raws: Iterable[bytes]
    if response.is_stream_consumed:
        # read before it got here (a test's transport): httpx decoded it
        raws, decoder = [response.content], _BodyDecoder(feed, url, httpx.Headers())
    else:
        raws, decoder = response.iter_raw(), _BodyDecoder(feed, url, response.headers)
    size = 0
    with target.open("wb") as out:
        # chunks as they arrive (not coalesced), so a drip meets the deadline
        for raw in raws:
            if check_deadline is not None:
                check_deadline()
            chunk = decoder.decode(raw)
            size += len(chunk)
            if size > feed.max_bytes:
                raise _too_large(feed, url)
            out.write(chunk)
        tail = decoder.finish()
        if size + len(tail) > feed.max_bytes:
            raise _too_large(feed, url)
        out.write(tail)
    return Fetched(
        files=[target],
        etag=response.headers.get("etag"),
        last_modified=response.headers.get("last-modified"),
    )


class _Layer(Protocol):
    """One content coding of a body, undone chunk by chunk."""

    def decode(self, data: bytes) -> bytes:
        """Return the decoded bytes of the next chunk."""
        ...

    def finish(self) -> bytes:
        """Return the last decoded bytes; raise when the stream did not end."""
        ...


class _Incomplete(Exception):
    """A compressed body that stops before its stream's end, or is damaged."""


class _Identity:
    """No content coding."""

    def decode(self, data: bytes) -> bytes:
        """Return ``data`` as is."""
        return data

    def finish(self) -> bytes:
        """Return nothing more."""
        return b""


class _Zlib:
    """``gzip`` (one or more members) or ``deflate`` (zlib, or raw deflate)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._gzip = coding in ("gzip", "x-gzip")
        self._raw = False
        self._seen = False
        self._inflate = self._new()

    def _new(self) -> Any:
        """Return a fresh decompressor for one stream (gzip member)."""
        if self._gzip:
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        return zlib.decompressobj(-zlib.MAX_WBITS if self._raw else zlib.MAX_WBITS)

    def decode(self, data: bytes) -> bytes:
        """Inflate ``data``; a new gzip member may start after one ends."""
        out: list[bytes] = []
        while data:
            if self._inflate.eof:
                if not self._gzip:
                    raise _Incomplete("data after the end of the deflate stream")
                self._inflate = self._new()
            try:
                out.append(self._inflate.decompress(data))
            except zlib.error as exc:
                if self._gzip or self._seen or self._raw:
                    raise _Incomplete(str(exc)) from exc
                # some servers send raw deflate without the zlib header
                self._raw = True
                self._inflate = self._new()
                continue
            self._seen = True
            data = self._inflate.unused_data
        return b"".join(out)

    def finish(self) -> bytes:
        """Return the rest; raise when the last stream did not end."""
        if not self._seen:
            return b""
        try:
            tail: bytes = self._inflate.flush()
        except zlib.error as exc:  # pragma: no cover - flush rarely raises
            raise _Incomplete(str(exc)) from exc
        if not self._inflate.eof:
            raise _Incomplete("the compressed stream ends before its end marker")
        return tail


class _Zstd:
    """``zstd``: one or more Zstandard frames."""

    coding = "zstd"

    def __init__(self) -> None:
        self._inflate = zstandard.ZstdDecompressor().decompressobj()
        self._seen = False

    def decode(self, data: bytes) -> bytes:
        """Decompress ``data``; a new frame may start after one ends."""
        if not data:
            return b""
        self._seen = True
        out: list[bytes] = []
        try:
            out.append(self._inflate.decompress(data))
            while self._inflate.eof and self._inflate.unused_data:
                rest = self._inflate.unused_data
                self._inflate = zstandard.ZstdDecompressor().decompressobj()
                out.append(self._inflate.decompress(rest))
        except zstandard.ZstdError as exc:
            raise _Incomplete(str(exc)) from exc
        return b"".join(out)

    def finish(self) -> bytes:
        """Raise when the last frame did not end."""
        if self._seen and not self._inflate.eof:
            raise _Incomplete("the compressed stream ends before its last frame ends")
        return b""


class _BodyDecoder:
    """Undo a response's ``Content-Encoding``, checking that each stream ends.

    ``gzip``, ``deflate`` and ``zstd`` are decoded (in the reverse of the
    order listed); another coding fails the feed, since its bytes cannot be
    read as a list.

    Raises
    ------
    IntelSourceError
        For an unknown coding, or a body cut short or damaged.
    """

    def __init__(self, feed: FeedSpec, url: str, headers: httpx.Headers) -> None:
        self.feed, self.url = feed, url
        layers: list[_Layer] = []
        codings = [
            coding.strip().lower()
            for coding in headers.get_list("content-encoding", split_commas=True)
        ]
        for coding in reversed(codings):
            if coding in ("", "identity"):
                continue
            if coding in ("gzip", "x-gzip", "deflate"):
                layers.append(_Zlib(coding))
            elif coding == "zstd":
                layers.append(_Zstd())
            else:
                raise IntelSourceError(
                    f"feed {feed.name}: {redact_url(url)} sent its body with "
                    f"Content-Encoding {coding[:40]!r}, which the sync does not "
                    "decode; nothing was changed; hint: the sync asks for gzip, "
                    "have the server send gzip or plain data"
                )
        self._layers = layers or [_Identity()]
        self._codings = ", ".join(codings)

    def decode(self, data: bytes) -> bytes:
        """Return the decoded bytes of the next raw chunk."""
        try:
            for layer in self._layers:
                data = layer.decode(data)
        except _Incomplete as exc:
            raise self._damaged(exc) from exc
        return data

    def finish(self) -> bytes:
        """Check that every compressed stream ended; return the last bytes."""
        data = b""
        try:
            for layer in self._layers:
                data = layer.decode(data) + layer.finish()
        except _Incomplete as exc:
            raise self._damaged(exc) from exc
        return data

    def _damaged(self, exc: _Incomplete) -> IntelSourceError:
        """Return the error for a compressed body that is cut short or damaged."""
        return IntelSourceError(
            f"feed {self.feed.name}: the {self._codings}-encoded response from "
            f"{redact_url(self.url)} is cut short or damaged ({exc}); nothing was "
            "changed, the records held are kept; hint: the connection may have "
            "dropped or the server compresses badly; if it persists, tell the "
            "server's administrator"
        )


def _too_large(feed: FeedSpec, url: str) -> IntelSourceError:
    """Return the error for a body over the feed's size limit."""
    return IntelSourceError(
        f"feed {feed.name}: the response from {redact_url(url)} is larger than "
        f"max_bytes ({feed.max_bytes:,}); hint: raise max_bytes if the feed "
        "really is that big"
    )


# formats whose body is a list: an HTML page there is an error or login page
_LIST_FORMATS: Final = frozenset(
    {"plain", "openphish_txt", "hashlist", "urlhaus_csv", "phishtank_csv"}
)


def _refuse_html_page(feed: FeedSpec, url: str, content_type: str) -> None:
    """Refuse an HTML answer for a list or CSV feed: it would replace the list.

    The body is not read; one that is HTML under another content type is
    refused when it is loaded (see :func:`~trustwatch.intel._files.open_feed`).
    """
    media = content_type.split(";", 1)[0].strip().lower()
    if feed.format in _LIST_FORMATS and media in ("text/html", "application/xhtml+xml"):
        raise IntelSourceError(
            f"feed {feed.name}: the server sent an HTML page, not a list "
            f"({media} from {redact_url(url)}); nothing was changed; hint: it is "
            "probably an error or login page, check the url and credentials"
        )


def _file_name(feed: FeedSpec, url: str) -> str:
    """Name the downloaded file after the feed and the URL's last segment."""
    tail = urlsplit(url).path.rstrip("/").rpartition("/")[2]
    tail = tail.removesuffix(".gz")
    return _SAFE_NAME.sub("_", f"{feed.name}-{tail}" if tail else feed.name)


def _folder_url(url: str) -> str:
    """Return a MISP feed's folder URL, ending in ``/``.

    A URL naming the manifest itself is taken as its folder.
    """
    parts = urlsplit(url)
    path = parts.path.removesuffix(_MISP_MANIFEST)
    if not path.endswith("/"):
        path += "/"
    return parts._replace(path=path, query="", fragment="").geturl()


def _read_manifest(feed: FeedSpec, path: Path) -> dict[str, Any]:
    """Return a MISP feed manifest: event uuids to their entries.

    Raises
    ------
    IntelSourceError
        When the manifest is not a JSON object.
    """
    try:
        manifest = msgspec.json.decode(path.read_bytes())
    except msgspec.DecodeError as exc:
        raise IntelSourceError(
            f"feed {feed.name}: {_MISP_MANIFEST} is not JSON ({exc}); hint: check "
            "that url names a MISP feed folder"
        ) from exc
    if not isinstance(manifest, dict):
        raise IntelSourceError(
            f"feed {feed.name}: {_MISP_MANIFEST} is not an object of event uuids; "
            "hint: check that url names a MISP feed folder"
        )
    return manifest


def _manifest_stamp(entry: object) -> str:
    """Return the ``timestamp`` of a manifest entry as text.

    ``""`` when the entry has none: such an event is fetched on every sync.
    """
    stamp = entry.get("timestamp") if isinstance(entry, dict) else None
    return "" if stamp is None else str(stamp)


def _manifest_reject(where: str, key: str) -> Reject:
    """Return the reject for a manifest key that is not an event uuid."""
    return Reject(
        location=where,
        raw=key[:200],
        reason="malformed_record",
        message="manifest key is not an event uuid; hint: check the feed's manifest",
    )


def _unavailable_reject(where: str, uuid: str, exc: Exception) -> Reject:
    """Return the reject for an event that could not be fetched."""
    return Reject(
        location=where,
        raw=uuid,
        reason="event_unavailable",
        message=f"{exc}; its last copy, if any, is kept",
    )


def _fetch_path(path: Path, checkpoint: Checkpoint | None) -> Fetched:
    """List a local source's files and tell whether they changed.

    A folder that is one feed (a MISP feed folder) is watched file by file.
    """
    files = resolve_feed_paths([str(path)])
    watched: list[Path] = []
    for file in files:
        if file.is_dir():
            watched.extend(sorted(p for p in file.iterdir() if p.is_file()))
        else:
            watched.append(file)
    stamp = hashlib.sha256()
    for file in watched:
        info = file.stat()
        stamp.update(f"{file.resolve()}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    digest = stamp.hexdigest()[:32]
    if checkpoint is not None and checkpoint.etag == digest:
        return Fetched(not_modified=True)
    return Fetched(files=files, etag=digest)


# --- the database -------------------------------------------------------------------


class StoredIndicator(msgspec.Struct, frozen=True, kw_only=True):
    """One stored record and when the sync saw it.

    Attributes
    ----------
    indicator
        The record, its ``expires_at`` the effective expiry.
    first_synced, last_synced
        The first and latest syncs that stored it.
    """

    indicator: Indicator
    first_synced: datetime
    last_synced: datetime

    def is_live(self, at: datetime) -> bool:
        """Return whether the record still matches at ``at``."""
        return not self.indicator.is_expired(at)


class _StoredPattern(msgspec.Struct, frozen=True, kw_only=True):
    """A STIX pattern indicator as stored: its pattern text, reparsed on load."""

    id: str
    feed: str
    pattern: str
    name: str | None = None
    confidence: int = 50
    threat: str | None = None
    tags: tuple[str, ...] = ()
    first_seen: datetime | None = None
    expires_at: datetime | None = None
    modified: datetime | None = None

    @classmethod
    def of(cls, pattern: PatternIndicator, feed: FeedSpec) -> _StoredPattern:
        """Return what to store of ``pattern``, with the feed's meaning."""
        return cls(
            id=pattern.id,
            feed=feed.name,
            pattern=pattern.pattern,
            name=pattern.name,
            confidence=pattern.confidence,
            threat=pattern.threat or feed.threat,
            tags=tuple(dict.fromkeys(pattern.tags + feed.tags)),
            first_seen=pattern.first_seen,
            expires_at=pattern.expires_at,
            modified=pattern.modified,
        )

    def build(self, expiry: float | None) -> PatternIndicator:
        """Parse the pattern again; ``expiry`` applies when it has none."""
        return make_pattern_indicator(
            parse_pattern(self.pattern),
            id=self.id,
            feed=self.feed,
            pattern=self.pattern,
            name=self.name,
            confidence=self.confidence,
            threat=self.threat,
            tags=self.tags,
            first_seen=self.first_seen,
            expires_at=self.expires_at or _time(expiry),
            modified=self.modified,
        )


_decode_pattern = msgspec.msgpack.Decoder(_StoredPattern).decode

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS feeds (
    name TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    last_attempt REAL,
    last_success REAL,
    next_due REAL,
    failures INTEGER NOT NULL DEFAULT 0,
    added_after TEXT,
    fingerprint TEXT,
    last_status TEXT,
    last_error TEXT,
    events TEXT
);
CREATE TABLE IF NOT EXISTS indicators (
    feed TEXT NOT NULL,
    type TEXT NOT NULL,
    value TEXT NOT NULL,
    reference TEXT,
    record BLOB NOT NULL,
    own_expiry INTEGER NOT NULL,
    expires_at REAL,
    first_synced REAL NOT NULL,
    last_synced REAL NOT NULL,
    PRIMARY KEY (feed, type, value)
);
CREATE INDEX IF NOT EXISTS indicators_value ON indicators (value);
CREATE INDEX IF NOT EXISTS indicators_stix_id ON indicators (reference)
    WHERE reference LIKE '%--%';
CREATE TABLE IF NOT EXISTS patterns (
    feed TEXT NOT NULL,
    id TEXT NOT NULL,
    record BLOB NOT NULL,
    expires_at REAL,
    first_synced REAL NOT NULL,
    last_synced REAL NOT NULL,
    PRIMARY KEY (feed, id)
);
CREATE INDEX IF NOT EXISTS patterns_id ON patterns (id);
CREATE TABLE IF NOT EXISTS feed_events (
    feed TEXT NOT NULL,
    uuid TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (feed, uuid)
);
-- kept empty: the rows of older databases move to stix_revocations
CREATE TABLE IF NOT EXISTS revocations (
    reference TEXT PRIMARY KEY,
    feed TEXT NOT NULL,
    revoked_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stix_revocations (
    feed TEXT NOT NULL,
    reference TEXT NOT NULL,
    created_by TEXT,
    revoked_at REAL NOT NULL,
    PRIMARY KEY (feed, reference)
);
CREATE TABLE IF NOT EXISTS stix_objects (
    feed TEXT NOT NULL,
    id TEXT NOT NULL,
    version REAL,
    created_by TEXT,
    PRIMARY KEY (feed, id)
);
CREATE INDEX IF NOT EXISTS stix_objects_id ON stix_objects (id);
"""

_Key: TypeAlias = tuple[str, str]


def _stamp(when: datetime | None) -> float | None:
    """Return an aware time as epoch seconds."""
    return None if when is None else when.timestamp()


def _time(stamp: float | None) -> datetime | None:
    """Return epoch seconds as an aware UTC time."""
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC)


def _check_aware(when: datetime) -> None:
    """Refuse a naive time."""
    if when.utcoffset() is None:
        raise ConfigError(
            f"time {when.isoformat()} has no timezone; hint: pass an aware "
            "datetime, e.g. datetime.now(UTC)"
        )


class IntelDatabase:
    """Synced indicators and feed checkpoints in one SQLite file.

    Parameters
    ----------
    path
        The database file (created when missing; its folder must exist), or
        ``":memory:"``.

    Tables: ``feeds`` (one checkpoint per feed: validators, attempt and
    success times, next due time, consecutive failures, TAXII
    ``added_after``), ``indicators`` (one msgpack-encoded
    :class:`~trustwatch.intel.indicators.Indicator` per feed, type and value,
    with its effective expiry), ``patterns`` (STIX pattern indicators, by
    feed and STIX id), ``stix_objects`` (the version and creator,
    ``created_by_ref``, of each STIX indicator a feed gave) and
    ``stix_revocations`` (the STIX ids each feed revoked, with the
    revoking object's creator).

    Raises
    ------
    StorageError
        When the file cannot be opened or is not such a database.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            # IMMEDIATE: a writer waits for the lock (up to the timeout) when
            # its transaction begins, not fails when it first writes
            self._conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level="IMMEDIATE"
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            # with WAL, a power cut can lose the last commit, never consistency:
            # the feed it held is simply fetched again
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA cache_size=-65536")
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, _SCHEMA_VERSION):
                raise StorageError(
                    f"intel database {self.path} has schema version {version}, "
                    f"this trustwatch knows {_SCHEMA_VERSION}; hint: sync into a "
                    "new file"
                )
            self._refuse_other_database()
            with self._conn:
                self._conn.executescript(_SCHEMA)
                columns = {
                    row[1] for row in self._conn.execute("PRAGMA table_info(feeds)")
                }
                if "events" not in columns:
                    self._conn.execute("ALTER TABLE feeds ADD COLUMN events TEXT")
                # revocations of older databases: their creator is unknown,
                # so each holds for the records of the feed that revoked
                self._conn.execute(
                    "INSERT OR IGNORE INTO stix_revocations (feed, reference, "
                    "created_by, revoked_at) SELECT feed, reference, NULL, "
                    "revoked_at FROM revocations"
                )
                self._conn.execute("DELETE FROM revocations")
                self._conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise StorageError(
                f"cannot open intel database {self.path}: {exc}; hint: check the "
                "path, or that it is a file written by `trustwatch intel sync`"
            ) from exc

    def _refuse_other_database(self) -> None:
        """Refuse to add intel tables to another kind of trustwatch file.

        A file with tables but no ``feeds`` table is a decision store, a
        review store or something else; it is left as it is.
        """
        tables = {
            name
            for (name,) in self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
        if tables and "feeds" not in tables:
            self._conn.close()
            kind = (
                "a decision store (`--db`)"
                if "verdicts" in tables
                else "a review store (`--review-db`)"
                if "review_schema_version" in tables
                else "another database"
            )
            raise StorageError(
                f"{self.path} is {kind}, not an intel database, and it is left as "
                "it is; hint: give the intel database a file of its own, such as "
                "trustwatch-data/intel.sqlite"
            )

    def close(self) -> None:
        """Close the file."""
        self._conn.close()

    def __enter__(self) -> IntelDatabase:
        """Return the database itself."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the file."""
        self.close()

    # --- checkpoints --------------------------------------------------------------

    def checkpoint(self, feed: str) -> Checkpoint | None:
        """Return a feed's checkpoint, or ``None`` when never synced."""
        row = self._conn.execute(
            "SELECT name, etag, last_modified, last_attempt, last_success, "
            "next_due, failures, added_after, fingerprint, last_status, last_error, "
            "events FROM feeds WHERE name = ?",
            (feed,),
        ).fetchone()
        return None if row is None else _checkpoint(row)

    def checkpoints(self) -> list[Checkpoint]:
        """Return every feed's checkpoint, by name."""
        rows = self._conn.execute(
            "SELECT name, etag, last_modified, last_attempt, last_success, "
            "next_due, failures, added_after, fingerprint, last_status, last_error, "
            "events FROM feeds ORDER BY name"
        ).fetchall()
        return [_checkpoint(row) for row in rows]

    def _save_checkpoint(self, point: Checkpoint) -> None:
        """Write a checkpoint (inside the caller's transaction)."""
        self._conn.execute(
            "INSERT OR REPLACE INTO feeds (name, etag, last_modified, last_attempt, "
            "last_success, next_due, failures, added_after, fingerprint, "
            "last_status, last_error, events) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                point.feed,
                point.etag,
                point.last_modified,
                _stamp(point.last_attempt),
                _stamp(point.last_success),
                _stamp(point.next_due),
                point.failures,
                point.added_after,
                point.fingerprint,
                point.last_status,
                point.last_error,
                None if point.events is None else msgspec.json.encode(point.events),
            ),
        )

    def _event_copies(self, feed: str, uuids: Iterable[str]) -> dict[str, bytes]:
        """Return the kept copies of a MISP feed's events, by uuid."""
        copies: dict[str, bytes] = {}
        for uuid in uuids:
            row = self._conn.execute(
                "SELECT body FROM feed_events WHERE feed = ? AND uuid = ?", (feed, uuid)
            ).fetchone()
            if row is not None:
                copies[uuid] = row[0]
        return copies

    def _keep_events(
        self, feed: str, events: Mapping[str, str], fresh: Mapping[str, bytes]
    ) -> None:
        """Store fresh event copies and drop those of events no longer listed."""
        self._conn.executemany(
            "INSERT OR REPLACE INTO feed_events (feed, uuid, body) VALUES (?, ?, ?)",
            [(feed, uuid, body) for uuid, body in fresh.items()],
        )
        stored = [
            uuid
            for (uuid,) in self._conn.execute(
                "SELECT uuid FROM feed_events WHERE feed = ?", (feed,)
            ).fetchall()
        ]
        self._conn.executemany(
            "DELETE FROM feed_events WHERE feed = ? AND uuid = ?",
            [(feed, uuid) for uuid in stored if uuid not in events],
        )

    # --- reading ------------------------------------------------------------------

    def store(
        self, at: datetime | None = None, *, allowlist: AllowList | None = None
    ) -> IndicatorStore:
        """Build an :class:`IndicatorStore` of the records live at ``at``.

        ``at`` defaults to now. Records of several feeds about one value are
        merged by the store, keeping each feed's provenance; records an
        ``allowlist`` holds are left out (counted in the store's
        ``allowlisted``).
        """
        when = datetime.now(UTC) if at is None else at
        _check_aware(when)
        rows = self._conn.execute(
            "SELECT record, expires_at FROM indicators "
            "WHERE expires_at IS NULL OR expires_at >= ?",
            (when.timestamp(),),
        )
        store = IndicatorStore(
            (_with_expiry(record, expiry) for record, expiry in rows),
            allowlist=allowlist,
        )
        patterns = self._conn.execute(
            "SELECT record, expires_at FROM patterns "
            "WHERE expires_at IS NULL OR expires_at >= ?",
            (when.timestamp(),),
        )
        store.add_patterns(
            _decode_pattern(record).build(expiry) for record, expiry in patterns
        )
        return store

    def records(
        self,
        *,
        feed: str | None = None,
        type: str | None = None,
        limit: int | None = None,
    ) -> list[StoredIndicator]:
        """Return stored records, by feed, type and value."""
        query = "SELECT record, expires_at, first_synced, last_synced FROM indicators"
        where, params = [], []
        if feed is not None:
            where.append("feed = ?")
            params.append(feed)
        if type is not None:
            where.append("type = ?")
            params.append(type)
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY feed, type, value"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        return [_stored(row) for row in self._conn.execute(query, params)]

    def lookup(self, value: str) -> list[StoredIndicator]:
        """Return every record, of any feed, for one value as written.

        The value is normalised first (a defanged URL finds its record); a
        value that does not normalise is looked up as written.
        """
        try:
            _, normal = normalize_indicator(value)
        except InvalidIndicatorError:
            normal = value.strip()
        rows = self._conn.execute(
            "SELECT record, expires_at, first_synced, last_synced FROM indicators "
            "WHERE value = ? ORDER BY feed, type",
            (normal,),
        )
        return [_stored(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """Return the number of stored records per feed."""
        rows = self._conn.execute(
            "SELECT feed, count(*) FROM indicators GROUP BY feed ORDER BY feed"
        )
        return dict(rows.fetchall())

    def revocations(self) -> dict[str, str]:
        """Return revoked references and a feed that revoked each."""
        return dict(
            self._conn.execute(
                "SELECT reference, feed FROM stix_revocations ORDER BY revoked_at"
            )
        )

    # --- writing ------------------------------------------------------------------

    def _apply(
        self,
        feed: FeedSpec,
        loads: list[FeedLoad],
        report: FeedReport,
        now: datetime,
        stix: Mapping[str, _StixFact] | None = None,
    ) -> None:
        """Apply one feed's fetch in the caller's transaction.

        ``stix`` holds the version and creator of each STIX indicator the
        fetch gave (see :func:`_stix_facts`).
        """
        stamp = now.timestamp()
        facts: Mapping[str, _StixFact] = stix or {}
        revoked = {ref for load in loads for ref in load.revoked}
        for reference in sorted(revoked):
            fact = facts.get(reference)
            creator = fact.created_by if fact is not None else None
            self._conn.execute(
                "INSERT OR REPLACE INTO stix_revocations (feed, reference, "
                "created_by, revoked_at) VALUES (?1, ?2, ?3, coalesce((SELECT "
                "revoked_at FROM stix_revocations WHERE feed = ?1 AND "
                "reference = ?2), ?4))",
                (feed.name, reference, creator, stamp),
            )
            gone = self._revoke(feed.name, reference)
            report.revoked += gone
            if not gone:
                # nothing of it was held: the revocation alone arrived
                report.note_skipped({"revoked": 1})
        refused = self._revoked_for(feed.name, loads)
        older = self._older_versions(feed, facts)
        current = {
            stix_id
            for stix_id, fact in facts.items()
            if not fact.revoked and stix_id not in older
        }
        self._apply_patterns(feed, loads, refused, report, now, older, current)
        merged = _merge_records(feed, loads, refused, report, older)
        existing: dict[_Key, bytes] = {}
        references: dict[_Key, str | None] = {}
        for kind, value, record, reference in self._conn.execute(
            "SELECT type, value, record, reference FROM indicators WHERE feed = ?",
            (feed.name,),
        ):
            existing[(kind, value)] = record
            references[(kind, value)] = reference
        inserts, updates, touches, stale = [], [], [], []
        arrived_expired = 0
        for key, indicator in merged.items():
            expiry = _effective_expiry(feed, indicator, now)
            if expiry is not None and expiry < stamp:
                if key in existing:
                    report.expired += 1
                    stale.append(key)
                else:
                    arrived_expired += 1
                continue
            record = _encode(indicator)
            own = indicator.expires_at is not None
            known = existing.get(key)
            if known is None:
                report.added += 1
                inserts.append(
                    (feed.name, *key, indicator.reference, record, own, expiry, stamp)
                )
            elif known != record:
                changed = _changed(known, indicator)
                report.updated += changed
                report.unchanged += not changed
                updates.append(
                    (indicator.reference, record, own, expiry, stamp, feed.name, *key)
                )
            else:
                report.unchanged += 1
                if feed.mode != "snapshot":
                    touches.append((expiry, stamp, feed.name, *key))
        if arrived_expired:
            report.note_skipped({"already_expired": arrived_expired})
        self._conn.executemany(
            "INSERT INTO indicators (feed, type, value, reference, record, "
            "own_expiry, expires_at, first_synced, last_synced) "
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            inserts,
        )
        self._conn.executemany(
            "UPDATE indicators SET reference = ?, record = ?, own_expiry = ?, "
            "expires_at = ?, last_synced = ? "
            "WHERE feed = ? AND type = ? AND value = ?",
            updates,
        )
        self._conn.executemany(
            "UPDATE indicators SET expires_at = ?, last_synced = ? "
            "WHERE feed = ? AND type = ? AND value = ?",
            touches,
        )
        if feed.mode == "snapshot":
            missing = [key for key in existing if key not in merged]
        else:
            # values an older version of a STIX id named, that its newer no longer does
            missing = [
                key
                for key, reference in references.items()
                if reference in current and key not in merged
            ]
        report.removed += len(missing)
        self._conn.executemany(
            "DELETE FROM indicators WHERE feed = ? AND type = ? AND value = ?",
            [(feed.name, *key) for key in stale + missing],
        )
        self._keep_stix_facts(feed, facts, older)
        if feed.mode == "snapshot":
            # every record left that this fetch did not write was listed again
            self._renew(feed, now)

    def _revoke(self, feed: str, reference: str) -> int:
        """Delete the records a feed's revocation of ``reference`` reaches.

        They are the revoking feed's own only. A revocation names its
        creator (``created_by_ref``), but nothing vouches for that name: a
        feed that could revoke another's indicators by naming their creator
        could delete any feed's intel; it is kept with the revocation for
        the record only. Return how many records went.
        """
        gone = self._conn.execute(
            "DELETE FROM indicators WHERE feed = ? AND reference = ? "
            "AND reference LIKE '%--%'",
            (feed, reference),
        ).rowcount
        gone += self._conn.execute(
            "DELETE FROM patterns WHERE feed = ? AND id = ?", (feed, reference)
        ).rowcount
        return gone

    def _revoked_for(self, feed: str, loads: list[FeedLoad]) -> set[str]:
        """Return the STIX ids of a fetch that this feed's revocations keep out.

        Another feed's revocation never reaches this one.
        """
        own = {
            reference
            for (reference,) in self._conn.execute(
                "SELECT reference FROM stix_revocations WHERE feed = ?", (feed,)
            )
        }
        refused: set[str] = set()
        for load in loads:
            ids = [i.reference for i in load.indicators if i.reference is not None]
            for stix_id in ids + [pattern.id for pattern in load.patterns]:
                if stix_id in own:
                    refused.add(stix_id)
        return refused

    def _older_versions(
        self, feed: FeedSpec, facts: Mapping[str, _StixFact]
    ) -> set[str]:
        """Return the STIX ids an incremental fetch gives in an older version.

        The feed stored a later version of each: the older one is not
        applied. A snapshot fetch is the whole list and always applies.
        """
        if feed.mode == "snapshot" or not facts:
            return set()
        stored = dict(
            self._conn.execute(
                "SELECT id, version FROM stix_objects WHERE feed = ? "
                "AND version IS NOT NULL",
                (feed.name,),
            ).fetchall()
        )
        return {
            stix_id
            for stix_id, fact in facts.items()
            if fact.version is not None
            and stix_id in stored
            and fact.version < stored[stix_id]
        }

    def _keep_stix_facts(
        self, feed: FeedSpec, facts: Mapping[str, _StixFact], older: set[str]
    ) -> None:
        """Remember the version and creator of each STIX indicator applied."""
        if feed.mode == "snapshot":
            known = [
                stix_id
                for (stix_id,) in self._conn.execute(
                    "SELECT id FROM stix_objects WHERE feed = ?", (feed.name,)
                )
            ]
            self._conn.executemany(
                "DELETE FROM stix_objects WHERE feed = ? AND id = ?",
                [(feed.name, stix_id) for stix_id in known if stix_id not in facts],
            )
        self._conn.executemany(
            "INSERT OR REPLACE INTO stix_objects (feed, id, version, created_by) "
            "VALUES (?, ?, ?, ?)",
            [
                (feed.name, stix_id, fact.version, fact.created_by)
                for stix_id, fact in facts.items()
                if stix_id not in older
            ],
        )

    def _renew(self, feed: FeedSpec, now: datetime) -> None:
        """Mark a feed's records as listed again at ``now``.

        Records without their own expiry get the feed's default from ``now``;
        those with their own keep it.
        """
        stamp = now.timestamp()
        renewed = (now + feed.expires).timestamp() if feed.expires else None
        self._conn.execute(
            "UPDATE indicators SET last_synced = ?1, expires_at = CASE WHEN "
            "own_expiry THEN expires_at ELSE ?2 END "
            "WHERE feed = ?3 AND last_synced < ?1",
            (stamp, renewed, feed.name),
        )

    def _renew_unchanged(self, feed: FeedSpec, now: datetime) -> None:
        """Renew every record of a snapshot feed the source confirmed unchanged."""
        self._renew(feed, now)
        stamp = now.timestamp()
        renewed = (now + feed.expires).timestamp() if feed.expires else None
        rows = self._conn.execute(
            "SELECT id, record FROM patterns WHERE feed = ?", (feed.name,)
        ).fetchall()
        self._conn.executemany(
            "UPDATE patterns SET expires_at = ?, last_synced = ? "
            "WHERE feed = ? AND id = ?",
            [
                (_stamp(own) if own is not None else renewed, stamp, feed.name, key)
                for key, own in (
                    (key, _decode_pattern(record).expires_at) for key, record in rows
                )
            ],
        )

    def _apply_patterns(
        self,
        feed: FeedSpec,
        loads: list[FeedLoad],
        revoked: set[str],
        report: FeedReport,
        now: datetime,
        older: Collection[str] = (),
        current: Collection[str] = (),
    ) -> None:
        """Store the STIX pattern indicators of a fetch, like plain records.

        ``older`` are ids given in an older version than the one stored (not
        applied); ``current`` are ids given in their latest version, whose
        stored pattern goes when that version is no longer a pattern.
        """
        stamp = now.timestamp()
        existing: dict[str, bytes] = dict(
            self._conn.execute(
                "SELECT id, record FROM patterns WHERE feed = ?", (feed.name,)
            ).fetchall()
        )
        fetched: dict[str, tuple[bytes, float | None]] = {}
        listed: set[str] = set()
        expired: list[str] = []
        for load in loads:
            for pattern in load.patterns:
                if pattern.id in revoked:
                    report.note_rejects([_revoked_reject(load, pattern.id)])
                    continue
                if pattern.id in older:
                    report.note_rejects([_superseded_reject(load, pattern.id)])
                    continue
                stored = _StoredPattern.of(pattern, feed)
                until = stored.expires_at or (
                    now + feed.expires if feed.expires is not None else None
                )
                listed.add(pattern.id)
                if until is not None and until.timestamp() < stamp:
                    if pattern.id in existing:
                        expired.append(pattern.id)
                    else:
                        report.note_skipped({"already_expired": 1})
                    continue
                fetched[pattern.id] = (_encode(stored), _stamp(until))
        report.expired += len(expired)
        self._conn.executemany(
            "DELETE FROM patterns WHERE feed = ? AND id = ?",
            [(feed.name, key) for key in expired],
        )
        for pattern_id, (record, expiry) in fetched.items():
            known = existing.get(pattern_id)
            if known is None:
                report.added += 1
            elif known != record:
                report.updated += 1
            else:
                report.unchanged += 1
            self._conn.execute(
                "INSERT OR REPLACE INTO patterns (feed, id, record, expires_at, "
                "first_synced, last_synced) VALUES (?, ?, ?, ?, coalesce((SELECT "
                "first_synced FROM patterns WHERE feed = ? AND id = ?), ?), ?)",
                (
                    feed.name,
                    pattern_id,
                    record,
                    expiry,
                    feed.name,
                    pattern_id,
                    stamp,
                    stamp,
                ),
            )
        if feed.mode == "snapshot":
            missing = [key for key in existing if key not in listed]
        else:
            missing = [key for key in existing if key in current and key not in listed]
        report.removed += len(missing)
        self._conn.executemany(
            "DELETE FROM patterns WHERE feed = ? AND id = ?",
            [(feed.name, key) for key in missing],
        )

    def _purge_expired(
        self, feed: str, now: datetime, point: Checkpoint | None = None
    ) -> int:
        """Delete a feed's records expired at ``now``; return how many.

        When records that only had the feed's default expiry go, the feed's
        validators are forgotten (in ``point`` too), so that its next fetch
        is unconditional: a ``304`` cannot bring back records it never lists.
        """
        stamp = now.timestamp()
        defaulted = self._conn.execute(
            "SELECT count(*) FROM indicators WHERE feed = ? AND expires_at < ? "
            "AND NOT own_expiry",
            (feed, stamp),
        ).fetchone()[0]
        expired = self._conn.execute(
            "DELETE FROM indicators WHERE feed = ? AND expires_at < ?", (feed, stamp)
        ).rowcount
        patterns = self._conn.execute(
            "DELETE FROM patterns WHERE feed = ? AND expires_at < ?", (feed, stamp)
        ).rowcount
        expired += patterns
        if defaulted or patterns:
            self._conn.execute(
                "UPDATE feeds SET etag = NULL, last_modified = NULL WHERE name = ?",
                (feed,),
            )
            if point is not None:
                point.etag = point.last_modified = None
        return expired

    def _count(self, feed: str) -> int:
        """Return how many records a feed has stored."""
        row = self._conn.execute(
            "SELECT (SELECT count(*) FROM indicators WHERE feed = ?) + "
            "(SELECT count(*) FROM patterns WHERE feed = ?)",
            (feed, feed),
        ).fetchone()
        return int(row[0])

    def feed_names(self) -> list[str]:
        """Return every feed the database holds records, revocations or a
        checkpoint of."""
        rows = self._conn.execute(
            "SELECT name FROM feeds UNION SELECT feed FROM indicators "
            "UNION SELECT feed FROM patterns UNION SELECT feed FROM "
            "stix_revocations ORDER BY 1"
        )
        return [name for (name,) in rows]

    def feed_summaries(self) -> list[tuple[str, int, Checkpoint | None]]:
        """Return each held feed's name, record count and checkpoint."""
        return [
            (name, self._count(name), self.checkpoint(name))
            for name in self.feed_names()
        ]

    def live_indicators(self, at: datetime | None = None) -> list[Indicator]:
        """Return every record live at ``at`` (now by default), feed by feed."""
        when = datetime.now(UTC) if at is None else at
        _check_aware(when)
        rows = self._conn.execute(
            "SELECT record, expires_at FROM indicators "
            "WHERE expires_at IS NULL OR expires_at >= ? ORDER BY feed, type, value",
            (when.timestamp(),),
        )
        return [_with_expiry(record, expiry) for record, expiry in rows]

    def live_patterns(self, at: datetime | None = None) -> list[PatternIndicator]:
        """Return every STIX pattern indicator live at ``at`` (now by default)."""
        when = datetime.now(UTC) if at is None else at
        _check_aware(when)
        rows = self._conn.execute(
            "SELECT record, expires_at FROM patterns "
            "WHERE expires_at IS NULL OR expires_at >= ?",
            (when.timestamp(),),
        )
        return [_decode_pattern(record).build(expiry) for record, expiry in rows]

    def drop_feed(self, feed: str) -> int:
        """Delete a feed's records, checkpoint and revocations.

        Return how many records went.
        """
        with self._conn:
            self._conn.execute("DELETE FROM feeds WHERE name = ?", (feed,))
            self._conn.execute("DELETE FROM patterns WHERE feed = ?", (feed,))
            self._conn.execute("DELETE FROM feed_events WHERE feed = ?", (feed,))
            self._conn.execute("DELETE FROM stix_objects WHERE feed = ?", (feed,))
            self._conn.execute("DELETE FROM stix_revocations WHERE feed = ?", (feed,))
            return self._conn.execute(
                "DELETE FROM indicators WHERE feed = ?", (feed,)
            ).rowcount

    def _transaction(self) -> sqlite3.Connection:
        """Return the connection as a transaction context manager."""
        return self._conn


def _checkpoint(row: tuple[Any, ...]) -> Checkpoint:
    """Build a checkpoint from a ``feeds`` row."""
    return Checkpoint(
        feed=row[0],
        etag=row[1],
        last_modified=row[2],
        last_attempt=_time(row[3]),
        last_success=_time(row[4]),
        next_due=_time(row[5]),
        failures=row[6],
        added_after=row[7],
        fingerprint=row[8],
        last_status=row[9],
        last_error=row[10],
        events=None if row[11] is None else msgspec.json.decode(row[11]),
    )


def _with_expiry(record: bytes, expiry: float | None) -> Indicator:
    """Decode a record and give it its effective expiry."""
    indicator = _decode_indicator(record)
    if indicator.expires_at is None and expiry is not None:
        return msgspec.structs.replace(indicator, expires_at=_time(expiry))
    return indicator


def _stored(row: tuple[Any, ...]) -> StoredIndicator:
    """Build a :class:`StoredIndicator` from a query row."""
    first, last = _time(row[2]), _time(row[3])
    assert first is not None and last is not None
    return StoredIndicator(
        indicator=_with_expiry(row[0], row[1]), first_synced=first, last_synced=last
    )


def _changed(known: bytes, new: Indicator) -> bool:
    """Return whether a record changed in more than its place in the file."""
    return _positionless(_decode_indicator(known)) != _positionless(new)


def _positionless(indicator: Indicator) -> Indicator:
    """Drop a reference that is only a line or record number."""
    if indicator.reference is not None and _POSITION.fullmatch(indicator.reference):
        return msgspec.structs.replace(indicator, reference=None)
    return indicator


def _effective_expiry(
    feed: FeedSpec, indicator: Indicator, now: datetime
) -> float | None:
    """Return the record's expiry, or the feed's default from ``now``."""
    if indicator.expires_at is not None:
        return indicator.expires_at.timestamp()
    if feed.expires is not None:
        return (now + feed.expires).timestamp()
    return None


def _merge_records(
    feed: FeedSpec,
    loads: list[FeedLoad],
    revoked: set[str],
    report: FeedReport,
    older: Collection[str] = (),
) -> dict[_Key, Indicator]:
    """Give the feed's meaning to each record and merge repeats of a value.

    Records of a ``revoked`` STIX id, or of one given in an ``older``
    version than the feed stored, are rejects.
    """
    merged: dict[_Key, Indicator] = {}
    refused: list[Reject] = []
    for load in loads:
        report.note_rejects(load.rejects)
        report.note_skipped(load.skipped)
        for indicator in load.indicators:
            if indicator.reference is not None and indicator.reference in revoked:
                refused.append(_revoked_reject(load, indicator.reference))
                continue
            if indicator.reference is not None and indicator.reference in older:
                refused.append(_superseded_reject(load, indicator.reference))
                continue
            record = _with_feed_meaning(feed, indicator)
            key = (record.type, record.value)
            known = merged.get(key)
            merged[key] = record if known is None else merge_indicators(known, record)
    report.note_rejects(refused)
    return merged


def _revoked_reject(load: FeedLoad, reference: str) -> Reject:
    """Return the reject for a record whose STIX id was revoked earlier."""
    return Reject(
        location=f"{Path(load.path).name}:{reference}",
        raw=reference,
        reason="revoked",
        message="the record's STIX id was revoked; it is not stored",
    )


def _superseded_reject(load: FeedLoad, reference: str) -> Reject:
    """Return the reject for a record of an older version than the one stored."""
    return Reject(
        location=f"{Path(load.path).name}:{reference}",
        raw=reference,
        reason="superseded",
        message=(
            "an older version of the STIX indicator than the one the feed "
            "gave before; it is not stored"
        ),
    )


class _StixFact(NamedTuple):
    """The latest version of one STIX indicator in a fetch.

    Attributes
    ----------
    version
        Its ``modified`` (else ``created``) time, epoch seconds; ``None``
        when it has none that can be read.
    created_by
        Its ``created_by_ref``, the identity that made it.
    revoked
        Whether that version revokes it.
    """

    version: float | None
    created_by: str | None
    revoked: bool


def _stix_facts(objects: Iterable[Any]) -> dict[str, _StixFact]:
    """Return the version and creator of each STIX indicator, by id.

    Of several versions of an id the latest wins, as the STIX loader
    chooses (a version without a readable time loses to one with); a
    version the loader rejects as malformed takes no part.
    """
    from trustwatch.intel.stix import check_stix_fields

    facts: dict[str, _StixFact] = {}
    for obj in objects:
        if not isinstance(obj, Mapping) or obj.get("type") != "indicator":
            continue
        stix_id = obj.get("id")
        if not isinstance(stix_id, str) or check_stix_fields(obj) is not None:
            continue
        version = None
        text = obj.get("modified") or obj.get("created")
        if isinstance(text, str):
            try:
                version = parse_feed_time(text).timestamp()
            except ValueError:
                version = None
        known = facts.get(stix_id)
        if known is not None and not _is_newer(version, known.version):
            continue
        creator = obj.get("created_by_ref")
        facts[stix_id] = _StixFact(
            version=version,
            created_by=creator if isinstance(creator, str) else None,
            revoked=obj.get("revoked") is True,
        )
    return facts


def _is_newer(new: float | None, old: float | None) -> bool:
    """Whether version ``new`` wins over ``old``, as the STIX loader decides."""
    if new is None or old is None:
        return new is not None or old is None
    return new >= old


def _fetched_stix_facts(
    fetched: Fetched, loads: list[FeedLoad]
) -> dict[str, _StixFact]:
    """Return the STIX indicator facts of a fetch (see :func:`_stix_facts`).

    TAXII objects are at hand; a STIX file is read again for what the load
    does not keep (versions and creators). Other formats have none.
    """
    if fetched.objects is not None:
        return _stix_facts(fetched.objects)
    if not any(load.format == "stix21" for load in loads):
        return {}
    from trustwatch.intel.stix import read_stix_file

    facts: dict[str, _StixFact] = {}
    for load in loads:
        if load.format == "stix21" and (
            load.revoked or load.indicators or load.patterns
        ):
            for stix_id, fact in _stix_facts(read_stix_file(Path(load.path))).items():
                known = facts.get(stix_id)
                if known is None or _is_newer(fact.version, known.version):
                    facts[stix_id] = fact
    return facts


def _with_feed_meaning(feed: FeedSpec, indicator: Indicator) -> Indicator:
    """Apply the feed's name, threat (when missing) and tags."""
    tags = indicator.tags
    if feed.tags:
        tags = tuple(dict.fromkeys(tags + feed.tags))
    if (
        indicator.feed == feed.name
        and tags == indicator.tags
        and (indicator.threat is not None or feed.threat is None)
    ):
        return indicator
    return msgspec.structs.replace(
        indicator,
        feed=feed.name,
        tags=tags,
        threat=indicator.threat or feed.threat,
    )


# --- syncing ------------------------------------------------------------------------


def sync_feeds(
    feedlist: FeedList | Iterable[FeedSpec],
    db: IntelDatabase,
    *,
    now: datetime,
    force: bool = False,
    only: Collection[str] | None = None,
    fetcher: Fetcher | None = None,
    keep_unlisted: bool = False,
    accept_empty: bool = False,
) -> SyncReport:
    """Fetch the feeds that are due and apply each one in its own transaction.

    Parameters
    ----------
    feedlist
        The feeds, in the order to sync them.
    db
        Where records and checkpoints live.
    now
        The aware time of the sync: what is due, expiry, checkpoints.
    force
        Fetch every chosen feed even when it is not due, without conditional
        headers (TAXII feeds still poll from their checkpoint).
    only
        Sync only the feeds with these names.
    fetcher
        What fetches a feed (:class:`FeedFetcher` by default).
    keep_unlisted
        Keep the feeds the database holds that ``feedlist`` does not name;
        by default they are dropped (records and checkpoint) and reported
        with status ``dropped``.
    accept_empty
        Apply a snapshot that came back empty, removing every record of its
        feed; by default such a fetch fails the feed and removes nothing.

    Raises
    ------
    ConfigError
        When ``now`` is naive or ``only`` names a feed not in the list.
    StorageError
        When the database cannot be written (e.g. locked for too long).
    """
    _check_aware(now)
    feeds = list(feedlist)
    names = {feed.name for feed in feeds}
    if only is not None:
        unknown = sorted(set(only) - names)
        if unknown:
            raise ConfigError(
                f"no feed named {unknown[0]!r} in the feed list; hint: known feeds "
                f"are {', '.join(sorted(names)) or 'none'}"
            )
        feeds = [feed for feed in feeds if feed.name in only]
    fetch = fetcher or FeedFetcher()
    try:
        reports = [
            _sync_one(feed, db, now, fetch, force=force, accept_empty=accept_empty)
            for feed in feeds
        ]
        if not keep_unlisted:
            reports += _drop_unlisted(db, names)
    except sqlite3.Error as exc:
        raise StorageError(
            f"cannot write intel database {db.path}: {exc}; hint: another process "
            "may hold it for long; try again, and run one sync at a time"
        ) from exc
    return SyncReport(at=now, feeds=reports)


def _drop_unlisted(db: IntelDatabase, listed: Collection[str]) -> list[FeedReport]:
    """Drop the feeds the database holds that the feed list does not name."""
    reports = []
    for name in db.feed_names():
        if name in listed:
            continue
        removed = db._count(name)
        db.drop_feed(name)
        reports.append(
            FeedReport(
                feed=name,
                status="dropped",
                reason=(
                    f"no longer in the feed list: dropped {removed:,} "
                    f"record{'' if removed == 1 else 's'}"
                ),
                removed=removed,
            )
        )
        log.info("feed %s is no longer listed: dropped %d records", name, removed)
    return reports


@contextlib.contextmanager
def sync_lock(db_path: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<db_path>.lock`` for one sync's run.

    Raises
    ------
    StorageError
        At once, when another sync holds the lock.
    """
    held = (
        f"another sync holds {db_path}; hint: wait for it to finish, or space "
        "the scheduled syncs further apart"
    )
    with exclusive_lock(db_path, held, "database"):
        yield


def _due_at(feed: FeedSpec, point: Checkpoint) -> datetime | None:
    """Return when a feed is due, with its current ``every``.

    After a success it is the last success plus ``every``; after a failure
    the failure back-off, never later than the last attempt plus ``every``.
    """
    if point.failures == 0 and point.last_success is not None:
        return point.last_success + feed.every
    if point.next_due is not None and point.last_attempt is not None:
        return min(point.next_due, point.last_attempt + feed.every)
    return point.next_due


def _sync_one(
    feed: FeedSpec,
    db: IntelDatabase,
    now: datetime,
    fetch: Fetcher,
    *,
    force: bool,
    accept_empty: bool,
) -> FeedReport:
    """Sync one feed; its changes and checkpoint commit together."""
    report = FeedReport(feed=feed.name, status="updated", source=feed.source)
    point = db.checkpoint(feed.name) or Checkpoint(feed=feed.name)
    reconfigured = point.fingerprint not in (None, feed.fingerprint())
    due_at = _due_at(feed, point)
    due = due_at is None or due_at <= now
    if not feed.enabled or not (force or due or reconfigured):
        report.status = "disabled" if not feed.enabled else "skipped_not_due"
        if feed.enabled and point.failures and point.last_status == "failed":
            report.failing = True
            report.reason = _still_failing(point, due_at, now)
        with db._transaction():
            report.expired = db._purge_expired(feed.name, now)
        report.total, report.next_due = db._count(feed.name), due_at
        return report
    if reconfigured:
        point = Checkpoint(feed=feed.name)
    conditional = None if force else point
    if feed.taxii is not None:
        conditional = point
        if _in_the_future(point.added_after, now):
            start = _taxii_time(point.last_success or now)
            _warn(
                feed,
                report,
                f"the checkpoint holds a TAXII date-added time in the future "
                f"({(point.added_after or '')[:40]}); this poll starts from {start} "
                "instead",
            )
            point.added_after = start
    point.last_attempt = now
    fresh_events: dict[str, bytes] = {}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="trustwatch-sync-") as folder,
            read_limit(feed.max_bytes),
        ):
            try:
                fetched = fetch(feed, conditional, Path(folder))
                if fetched.events is not None:
                    fresh_events = _complete_events(feed, db, fetched)
                loads = [] if fetched.not_modified else _load(feed, fetched)
                facts = _fetched_stix_facts(fetched, loads)
            except (IntelSourceError, ConfigError, InvalidIndicatorError) as exc:
                raise type(exc)(_in_source(str(exc), folder, feed)) from exc
    except (IntelSourceError, ConfigError, InvalidIndicatorError, OSError) as exc:
        return _failed(feed, db, point, report, now, exc)
    if not fetched.not_modified:
        refused = _refuse_snapshot(
            feed, loads, db._count(feed.name), accept_empty, len(fetched.rejects)
        )
        if refused is not None:
            return _failed(feed, db, point, report, now, refused)
    with db._transaction():
        if fetched.not_modified:
            report.status = "not_modified"
            if feed.mode == "snapshot":
                db._renew_unchanged(feed, now)
        else:
            report.note_rejects(fetched.rejects)
            db._apply(feed, loads, report, now, facts)
            point.etag, point.last_modified = fetched.etag, fetched.last_modified
            if fetched.events is not None:
                db._keep_events(feed.name, fetched.events, fresh_events)
                point.events = fetched.events
            added_after = fetched.added_after or point.added_after
            if _in_the_future(added_after, now):
                clamped = _taxii_time(now)
                _warn(
                    feed,
                    report,
                    f"the TAXII server sent a date-added time in the future "
                    f"({(added_after or '')[:40]}); the next poll starts from "
                    f"{clamped} instead; hint: the server's clock or data is "
                    "wrong, tell its administrator",
                )
                added_after = clamped
            point.added_after = added_after
        report.expired += db._purge_expired(feed.name, now, point)
        point.last_success, point.failures = now, 0
        point.next_due = now + feed.every
        point.fingerprint = feed.fingerprint()
        point.last_status, point.last_error = report.status, None
        db._save_checkpoint(point)
    report.total, report.next_due = db._count(feed.name), point.next_due
    log.info(
        "feed %s %s: %d added, %d updated, %d removed, %d expired, %d revoked, "
        "%d rejected, %d skipped",
        feed.name,
        report.status,
        report.added,
        report.updated,
        report.removed,
        report.expired,
        report.revoked,
        report.rejected,
        report.skipped,
    )
    return report


def _in_the_future(added_after: str | None, now: datetime) -> bool:
    """Whether a TAXII date-added time lies after ``now`` (beyond clock skew).

    Kept as the checkpoint, such a time would make every later poll ask
    for objects added after it, and get none.
    """
    if added_after is None:
        return False
    try:
        moment = parse_feed_time(added_after)
    except ValueError:
        return False
    return moment > now + _CLOCK_SKEW


def _taxii_time(when: datetime) -> str:
    """Write a time as TAXII 2.1 does: UTC, microseconds, ``Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _warn(feed: FeedSpec, report: FeedReport, message: str) -> None:
    """Note and log something wrong that does not fail the feed."""
    report.warnings.append(message)
    log.warning("feed %s: %s", feed.name, message)


def _retry_note(next_due: datetime | None, now: datetime) -> str:
    """Say when a failed feed is tried again."""
    if next_due is None or next_due <= now:
        return "the next sync tries again"
    minutes = max(1, round((next_due - now).total_seconds() / 60))
    due = next_due.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return (
        f"it is tried again by a sync from {due} UTC (in {minutes} min), "
        "or now with --force"
    )


def _still_failing(point: Checkpoint, due_at: datetime | None, now: datetime) -> str:
    """Say why a feed skipped as not due is still failing, and when it is retried."""
    when = point.last_attempt
    at = f" at {when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if when else ""
    attempts = "attempt" if point.failures == 1 else f"{point.failures} attempts"
    return (
        f"still failing: the last {attempts}{at} failed: "
        f"{point.last_error or 'no reason kept'}; {_retry_note(due_at, now)}"
    )


def _in_source(message: str, folder: str, feed: FeedSpec) -> str:
    """Name the feed's source, not the temporary download, in a message.

    A MISP feed folder's file keeps its name after the folder's URL.
    """

    def source(found: re.Match[str]) -> str:
        if feed.format == "misp_feed":
            return f"{feed.source.rstrip('/')}/{Path(found.group(0)).name}"
        return feed.source

    pattern = re.escape(folder) + r"[^\s:,;]*"
    return _redact_text(re.sub(pattern, source, message))


def _refuse_snapshot(
    feed: FeedSpec,
    loads: list[FeedLoad],
    held: int,
    accept_empty: bool,
    fetch_rejected: int = 0,
) -> IntelSourceError | None:
    """Return why a snapshot fetch must not be applied, or ``None``.

    ``fetch_rejected`` counts the records refused while fetching (TAXII
    entries that are not objects, MISP events that could not be had): they
    are rows of the snapshot too. See "Guarding snapshots" in the module
    docstring.
    """
    if feed.mode != "snapshot":
        return None
    usable = sum(
        len(load.indicators) + len(load.patterns) + len(load.revoked) for load in loads
    )
    rejected = fetch_rejected + sum(len(load.rejects) for load in loads)
    rows = usable + rejected
    kept = f"kept the {held:,} records held" if held else "nothing was stored"
    if usable == 0 and rejected:
        return IntelSourceError(
            f"feed {feed.name}: no valid records: 0 of {rows:,} rows usable; {kept}; "
            "hint: the source may have sent an error page, or the format is wrong "
            "(check format in the feed list)"
        )
    if usable == 0 and held and not accept_empty:
        return IntelSourceError(
            f"feed {feed.name}: the snapshot is empty, the feed holds {held:,} "
            "records; hint: nothing was removed, an empty download is more "
            "likely a fault than an empty list; sync with --accept-empty to accept it"
        )
    if held and rejected > _MOST_REJECTED * rows:
        return IntelSourceError(
            f"feed {feed.name}: {rejected:,} of {rows:,} rows rejected (over "
            f"{_MOST_REJECTED:.0%}); {kept}; hint: the source or its format may "
            "have changed, check format in the feed list"
        )
    return None


def _complete_events(
    feed: FeedSpec, db: IntelDatabase, fetched: Fetched
) -> dict[str, bytes]:
    """Fill a MISP feed folder with the kept events; return the fetched ones.

    A kept event the database has no copy of is left out of the checkpoint,
    so that the next sync fetches it (this one reads it as missing).
    """
    assert fetched.events is not None
    (folder,) = fetched.files
    kept = set(fetched.kept_events)
    copies = db._event_copies(feed.name, fetched.kept_events)
    for uuid, body in copies.items():
        (folder / f"{uuid}.json").write_bytes(body)
    fresh: dict[str, bytes] = {}
    for uuid in list(fetched.events):
        if uuid in kept:
            if uuid not in copies:
                del fetched.events[uuid]
            continue
        event_file = folder / f"{uuid}.json"
        if event_file.is_file():
            fresh[uuid] = event_file.read_bytes()
        else:
            del fetched.events[uuid]
    return fresh


def _load(feed: FeedSpec, fetched: Fetched) -> list[FeedLoad]:
    """Read what was fetched into feed loads."""
    if fetched.objects is not None:
        from trustwatch.intel.stix import load_stix_objects

        location = f"taxii:{feed.taxii.collection}" if feed.taxii else feed.name
        return [
            load_stix_objects(
                fetched.objects,
                feed=feed.name,
                confidence=feed.confidence,
                location=location,
            )
        ]
    return [
        load_feed(path, format=feed.format, feed=feed.name, confidence=feed.confidence)
        for path in fetched.files
    ]


def _failed(
    feed: FeedSpec,
    db: IntelDatabase,
    point: Checkpoint,
    report: FeedReport,
    now: datetime,
    exc: Exception,
) -> FeedReport:
    """Record a failed fetch: the feed is retried sooner than its schedule.

    The reason goes into the report (which callers print) and is logged at
    info level only, so that it is shown once.
    """
    reason = _redact_text(str(exc))
    point.failures += 1
    retry = min(feed.every, _FAILURE_RETRY * 2 ** min(point.failures - 1, 10))
    point.next_due = now + retry
    point.last_status, point.last_error = "failed", reason
    report.status, report.failing = "failed", True
    report.reason = f"{reason}; {_retry_note(point.next_due, now)}"
    with db._transaction():
        report.expired = db._purge_expired(feed.name, now, point)
        db._save_checkpoint(point)
    report.total, report.next_due = db._count(feed.name), point.next_due
    log.info("feed %s failed: %s", feed.name, reason)
    return report
