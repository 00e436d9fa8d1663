"""Poll a TAXII 2.1 collection for new STIX objects, one increment at a time.

A TAXII 2.1 server hands out STIX objects in pages ("envelopes"). Each poll
asks only for objects added after the previous poll's high-water mark, follows
the server's ``next`` token until ``more`` is false, drops objects it has
already seen in this poll, and returns the value to pass as ``added_after``
next time::

    from trustwatch.intel.taxii import TaxiiSource, poll_collection

    source = TaxiiSource(
        "https://taxii.example.org/api1/", "indicators", username="me",
        password=secret,
    )
    poll = poll_collection(source, added_after=state.get("added_last"))
    state["added_last"] = poll.added_last

Only the api-root's own scheme, host and port are ever contacted: a redirect
or a ``next`` token aiming anywhere else is refused. TLS certificates are
verified unless the source says otherwise, proxies and ``.netrc`` files from
the environment are ignored, and credentials never appear in messages or logs.

Every response body (discovery of the collections, each page) is streamed:
it is decoded (``Content-Encoding`` gzip or deflate) as it arrives, its
decoded bytes count towards the poll's ``max_bytes``, and the clock is read
between chunks, so a server that drips its body is cut off at the poll's
``deadline``. With a :class:`TaxiiRetry`, a request that fails for a passing
reason (a timeout, a lost connection, an answer such as ``429`` or ``503``)
is sent again after a wait, within the deadline.
"""

from __future__ import annotations

import json
import logging
import re
import time
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, NoReturn
from urllib.parse import urlsplit

import msgspec
import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from taxii2client.common import _HTTPConnection
from taxii2client.exceptions import TAXIIServiceException
from taxii2client.v21 import ApiRoot
from taxii2client.v21 import Collection as TaxiiCollection
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import ReadTimeoutError

from trustwatch.errors import ConfigError, IntelSourceError
from trustwatch.intel._json import TooDeep, split_when_too_deep
from trustwatch.intel._times import parse_feed_time
from trustwatch.intel.feeds import Reject

__all__ = [
    "TAXII_21_MEDIA_TYPE",
    "TaxiiPoll",
    "TaxiiRetry",
    "TaxiiSource",
    "poll_collection",
]

log = logging.getLogger(__name__)

TAXII_21_MEDIA_TYPE = "application/taxii+json;version=2.1"
"""The ``Accept`` and ``Content-Type`` value of every TAXII 2.1 exchange."""

_DATE_ADDED_LAST = "X-TAXII-Date-Added-Last"
_RAW_CHARS = 200
_DEFAULT_PORTS = {"http": 80, "https": 443}
_URL_START = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# raw bytes read per chunk, and the most decoded bytes one step may give
_CHUNK = 64 * 1024

_Origin = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class TaxiiSource:
    """Where to poll: a TAXII 2.1 api root, one of its collections, and how.

    Attributes
    ----------
    url
        The api-root URL, e.g. ``https://taxii.example.org/api1/`` (not the
        discovery URL). It must not carry credentials, a query or a fragment.
    collection
        The collection's id, or its title when no collection has that id.
    username, password
        HTTP basic-auth credentials; give both or neither. Kept out of the
        object's ``repr``.
    verify_tls
        Check the server's TLS certificate (on by default; turn off only for
        a test server).
    token
        A bearer token sent as ``Authorization: Bearer <token>``, instead of
        basic auth. Kept out of the object's ``repr``.
    """

    url: str
    collection: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    verify_tls: bool = True
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class TaxiiRetry:
    """How a poll sends again a request that failed for a passing reason.

    Attributes
    ----------
    retries
        Attempts after the first, per request.
    statuses
        HTTP statuses worth another attempt (e.g. ``429``, ``503``);
        timeouts and lost connections always are (TLS failures never).
    wait
        Seconds to wait before retry number ``attempt`` (from 0), given the
        answer's ``Retry-After`` header (``None`` without one).
    sleep
        Called with the wait, in seconds.
    """

    retries: int
    statuses: Collection[int]
    wait: Callable[[int, str | None], float]
    sleep: Callable[[float], None] = time.sleep


