"""A limit on request bodies, applied before any route reads one.

Routes parse their bodies before they check who is asking, so without a
limit an anonymous client could make the service hold a body of any size in
memory just to answer 401. :class:`BodyLimit` answers 413 at once when the
declared ``Content-Length`` is over the limit, and counts the bytes of a
body sent without one (chunked), cutting it off with 413 at the limit.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "BodyTooLarge"]


class BodyTooLarge(HTTPException):
    """A request body passed the limit (413).

    An :class:`~starlette.exceptions.HTTPException`, so a route that is
    reading the body when it passes the limit answers 413 too, rather than
    calling it a parse error.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            status_code=413, detail=f"request body over the {limit}-byte limit"
        )


class BodyLimit:
    """ASGI middleware refusing request bodies over ``max_body`` bytes (413).

    Parameters
    ----------
    app
        The application behind it.
    max_body
        The most bytes a request body may hold.
    """

    def __init__(self, app: ASGIApp, *, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await self._refuse(scope, receive, send)
            return

        counted = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal counted
            message = await receive()
            if message["type"] == "http.request":
                counted += len(message.get("body", b""))
                if counted > self.max_body:
                    raise BodyTooLarge(self.max_body)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = JSONResponse(
            {"detail": f"request body over the {self.max_body}-byte limit"},
            status_code=413,
            headers={"Connection": "close"},
        )
        await refusal(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    """The declared body length; an unreadable one counts as too large."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 20 else 1 << 62
    return None
