"""JSON request bodies read strictly: a key given twice is refused.

``json.loads`` keeps the last of two equal keys, so ``{"assignee": "x",
"assignee": null}`` unassigns a case, while a proxy or firewall in front may
have judged the request by the first. Routes built with
:class:`StrictJsonRoute` read JSON bodies with :func:`strict_loads`, which
refuses such a body; FastAPI answers it 422 (``json_invalid``), as it does
any body that is not JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

__all__ = ["StrictJsonRoute", "strict_loads"]


def strict_loads(body: bytes | str) -> Any:
    """Parse JSON, refusing an object that gives a key twice.

    Raises
    ------
    json.JSONDecodeError
        For text that is not JSON, or an object with a repeated key.
    """
    return json.loads(body, object_pairs_hook=_unique)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise json.JSONDecodeError(f"key {key[:40]!r} is given twice", "", 0)
        found[key] = value
    return found


class _StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """An API route whose JSON body is read by :func:`strict_loads`."""

    def get_route_handler(
        self,
    ) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictJsonRequest(request.scope, request.receive))

        return strict