class TaxiiPoll(msgspec.Struct, kw_only=True):
    """What one poll of a collection gave.

    Attributes
    ----------
    objects
        The STIX objects added since ``added_after``, in server order, each
        (id, version) at most once.
    added_last
        The server's ``X-TAXII-Date-Added-Last`` for the newest page (or the
        newest ``date_added`` carried by an object); the ``added_after`` value
        passed in when the poll found nothing new. Pass it as ``added_after``
        to the next poll.
    pages
        Number of pages (HTTP requests for objects) read.
    duplicates
        Objects skipped because the same id and version came earlier in this
        poll.
    rejects
        Entries of an envelope that were not STIX objects (no ``id`` or
        ``type``), with the reason.
    """

    objects: list[dict[str, Any]]
    added_last: str | None
    pages: int
    duplicates: int = 0
    rejects: list[Reject] = []


class _BearerAuth(AuthBase):
    """Send a bearer token in the ``Authorization`` header."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(<hidden>)"


class _ApiRootOnlyAdapter(HTTPAdapter):
    """An HTTP adapter that talks to one origin only, with a fixed timeout.

    Every request, redirects included, passes through :meth:`send`, so a
    request to any other scheme, host or port is refused before a connection
    is opened. The headers of the latest response are kept for the caller.
    With a ``deadline`` (seconds for the whole poll), no request starts after
    it, none waits past it and no body is read past it. Bodies are read here,
    chunk by chunk, decoded and counted against ``max_bytes`` (for the whole
    poll); ``retry`` sends a request again after a passing failure.
    """

    def __init__(
        self,
        origin: _Origin,
        timeout: float,
        deadline: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_bytes: int | None = None,
        retry: TaxiiRetry | None = None,
    ) -> None:
        super().__init__(max_retries=0)
        self.origin = origin
        self._timeout = timeout
        self._deadline = deadline
        self._clock = clock
        self._ends = None if deadline is None else clock() + deadline
        self._max_bytes = max_bytes
        self._retry = retry
        self._read = 0
        self.last_headers: Mapping[str, str] = {}

    def _time_left(self) -> float | None:
        """Return the seconds left before the deadline, or ``None`` without one."""
        return None if self._ends is None else self._ends - self._clock()

    def _past_deadline(self) -> IntelSourceError:
        """Return the error for a poll that ran past its deadline."""
        return IntelSourceError(
            f"the TAXII poll took more than its deadline of {self._deadline:.3g} s; "
            "hint: the server is too slow, or raise the feed's deadline"
        )

    def _check_deadline(self) -> None:
        """Raise when the poll's deadline has passed."""
        left = self._time_left()
        if left is not None and left <= 0:
            raise self._past_deadline()

    def _too_large(self) -> IntelSourceError:
        """Return the error for a poll whose answers exceed ``max_bytes``."""
        return IntelSourceError(
            f"the TAXII server {_show_origin(self.origin)} sent more than "
            f"max_bytes ({self._max_bytes:,}) in this poll (counted after "
            "decompression); nothing was applied; hint: raise the feed's "
            "max_bytes if the collection really is that big"
        )

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send ``request`` if it goes to the api root's origin, else refuse it.

        The body is read before returning; a passing failure is retried
        when the adapter has a :class:`TaxiiRetry`.
        """
        target = _origin_of(request.url or "")
        if target != self.origin:
            raise IntelSourceError(
                f"refused a request to {_show_origin(target)}; only the api root's "
                f"server {_show_origin(self.origin)} is contacted; hint: the "
                "server redirected away from itself, so check the api-root URL"
            )
        retries = 0 if self._retry is None else self._retry.retries
        attempt = 0
        while True:
            try:
                response = self._attempt(request, timeout, verify, cert, proxies)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if isinstance(exc, requests.exceptions.SSLError) or attempt >= retries:
                    raise
                self._pause(attempt, None, f"{type(exc).__name__}")
                attempt += 1
                continue
            status = response.status_code
            if (
                self._retry is not None
                and attempt < retries
                and status in self._retry.statuses
            ):
                self._pause(
                    attempt, response.headers.get("Retry-After"), f"HTTP {status}"
                )
                attempt += 1
                continue
            self.last_headers = response.headers
            return response

    def _pause(self, attempt: int, retry_after: str | None, what: str) -> None:
        """Wait before retry number ``attempt``, or raise when no time is left."""
        assert self._retry is not None
        wait = self._retry.wait(attempt, retry_after)
        left = self._time_left()
        tries = "1 attempt" if attempt == 0 else f"{attempt + 1} attempts"
        if left is not None and wait >= left:
            asked = (
                f" (the server sent Retry-After: {retry_after[:40]})"
                if (retry_after)
                else ""
            )
            raise IntelSourceError(
                f"the TAXII server {_show_origin(self.origin)} answered {what}, "
                f"{tries}{asked}; no time is left for another before the poll's "
                f"deadline of {self._deadline:.3g} s; hint: the server may be down "
                "or limiting requests, try again later or raise the feed's deadline"
            )
        log.info("TAXII request: %s, retrying in %.1f s", what, wait)
        self._retry.sleep(wait)

    def _attempt(
        self,
        request: requests.PreparedRequest,
        timeout: float | tuple[float, float] | tuple[float, None] | None,
        verify: bool | str,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None,
        proxies: Mapping[str, str] | None,
    ) -> requests.Response:
        """Send ``request`` once and read its whole body, within the limits."""
        wait = self._timeout if timeout is None else timeout
        left = self._time_left()
        if left is not None:
            if left <= 0:
                raise self._past_deadline()
            wait = min(wait, left)
        try:
            response = super().send(
                request,
                stream=True,
                timeout=wait,
                verify=verify,
                cert=cert,
                proxies=proxies,
            )
            try:
                body = self._read_body(response)
            except BaseException:
                response.close()
                raise
        except requests.Timeout:
            left = self._time_left()
            if left is not None and left <= 0:
                raise self._past_deadline() from None
            raise
        response._content = body
        response._content_consumed = True  # type: ignore[attr-defined]
        # an object nested too deeply becomes a reject, not a failed poll
        response.json = partial(split_when_too_deep, response.json, body)  # type: ignore[method-assign]
        response.close()  # read to its end: the connection goes back to the pool
        return response

    def _read_body(self, response: requests.Response) -> bytes:
        """Read, decode and count a response's body, chunk by chunk.

        Raises
        ------
        IntelSourceError
            Past the deadline, over ``max_bytes``, or for a body that
            cannot be decoded.
        requests.Timeout, requests.ConnectionError
            When the server stops answering, or the connection drops.
        """
        decoder = _BodyDecoder(response.headers.get("Content-Encoding", ""))
        budget = None if self._max_bytes is None else self._max_bytes - self._read
        declared = response.headers.get("Content-Length", "")
        if (
            budget is not None
            and decoder.identity
            and declared.isdigit()
            and int(declared) > budget
        ):
            raise self._too_large()
        parts: list[bytes] = []
        size = 0
        while True:
            self._check_deadline()
            try:
                raw = response.raw.read1(_CHUNK, decode_content=False)
            except ReadTimeoutError as exc:
                raise requests.exceptions.ReadTimeout(str(exc)) from None
            except Urllib3Error as exc:
                raise requests.ConnectionError(type(exc).__name__) from None
            for chunk in decoder.decode(raw) if raw else decoder.finish():
                if not chunk:
                    continue
                size += len(chunk)
                if budget is not None and size > budget:
                    raise self._too_large()
                parts.append(chunk)
            if not raw:
                break
        self._read += size
        return b"".join(parts)


class _BodyDecoder:
    """Undo ``Content-Encoding`` gzip or deflate, never giving a large step.

    Each step of decompression gives at most ``_CHUNK`` bytes, so a body
    that inflates a thousand times is counted as it grows, not after.

    Raises
    ------
    IntelSourceError
        For a coding that is not decoded, or a damaged or cut-short stream.
    """

    def __init__(self, header: str) -> None:
        codings = [c.strip().lower() for c in header.split(",")]
        codings = [c for c in codings if c not in ("", "identity")]
        for coding in codings:
            if coding not in ("gzip", "x-gzip", "deflate"):
                raise IntelSourceError(
                    f"the TAXII server sent a body with Content-Encoding "
                    f"{coding[:40]!r}, which is not decoded; nothing was applied; "
                    "hint: have the server send gzip or plain data"
                )
        self._codings = list(reversed(codings))
        self._streams = [self._new(coding) for coding in self._codings]
        self._seen = [False] * len(self._codings)
        self.identity = not codings

    @staticmethod
    def _new(coding: str, raw: bool = False) -> Any:
        """Return a decompressor for one stream of ``coding``."""
        if coding in ("gzip", "x-gzip"):
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)

    def decode(self, data: bytes) -> Iterator[bytes]:
        """Yield the decoded pieces of the next raw chunk, as they come."""
        pieces: Iterator[bytes] = iter((data,))
        for layer in range(len(self._codings)):
            pieces = self._layer(layer, pieces)
        return pieces

    def _layer(self, layer: int, pieces: Iterator[bytes]) -> Iterator[bytes]:
        """Yield what one layer makes of ``pieces``."""
        for piece in pieces:
            yield from self._inflate(layer, piece)

    def finish(self) -> list[bytes]:
        """Check that every compressed stream ended; there is nothing more."""
        for layer, stream in enumerate(self._streams):
            if self._seen[layer] and not stream.eof:
                raise self._damaged("the compressed stream ends before its end")
        return []

    def _inflate(self, layer: int, data: bytes) -> Iterator[bytes]:
        """Inflate ``data`` with one layer, in steps of at most ``_CHUNK`` bytes."""
        coding = self._codings[layer]
        pending = bool(data)
        while pending:
            stream = self._streams[layer]
            if stream.eof:
                if coding == "deflate":
                    raise self._damaged("data after the end of the deflate stream")
                stream = self._streams[layer] = self._new(coding)
            try:
                piece = stream.decompress(data, _CHUNK)
            except zlib.error as exc:
                if coding == "deflate" and not self._seen[layer]:
                    # some servers send raw deflate without the zlib header
                    self._streams[layer] = self._new(coding, raw=True)
                    self._seen[layer] = True
                    continue
                raise self._damaged(str(exc)) from None
            self._seen[layer] = True
            if piece:
                yield piece
            if stream.unconsumed_tail:
                data = stream.unconsumed_tail
            elif stream.eof:
                data = stream.unused_data
                pending = bool(data)
            else:
                # a full step may leave output inside the decompressor
                data = b""
                pending = len(piece) == _CHUNK

    def _damaged(self, why: str) -> IntelSourceError:
        """Return the error for a compressed body that is damaged."""
        return IntelSourceError(
            f"the TAXII server's {', '.join(self._codings)}-encoded answer is cut "
            f"short or damaged ({why[:80]}); nothing was applied; hint: the "
            "connection may have dropped or the server compresses badly"
        )


def poll_collection(
    source: TaxiiSource,
    added_after: str | None,
    *,
    timeout: float = 30.0,
    page_size: int = 1000,
    deadline: float | None = None,
    max_bytes: int | None = None,
    retry: TaxiiRetry | None = None,
) -> TaxiiPoll:
    """Fetch the objects added to a TAXII 2.1 collection since ``added_after``.

    Parameters
    ----------
    source
        The api root, collection and credentials.
    added_after
        The previous poll's :attr:`TaxiiPoll.added_last` (a timestamp), or
        ``None`` for everything the collection holds.
    timeout
        Seconds to wait for a connection and for each read, per request.
    page_size
        Objects asked for per page (``limit``); the server may send fewer.
    deadline
        Seconds for the whole poll, every page and retry included: no
        request waits past it and no body is read past it (``None``: no
        limit but ``timeout`` per read).
    max_bytes
        Most bytes the poll's answers may hold together, counted after
        decompression as they arrive (``None``: no limit).
    retry
        How to retry a request that failed for a passing reason (``None``:
        every failure is final).

    Returns
    -------
    TaxiiPoll
        The new objects, the next ``added_after`` and counters.

    Raises
    ------
    ConfigError
        When the source, ``added_after``, ``timeout`` or ``page_size`` is
        unusable.
    IntelSourceError
        On HTTP errors (401, 403, 404, 429, 5xx... once the retries are
        spent), TLS, connection and timeout failures, a poll past its
        deadline or over ``max_bytes``, and answers that are not TAXII 2.1.
        The message never holds the credentials. A poll that fails part-way
        returns nothing: keep the previous ``added_after`` and poll again.

    Notes
    -----
    The server returns the latest version of each object (its default);
    objects are told apart by ``id`` and ``modified`` (else ``created``).

    Examples
    --------
    >>> poll_collection(TaxiiSource("ftp://x/", "c"), None)
    Traceback (most recent call last):
    ...
    trustwatch.errors.ConfigError: TAXII api-root URL must start with https:// \
