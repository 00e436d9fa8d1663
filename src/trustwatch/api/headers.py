"""Security headers on every response, pages and API alike."""

from __future__ import annotations

import ipaddress
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "SecurityHeaders"]

log = logging.getLogger(__name__)

_SERVER_ERROR_BODY = b'{"detail":"internal error; the service log has the details"}'

#: Scripts, styles and pictures from this service only; no inline script, no
#: plugins, no framing, forms post back here only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # not no-referrer: with it a browser sends "Origin: null" on form posts,
    # and the sign-in refuses a post whose origin it cannot check
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _route_of(scope: Scope) -> str:
    """The route the request matched, as its pattern (``/accounts/{account}``):
    a path may hold an account or an address, which the log must not."""
    route = scope.get("route")
    pattern = getattr(route, "path_format", None)
    params = scope.get("path_params") or {}
    path = str(scope.get("path", ""))
    if not isinstance(pattern, str):
        return "(no route)"
    try:
        filled = pattern.format(**params)
    except (KeyError, IndexError, ValueError):
        return pattern
    # a router included under a prefix keeps its own patterns: add the prefix
    return path[: -len(filled)] + pattern if path.endswith(filled) else pattern


class SecurityHeaders:
    """ASGI middleware that sets :data:`SECURITY_HEADERS` on every response.

    A header a route set itself is replaced: the policy is the same for all.
    ``Strict-Transport-Security`` is added when ``https`` is set, or when a
    peer among ``trusted_proxies`` forwards ``X-Forwarded-Proto: https``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        https: bool = False,
        trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (),
    ) -> None:
        self.app = app
        self.https = https
        self.trusted_proxies = trusted_proxies
        headers = dict(SECURITY_HEADERS)
        self._names = {name.lower().encode("latin-1") for name in headers}
        self._names.add(_HSTS[0])
        self._raw = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        added = [*self._raw, _HSTS] if self._is_https(scope) else self._raw
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                kept = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k not in self._names
                ]
                message["headers"] = kept + added
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if started:
                raise
            # a fault of the service: logged with its traceback here, and
            # answered with a plain 500 that carries the headers too (the
            # server's own error page would carry none)
            log.exception(
                "request failed: %s %s", scope.get("method"), _route_of(scope)
            )
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send_with_headers(
                {"type": "http.response.body", "body": _SERVER_ERROR_BODY}
            )

    def _is_https(self, scope: Scope) -> bool:
        """Whether the browser reached the service over HTTPS."""
        if self.https or scope.get("scheme") == "https":
            return True
        if not self.trusted_proxies:
            return False
        client = scope.get("client")
        try:
            peer = ipaddress.ip_address(client[0]) if client else None
        except ValueError:
            return False
        if peer is None or not any(peer in net for net in self.trusted_proxies):
            return False
        proto = b""
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-proto":
                proto = value
        return proto.split(b",")[-1].strip().lower() == b"https"


_HSTS = (b"strict-transport-security", b"max-age=31536000")
