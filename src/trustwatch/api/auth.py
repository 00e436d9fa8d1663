"""Who is asking: API tokens, OIDC JWTs and console sessions, with roles.

Every route depends on :func:`require_viewer`, :func:`require_analyst` or
:func:`require_admin`. Each accepts either an ``Authorization: Bearer``
header (an API token or, when configured, a JWT) or the console's session
cookie. A session is a random id mapped, in memory, to the principal and a
CSRF token: a request with an unsafe method (POST, PUT, PATCH, DELETE) that
is authenticated by the cookie must carry the CSRF token in the
``X-CSRF-Token`` header or a ``csrf_token`` form field. Bearer requests are
exempt: a browser never adds the header on its own.

A session remembers how it was opened: the API token's name and digest, or
the JWT's expiry. Every request through the cookie checks again that the
token is still in the token file (it is read again when it changes), and a
session opened with a JWT ends when the JWT expires, so revoking a token or
letting a JWT lapse ends its console sessions too.

Failures are 401 with ``WWW-Authenticate``; a known principal without the
role gets 403. Failed sign-ins and bearer tokens count per client address;
past the limit, further *failing* attempts from that address get 429 until
the window passes, while valid credentials still pass. A token holds 256
random bits, so the limit keeps logs and load quiet rather than guarding a
secret, and it must not lock out colleagues who share an address (a NAT or
a proxy). The client address is the peer's, or, when the peer is one of the
settings' trusted proxies, the right-most address of ``X-Forwarded-For``
that is not a trusted proxy.

API tokens and JWT subjects share one namespace of principal names: a JWT
whose subject (the name claim) equals an API token's name is refused, so
the audit log's actor names exactly one credential. Names are compared as
:func:`principal_key` folds them (compatibility forms, case, and invisible
format characters such as zero-width spaces), so ``Analyst`` and
``analyst\u200b`` both collide with a token named ``analyst``. A console
session opened with a JWT ends once a token of its name appears, and a token
cannot be created through the API for a name signed in with a JWT.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
import threading
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from trustwatch.api.oidc import JwtVerifier, looks_like_jwt
from trustwatch.api.settings import ServeSettings
from trustwatch.api.tokens import ROLES, Role, TokenFile, principal_key
from trustwatch.decisions.model import stable_id
from trustwatch.errors import ConfigError
from trustwatch.review.model import AuditEntry

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "Authenticator",
    "Credential",
    "Principal",
    "audit",
    "csrf_token",
    "forwarded_client",
    "principal_key",
    "request_is_https",
    "require_admin",
    "require_analyst",
    "require_viewer",
    "router",
]

log = logging.getLogger(__name__)

SESSION_COOKIE = "trustwatch_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="trustwatch"'}
_MAX_TOKEN = 4096


@dataclass(frozen=True, slots=True)
class Principal:
    """A signed-in person or program: a name for the audit log, and a role."""

    name: str
    role: Literal["viewer", "analyst", "admin"]

    def allows(self, role: Role) -> bool:
        """Return whether this principal holds ``role`` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True, slots=True)
class Credential:
    """A verified secret: who it stands for, and what keeps it valid.

    Attributes
    ----------
    principal
        The person or program.
    token_digest
        The SHA-256 of the API token, when the secret was one.
    expires
        The JWT's expiry, when the secret was a JWT.
    """

    principal: Principal
    token_digest: str | None = None
    expires: datetime | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """A console sign-in: who, its CSRF token, when it ends, and how it began.

    ``token_digest`` names the API token it was opened with (the session ends
    when that token leaves the token file); a session opened with a JWT ends
    at ``expires``, the JWT's expiry, when that is before the session's own.
    """

    principal: Principal
    csrf: str
    expires: datetime
    token_digest: str | None = None