or http://, got 'ftp'; hint: give the api root, e.g. https://taxii.example.org/api1/
    """
    root_url, origin = _check_source(source)
    _check_settings(added_after, timeout, page_size)
    if deadline is not None and not deadline > 0:
        raise ConfigError(
            f"TAXII deadline must be above 0 seconds, got {deadline}; hint: leave "
            "it out for no deadline"
        )
    if max_bytes is not None and max_bytes < 1:
        raise ConfigError(
            f"TAXII max_bytes must be at least 1, got {max_bytes}; hint: leave it "
            "out for no limit"
        )
    adapter = _ApiRootOnlyAdapter(
        origin, timeout, deadline, max_bytes=max_bytes, retry=retry
    )
    connection = _connect(source, adapter)
    try:
        api_root = ApiRoot(root_url, conn=connection)
        collection = _find_collection(api_root, source, root_url)
        poll = _read_pages(
            collection, adapter, source, root_url, added_after, page_size
        )
    finally:
        connection.close()
    log.info(
        "TAXII poll of %s collection %s: %d objects in %d pages, "
        "%d duplicates skipped, %d rejected",
        root_url,
        collection.id,
        len(poll.objects),
        poll.pages,
        poll.duplicates,
        len(poll.rejects),
    )
    return poll


def _check_source(source: TaxiiSource) -> tuple[str, _Origin]:
    """Return the api-root URL (with a final slash) and its origin, or raise."""
    try:
        parts = urlsplit(source.url.strip())
        port = parts.port
    except ValueError:
        raise ConfigError(
            "TAXII api-root URL is not a URL; hint: give the api root, e.g. "
            "https://taxii.example.org/api1/"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ConfigError(
            f"TAXII api-root URL must start with https:// or http://, got "
            f"{scheme!r}; hint: give the api root, e.g. https://taxii.example.org/api1/"
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            "TAXII api-root URL carries credentials; hint: remove them from the "
            "URL and pass username and password (or token) instead"
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            "TAXII api-root URL carries a query or fragment; hint: give the bare "
            "api-root URL and pass credentials as username/password or token"
        )
    if not parts.hostname:
        raise ConfigError(
            "TAXII api-root URL has no host; hint: give the api root, e.g. "
            "https://taxii.example.org/api1/"
        )
    if not source.collection.strip():
        raise ConfigError(
            "TAXII collection is empty; hint: give the collection's id or title"
        )
    if (source.username is None) != (source.password is None):
        raise ConfigError(
            "TAXII basic auth needs both a username and a password; hint: give "
            "both, or neither"
        )
    if source.token is not None and source.username is not None:
        raise ConfigError(
            "TAXII source has both basic-auth credentials and a token; hint: "
            "give one of them"
        )
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    netloc = parts.netloc.lower()
    origin = (scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme])
    return f"{scheme}://{netloc}{path}", origin


def _check_settings(added_after: str | None, timeout: float, page_size: int) -> None:
    """Raise ConfigError for a bad ``added_after``, timeout or page size."""
    if added_after is not None:
        try:
            parse_feed_time(added_after)
        except ValueError:
            raise ConfigError(
                f"added_after {added_after[:40]!r} is not a timestamp; hint: pass "
                "the previous poll's added_last, or None for a full poll"
            ) from None
    if not timeout > 0:
        raise ConfigError(
            f"TAXII timeout must be above 0 seconds, got {timeout}; hint: 30 "
            "suits most servers"
        )
    if page_size < 1:
        raise ConfigError(
            f"TAXII page size must be at least 1, got {page_size}; hint: 1000 "
            "suits most servers (they may send fewer)"
        )


def _connect(source: TaxiiSource, adapter: _ApiRootOnlyAdapter) -> _HTTPConnection:
    """Open a TAXII 2.1 connection whose every request goes through ``adapter``."""
    auth = _BearerAuth(source.token) if source.token is not None else None
    connection = _HTTPConnection(
        user=source.username,
        password=source.password,
        verify=source.verify_tls,
        version="2.1",
        auth=auth,
    )
    session: requests.Session = connection.session
    session.trust_env = False
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return connection


def _find_collection(api_root: ApiRoot, source: TaxiiSource, root_url: str) -> Any:
    """Return the api root's collection whose id, else title, is the one asked."""
    wanted = source.collection.strip()
    try:
        collections: list[TaxiiCollection] = list(api_root.collections)
    except Exception as exc:
        _raise_source_error(exc, root_url, wanted, "listing the collections")
    for collection in collections:
        if collection.id == wanted:
            return _readable(collection, root_url)
    titled = [c for c in collections if c.title == wanted]
    if len(titled) == 1:
        return _readable(titled[0], root_url)
    known = ", ".join(f"{c.id} ({c.title!r})" for c in collections[:10]) or "none"
    if titled:
        raise IntelSourceError(
            f"TAXII api root {root_url} has {len(titled)} collections titled "
            f"{wanted!r}; hint: give the collection's id instead: {known}"
        )
    raise IntelSourceError(
        f"TAXII api root {root_url} has no collection with id or title "
        f"{wanted!r}; hint: collections this account can see: {known}"
    )


def _readable(collection: Any, root_url: str) -> Any:
    """Return ``collection`` if this account may read it, else raise."""
    if not collection.can_read:
        raise IntelSourceError(
            f"TAXII collection {collection.id} on {root_url} is not readable by "
            "this account; hint: ask the server's administrator for read access"
        )
    return collection


def _read_pages(
    collection: Any,
    adapter: _ApiRootOnlyAdapter,
    source: TaxiiSource,
    root_url: str,
    added_after: str | None,
    page_size: int,
) -> TaxiiPoll:
    """Follow the collection's pages from ``added_after`` until ``more`` is false."""
    objects: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    seen: set[tuple[str, str]] = set()
    duplicates = 0
    newest: tuple[datetime, str] | None = None
    next_token: str | None = None
    pages = 0
    while True:
        filters: dict[str, Any] = {"limit": page_size}
        if added_after is not None:
            filters["added_after"] = added_after
        if next_token is not None:
            filters["next"] = next_token
        try:
            envelope = collection.get_objects(accept=TAXII_21_MEDIA_TYPE, **filters)
        except Exception as exc:
            _raise_source_error(exc, root_url, collection.id, "reading objects")
        pages += 1
        if not isinstance(envelope, dict) or not isinstance(
            envelope.get("objects", []), list
        ):
            raise IntelSourceError(
                f"TAXII collection {collection.id} on {root_url} answered page "
                f"{pages} with something other than an envelope; hint: check "
                "that the URL is a TAXII 2.1 api root"
            )
        new_on_page = 0
        location = f"{root_url}collections/{collection.id}/objects/#page{pages}"
        for entry in envelope.get("objects", []):
            if not _is_stix_object(entry):
                rejects.append(_reject(entry, location))
                continue
            key = (entry["id"], _version_of(entry))
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            objects.append(entry)
            new_on_page += 1
        newest = _later(newest, adapter.last_headers.get(_DATE_ADDED_LAST))
        for entry in envelope.get("objects", []):
            if isinstance(entry, dict) and isinstance(entry.get("date_added"), str):
                newest = _later(newest, entry["date_added"])
        if not envelope.get("more", False):
            break
        next_token = _checked_next(envelope.get("next"), adapter, collection.id)
        if new_on_page == 0:
            raise IntelSourceError(
                f"TAXII collection {collection.id} on {root_url} said page "
                f"{pages} has more after it but sent nothing new; hint: the "
                "server is paging in a loop, so poll again later or report it "
                "to its administrator"
            )
    added_last = newest[1] if newest is not None else added_after
    return TaxiiPoll(
        objects=objects,
        added_last=added_last,
        pages=pages,
        duplicates=duplicates,
        rejects=rejects,
    )