class Authenticator:
    """Checks credentials and keeps console sessions and failure counts.

    Parameters
    ----------
    settings
        Token file, OIDC, session lifetime and failure limits.
    clock
        Returns the current time (UTC); injectable for tests.
    """

    def __init__(
        self,
        settings: ServeSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.tokens = TokenFile(settings.tokens) if settings.tokens else None
        self.jwt = JwtVerifier(settings.oidc) if settings.oidc else None
        self._sessions: dict[str, Session] = {}
        # failures by client (an IPv6 /64 is one client), least recently
        # failing first, so that stale ones are dropped from the front
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def verify_secret(self, secret: str) -> Principal | None:
        """Return the principal an API token or JWT stands for, else ``None``."""
        found = self.verify_credential(secret)
        return found.principal if found is not None else None

    def verify_credential(self, secret: str) -> Credential | None:
        """Return what an API token or JWT stands for, else ``None``.

        Raises
        ------
        ConfigError
            When the token file cannot be read (a JWT is still checked).
        """
        if not secret or len(secret) > _MAX_TOKEN:
            return None
        if self.jwt is not None and looks_like_jwt(secret):
            return self._verify_jwt(secret)
        if self.tokens is not None:
            stored = self.tokens.verify(secret)
            if stored is not None:
                return Credential(Principal(stored.name, stored.role), stored.sha256)
        return None

    def _verify_jwt(self, secret: str) -> Credential | None:
        """Check a JWT; refuse one whose subject is also an API token's name."""
        assert self.jwt is not None
        found = self.jwt.verify(secret)
        if found is None:
            return None
        if self._names_a_token(found.name):
            log.info("JWT refused: its subject is also the name of an API token")
            return None
        return Credential(Principal(found.name, found.role), expires=found.expires)

    def _names_a_token(self, name: str) -> bool:
        """Whether ``name`` is an API token's name, as :func:`principal_key`
        compares them (no when the token file cannot be read)."""
        if self.tokens is None:
            return False
        try:
            stored = self.tokens.tokens()
        except ConfigError:
            return False
        key = principal_key(name)
        return any(principal_key(t.name) == key for t in stored)

    def assignee(self, name: str) -> str:
        """Return the name a case given to ``name`` is recorded under.

        A name that :func:`principal_key` folds to an API token's name is
        that token's own name (``"ANALYST"`` is ``"analyst"``); a token of
        the viewer role cannot work a case. With OIDC on, other names pass
        as they are (the provider's subjects cannot be listed).

        Raises
        ------
        ConfigError
            When ``name`` is a viewer's, or names no token while OIDC is off
            (one message for both: an analyst may not list the tokens).
        """
        key = principal_key(name)
        for stored in self.tokens.tokens() if self.tokens is not None else ():
            if principal_key(stored.name) == key:
                if Principal(stored.name, stored.role).allows("analyst"):
                    return stored.name
                break
        else:
            if self.jwt is not None:
                return name
        # one answer for a viewer's name and for no one's: an analyst may not
        # list the tokens, so the refusal must not tell them apart
        raise ConfigError(
            "no analyst or admin has that name; hint: give the case to an "
            "analyst's or admin's name (admins list the tokens: `trustwatch "
            "serve token list`)"
        )

    def signed_in_without_token(self, name: str) -> bool:
        """Whether a live console session opened with a JWT has ``name``."""
        key = principal_key(name)
        now = self.clock()
        with self._lock:
            return any(
                s.token_digest is None
                and s.expires > now
                and principal_key(s.principal.name) == key
                for s in self._sessions.values()
            )

    # -- sessions ------------------------------------------------------------

    def open_session(self, credential: Credential | Principal) -> tuple[str, Session]:
        """Start a console session; return its id (the cookie) and record.

        The session lasts ``session_ttl``, or until the JWT it was opened with
        expires, whichever comes first.
        """
        if isinstance(credential, Principal):
            credential = Credential(credential)
        ends = self.clock() + self.settings.session_ttl
        if credential.expires is not None:
            ends = min(ends, credential.expires)
        session_id = secrets.token_urlsafe(32)
        session = Session(
            principal=credential.principal,
            csrf=secrets.token_urlsafe(32),
            expires=ends,
            token_digest=credential.token_digest,
        )
        with self._lock:
            self._drop_expired()
            self._sessions[session_id] = session
        return session_id, session

    def session(self, session_id: str | None) -> Session | None:
        """Return the live session ``session_id`` names, else ``None``.

        A session whose token left the token file ends now.

        Raises
        ------
        ConfigError
            When the token file a session depends on cannot be read.
        """
        if not session_id or len(session_id) > 128:
            return None
        with self._lock:
            found = self._sessions.get(session_id)
            if found is not None and found.expires <= self.clock():
                del self._sessions[session_id]
                return None
        if found is not None and not self._token_still_valid(found):
            self.close_session(session_id)
            return None
        return found

    def _token_still_valid(self, session: Session) -> bool:
        """Whether the token a session was opened with is still in the file;
        for a session opened with a JWT, whether no token has its name."""
        if session.token_digest is None:
            return not self._names_a_token(session.principal.name)
        if self.tokens is None:
            return False
        return any(
            hmac.compare_digest(session.token_digest, stored.sha256)
            and stored.name == session.principal.name
            and stored.role == session.principal.role
            for stored in self.tokens.tokens()
        )

    def end_sessions_of(self, token_name: str) -> int:
        """End every session opened with the API token ``token_name``.

        Returns
        -------
        int
            How many sessions ended.
        """
        with self._lock:
            ended = [
                key
                for key, s in self._sessions.items()
                if s.token_digest is not None and s.principal.name == token_name
            ]
            for key in ended:
                del self._sessions[key]
        return len(ended)

    def close_session(self, session_id: str | None) -> Session | None:
        """End a session; return it, or ``None`` when there was none."""
        if not session_id:
            return None
        with self._lock:
            return self._sessions.pop(session_id, None)

    def _drop_expired(self) -> None:
        now = self.clock()
        for key in [k for k, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[key]

    # -- failure counting ----------------------------------------------------

    @property
    def failing_clients(self) -> int:
        """How many clients' failed sign-ins are being counted."""
        return len(self._failures)

    def blocked(self, address: str) -> bool:
        """Return whether ``address`` failed too often within the window.

        The addresses of one IPv6 /64 count as one client: a host is given a
        whole /64, and could otherwise try again from a fresh address.
        """
        key = _client_key(address)
        with self._lock:
            found = self._failures.get(key)
            if found is None:
                return False
            _trim(found, self.clock() - self.settings.failed_login_window)
            if not found:
                del self._failures[key]
            return len(found) >= self.settings.max_failed_logins

    def note_failure(self, address: str) -> None:
        """Count one failed sign-in or bearer token from ``address``.

        Clients whose failures all left the window are forgotten, and at most
        :data:`MAX_FAILING_CLIENTS` are counted (the least recently failing
        go first), so that a flood of addresses cannot grow the table.
        """
        key = _client_key(address)
        now = self.clock()
        since = now - self.settings.failed_login_window
        failures = self._failures
        with self._lock:
            found = failures.get(key)
            if found is None:
                found = failures[key] = deque()
            else:
                failures.move_to_end(key)
            _trim(found, since)
            found.append(now)
            # the front failed least recently: drop it while it is stale
            while failures:
                oldest = next(iter(failures.values()))
                if (
                    oldest
                    and oldest[-1] > since
                    and len(failures) <= MAX_FAILING_CLIENTS
                ):
                    break
                failures.popitem(last=False)


#: Most clients whose failed sign-ins are counted at once.
MAX_FAILING_CLIENTS = 100_000


#: IPv6 prefixes whose last 32 bits are an IPv4 client (NAT64, and the old
#: IPv4-compatible form): such an address counts as that IPv4 address.
_EMBEDDED_IPV4 = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("::/96"),
)


def _client_key(address: str) -> str:
    """Return the key failures of ``address`` count under: its /64 for IPv6.

    An IPv6 address that carries an IPv4 client (mapped, NAT64,
    IPv4-compatible) counts as that IPv4 address, and a loopback, link-local
    or zoned one as itself: their /64 holds more than one client.
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv4Address):
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    if parsed.scope_id or parsed.is_loopback or parsed.is_link_local:
        return str(parsed)
    for prefix in _EMBEDDED_IPV4:
        if parsed in prefix and not parsed.is_unspecified:
            return str(ipaddress.IPv4Address(int(parsed) & 0xFFFFFFFF))
    return str(ipaddress.IPv6Network((parsed, 64), strict=False))


def _trim(failures: deque[datetime], since: datetime) -> None:
    """Drop the failures at or before ``since`` (they are in time order)."""
    while failures and failures[0] <= since:
        failures.popleft()


def client_address(request: Request) -> str:
    """The client's address: the peer's, or what a trusted proxy forwarded.

    ``X-Forwarded-For`` is read only when the peer is a trusted proxy
    (``ServeSettings.trusted_proxies``); its addresses are walked from the
    right, skipping trusted proxies, and the first other one is the client.
    Everything left of it could be written by the client itself.
    """
    peer = request.client.host if request.client else "unknown"
    trusted = _authenticator(request).settings.trusted_networks()
    return forwarded_client(peer, request.headers.getlist("x-forwarded-for"), trusted)


def forwarded_client(
    peer: str,
    forwarded_for: list[str],
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...],
) -> str:
    """Return the client address behind ``peer`` (see :func:`client_address`)."""
    if not trusted or not is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for line in forwarded_for for h in line.split(",")]
    for hop in reversed([h for h in hops if h]):
        if not is_trusted(hop, trusted):
            return hop[:64] if _is_address(hop) else "unknown"
    return peer


def is_trusted(
    address: str, trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    """Return whether ``address`` lies in one of the ``trusted`` networks."""
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return any(parsed in network for network in trusted)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def request_is_https(request: Request) -> bool:
    """Whether the browser reached the service over HTTPS.

    True when the service serves TLS or is configured as behind a TLS proxy,
    or when a trusted proxy says ``X-Forwarded-Proto: https``.
    """
    settings = _authenticator(request).settings
    if settings.https or request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else ""
    proto = request.headers.get("x-forwarded-proto", "").split(",")[-1].strip()
    return proto.lower() == "https" and is_trusted(peer, settings.trusted_networks())


def _authenticator(request: Request) -> Authenticator:
    found: Authenticator = request.app.state.auth
    return found


def _unauthorized(detail: str = "authentication required") -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers=_CHALLENGE)


def _too_many(auth: Authenticator) -> HTTPException:
    seconds = int(auth.settings.failed_login_window.total_seconds())
    return HTTPException(
        status_code=429,
        detail="too many failed sign-ins from this address; try again later",
        headers={"Retry-After": str(seconds)},
    )


async def _csrf_sent(request: Request) -> str:
    """The CSRF token the request carries, in the header or a form field."""
    sent = request.headers.get(CSRF_HEADER)
    if sent:
        return sent
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def authenticate(request: Request) -> Principal:
    """Return the request's principal, or raise 401 (or 429, or 403 on CSRF)."""
    auth = _authenticator(request)
    address = client_address(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        principal = (
            auth.verify_secret(secret.strip()) if scheme.lower() == "bearer" else None
        )
        if principal is None:
            # only failing attempts are limited: a valid token always passes
            if auth.blocked(address):
                raise _too_many(auth)
            auth.note_failure(address)
            raise _unauthorized("invalid bearer token")
        request.state.principal = principal
        return principal
    session = auth.session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise _unauthorized()
    if request.method in _UNSAFE:
        sent = await _csrf_sent(request)
        if not sent or not hmac.compare_digest(sent, session.csrf):
            raise HTTPException(status_code=403, detail="missing or wrong CSRF token")
    request.state.principal = session.principal
    request.state.csrf = session.csrf
    return session.principal


def _requiring(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if not principal.allows(role):
            raise HTTPException(status_code=403, detail=f"needs the {role} role")
        return principal

    dependency.__name__ = f"require_{role}"
    dependency.__doc__ = f"Let through principals with the {role} role or higher."
    return dependency


require_viewer = _requiring("viewer")
require_analyst = _requiring("analyst")
require_admin = _requiring("admin")


def csrf_token(request: Request) -> str:
    """Return the CSRF token of the request's console session, or ``""``.

    For templates: put it in a hidden ``csrf_token`` field of every form, or
    in the ``X-CSRF-Token`` header of scripted requests.
    """
    found = getattr(request.state, "csrf", None)
    if isinstance(found, str):
        return found
    try:
        session = _authenticator(request).session(request.cookies.get(SESSION_COOKIE))
    except ConfigError:
        # an unreadable token file must not take the sign-in form down with it
        return ""
    return session.csrf if session else ""


def audit(
    request: Request,
    principal: Principal,
    action: str,
    target_type: str,
    target: str,
    detail: dict[str, object] | None = None,
) -> None:
    """Write one analyst action to the audit log, with who, what and from where."""
    now = datetime.now(UTC)
    entry = AuditEntry(
        entry_id=stable_id("audit", now.isoformat(), secrets.token_hex(8)),
        at=now,
        actor=principal.name,
        role=principal.role,
        action=action,
        target_type=target_type,
        target=target,
        detail=dict(detail or {}),
        source=client_address(request),
    )
    request.app.state.review.audit(entry)


router = APIRouter(tags=["sign-in"])

_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>trustwatch: sign in</title>
</head><body><main><h1>trustwatch</h1>
<form method="post" action="/login">
<label>API token <input type="password" name="token" autocomplete="off"
 required maxlength="4096"></label>
<button type="submit">Sign in</button></form></main></body></html>
"""


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request) -> Response:
    """The sign-in form (public); the console's own when it is installed."""
    home = request.app.state.console_home
    if home is not None:
        return RedirectResponse(f"{home}/login", status_code=303)
    return HTMLResponse(_LOGIN_PAGE)


def _same_origin(request: Request) -> bool:
    """Whether a browser's ``Origin`` header, when sent, is this service."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin != "null" and origin.split("://", 1)[-1] == host


def _local_path(target: str, fallback: str) -> str:
    """``target`` if it is a path on this service, else ``fallback``."""
    if (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and target.isprintable()
        and len(target) <= 512
    ):
        return target
    return fallback


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    token: Annotated[str, Form(max_length=_MAX_TOKEN)],
    next: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    """Exchange a token for a session cookie (public, rate-limited).

    A browser (``Accept: text/html``) is redirected: to ``next`` (a local
    path) or the console after sign-in, back to the console's form after a
    failure. Other clients get JSON: the principal and the CSRF token, or 401.
    """
    auth = _authenticator(request)
    address = client_address(request)
    if not _same_origin(request):
        raise HTTPException(status_code=403, detail="cross-origin sign-in refused")
    browser = "text/html" in request.headers.get("accept", "")
    home = request.app.state.console_home
    credential = auth.verify_credential(token.strip())
    if credential is None:
        if auth.blocked(address):
            raise _too_many(auth)
        auth.note_failure(address)
        log.info("failed sign-in from %s", address)
        if browser and home is not None:
            return RedirectResponse(f"{home}/login?failed=1", status_code=303)
        raise _unauthorized("invalid token")
    principal = credential.principal
    session_id, session = auth.open_session(credential)
    audit(request, principal, "login", "session", principal.name)
    response: Response = JSONResponse(
        {"name": principal.name, "role": principal.role, "csrf_token": session.csrf}
    )
    if browser:
        landing = _local_path(next, home or "/api/v1/whoami")
        response = RedirectResponse(landing, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(auth.settings.session_ttl.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request_is_https(request),
        path="/",
    )
    return response


@router.post("/logout", include_in_schema=False)
def logout(
    request: Request, principal: Annotated[Principal, Depends(require_viewer)]
) -> Response:
    """End the console session (a bearer request has none to end).

    A browser is sent back to the console's sign-in form; other clients get
    JSON.
    """
    _authenticator(request).close_session(request.cookies.get(SESSION_COOKIE))
    audit(request, principal, "logout", "session", principal.name)
    home = request.app.state.console_home
    response: Response = JSONResponse({"signed_out": True})
    if "text/html" in request.headers.get("accept", "") and home is not None:
        response = RedirectResponse(f"{home}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