def _checked_next(token: object, adapter: _ApiRootOnlyAdapter, name: str) -> str:
    """Return the ``next`` token of an envelope, refusing one aimed elsewhere.

    TAXII 2.1 tokens are opaque and go back only as the ``next`` query
    parameter; a token written as an absolute URL must still name the api
    root's own server.
    """
    if not isinstance(token, str) or not token:
        raise IntelSourceError(
            f"TAXII collection {name} said there is more but gave no 'next' "
            "token; hint: the server is not TAXII 2.1 compliant, so ask its "
            "administrator, or raise page_size"
        )
    if _URL_START.match(token):
        target = _origin_of(token)
        if target != adapter.origin:
            raise IntelSourceError(
                f"TAXII collection {name} sent a 'next' link to "
                f"{_show_origin(target)}; only the api root's server is "
                "contacted; hint: report the server's paging to its administrator"
            )
    return token


def _is_stix_object(entry: object) -> bool:
    """Whether ``entry`` looks like a STIX object: a mapping with id and type."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("id"), str)
        and isinstance(entry.get("type"), str)
    )


def _version_of(stix_object: Mapping[str, Any]) -> str:
    """Return the object's version: ``modified``, else ``created``, else ``""``."""
    for name in ("modified", "created"):
        value = stix_object.get(name)
        if isinstance(value, str):
            return value
    return ""


def _reject(entry: object, location: str) -> Reject:
    """Describe an envelope entry that is not a STIX object."""
    if isinstance(entry, TooDeep):
        return Reject(
            location=location, raw=entry.raw, reason="too_deep", message=entry.message
        )
    try:
        raw = json.dumps(entry, sort_keys=True, default=str)
    except ValueError:
        raw = repr(entry)
    return Reject(
        location=location,
        raw=raw[:_RAW_CHARS],
        reason="malformed_record",
        message="envelope entry is not a STIX object with a string id and type",
    )


def _later(
    newest: tuple[datetime, str] | None, text: str | None
) -> tuple[datetime, str] | None:
    """Return the later of ``newest`` and the timestamp ``text`` (kept verbatim)."""
    if text is None:
        return newest
    try:
        moment = parse_feed_time(text)
    except ValueError:
        log.warning("TAXII server sent an unreadable date-added time %r", text[:40])
        return newest
    if newest is None or moment > newest[0]:
        return (moment, text)
    return newest


def _origin_of(url: str) -> _Origin:
    """Return (scheme, host, port) of ``url``; an unparsable URL gives blanks."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ("", "", 0)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        port = 0  # not a port number: never the api root's origin
    return (scheme, (parts.hostname or "").lower(), port)


def _show_origin(origin: _Origin) -> str:
    """Write an origin as ``scheme://host:port`` (never with credentials).

    A port that could not be read is left out.
    """
    scheme, host, port = origin
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme or '?'}://{host or '?'}" + (f":{port}" if port else "")


_HTTP_HINTS = {
    401: (
        "the server refused the credentials",
        "check the username and password, or the token",
    ),
    403: (
        "this account may not read it",
        "ask the server's administrator for read access to the collection",
    ),
    404: (
        "the server does not know it",
        "check the api-root URL (the api root itself, not the discovery URL, "
        "e.g. https://taxii.example.org/api1/) and the collection id",
    ),
    429: (
        "the server is limiting this account's requests",
        "poll less often (raise the feed's every) or allow more retries, "
        "and ask the server's administrator about its rate limit",
    ),
    406: (
        "the server does not speak TAXII 2.1",
        "check that the server offers TAXII 2.1 (TAXII 2.0 servers are not read)",
    ),
}


def _raise_source_error(
    exc: BaseException, root_url: str, collection: str, step: str
) -> NoReturn:
    """Turn a failure of ``step`` into an IntelSourceError with a hint."""
    where = f"TAXII api root {root_url} collection {collection!r}: {step} failed"
    if isinstance(exc, IntelSourceError):
        raise exc
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status in _HTTP_HINTS:
            what, hint = _HTTP_HINTS[status]
            message = f"{where} with HTTP {status}: {what}; hint: {hint}"
        elif status >= 500:
            message = (
                f"{where} with HTTP {status}: the server failed; hint: try again "
                "later, and tell the server's administrator if it persists"
            )
        else:
            message = (
                f"{where} with HTTP {status}; hint: check the api-root URL, the "
                "collection and the credentials"
            )
        raise IntelSourceError(message) from None
    if isinstance(exc, requests.exceptions.SSLError):
        raise IntelSourceError(
            f"{where}: the TLS handshake or certificate check failed; hint: check "
            "that the URL is right and the server's certificate is valid for it "
            "(turn verify_tls off only for a test server)"
        ) from None
    if isinstance(exc, requests.Timeout):
        raise IntelSourceError(
            f"{where}: no answer in time; hint: raise the timeout, or try again "
            "when the server is less busy"
        ) from None
    if isinstance(exc, requests.ConnectionError):
        raise IntelSourceError(
            f"{where}: could not connect; hint: check the host and port in the "
            "api-root URL and that the server is up"
        ) from None
    if isinstance(exc, TAXIIServiceException | ValueError):
        raise IntelSourceError(
            f"{where}: the answer is not TAXII 2.1 JSON ({type(exc).__name__}); "
            "hint: check that the URL is a TAXII 2.1 api root"
        ) from None
    if isinstance(exc, requests.RequestException):
        raise IntelSourceError(
            f"{where} ({type(exc).__name__}); hint: check the api-root URL"
        ) from None
    raise exc
