"""The analyst API application: stores, sign-in, headers and routes.

:func:`create_app` opens the stores named in :class:`ServeSettings` and
wires the routes. What the routes (and the console's pages) use is on
``app.state``:

``decisions``
    The decision store, one per thread
    (:class:`~trustwatch.storage.sqlite.SqliteStore` or
    :class:`~trustwatch.storage.postgres.PostgresStore`).
``open_writable_decisions``
    Opens a short-lived writable handle on the decision store, for the
    actions analysts take when resolving a case (close it after use).
``reader``
    A :class:`~trustwatch.api.decisions.DecisionReader` over it: filtered
    verdicts, actions and rings from either kind of store.
``review``
    The :class:`~trustwatch.review.model.ReviewStore`, shared by all threads.
``policy``
    The loaded :class:`~trustwatch.decisions.policy.Policy`.
``intel``
    The :class:`~trustwatch.intel.sync.IntelDatabase`, or ``None``.
``ledger``
    The :class:`~trustwatch.response.ledger.DispatchLedger`, or ``None``.
``auth``
    The :class:`~trustwatch.api.auth.Authenticator`.
``case_builder``
    The :class:`~trustwatch.api.case_builder.CaseBuilder` that builds cases
    in the background, or ``None`` when building is off.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from trustwatch.api.auth import Authenticator, Principal, require_viewer
from trustwatch.api.auth import router as auth_router
from trustwatch.api.case_builder import CaseBuilder
from trustwatch.api.decisions import DecisionReader
from trustwatch.api.headers import SecurityHeaders
from trustwatch.api.limits import BodyLimit
from trustwatch.api.perthread import PerThread
from trustwatch.api.settings import ServeSettings
from trustwatch.errors import ConfigError, StorageError
from trustwatch.review.model import ReviewStore

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def _open_decisions(settings: ServeSettings) -> Callable[[], Any]:
    from trustwatch.storage.checkpoints import POSTGRES_SCHEMES, open_store, sqlite_path
    from trustwatch.storage.sqlite import SqliteStore

    if settings.db.startswith(POSTGRES_SCHEMES):
        return lambda: open_store(settings.db, schema=settings.db_schema)
    path = sqlite_path(settings.db)
    return lambda: SqliteStore(path, readonly=True)


def _open_writable_decisions(settings: ServeSettings) -> Callable[[], Any]:
    """Open the decision store for a write (serving reads it read-only)."""
    from trustwatch.storage.checkpoints import POSTGRES_SCHEMES, open_store, sqlite_path
    from trustwatch.storage.sqlite import SqliteStore

    if settings.db.startswith(POSTGRES_SCHEMES):
        return lambda: open_store(settings.db, schema=settings.db_schema)
    path = sqlite_path(settings.db)
    return lambda: SqliteStore(path)


def _open_review(settings: ServeSettings) -> ReviewStore:
    """Open the review store; it is shared by all threads (a pooled engine)."""
    from trustwatch.review.store import open_review_store

    opened: ReviewStore = open_review_store(
        settings.review_db, schema=settings.review_schema
    )
    return opened


def _open_intel(settings: ServeSettings) -> PerThread[Any] | None:
    if settings.intel_db is None:
        return None
    from trustwatch.intel.sync import IntelDatabase

    path = settings.intel_db
    if not path.is_file():
        raise ConfigError(
            f"intel database {path} does not exist; hint: run `trustwatch intel "
            "sync --db FILE` first, or leave out --intel-db"
        )
    return PerThread(lambda: IntelDatabase(path), "intel database")


def _open_ledger(settings: ServeSettings) -> PerThread[Any] | None:
    if settings.ledger is None:
        return None
    from trustwatch.response.ledger import DispatchLedger

    path = settings.ledger
    if not path.is_file():
        raise ConfigError(
            f"dispatch ledger {path} does not exist; hint: pass the store file "
            "that `trustwatch run` and `trustwatch dispatch` use"
        )
    return PerThread(lambda: DispatchLedger(path), "dispatch ledger")


def create_app(
    settings: ServeSettings,
    *,
    review: ReviewStore | None = None,
    clock: Callable[[], datetime] | None = None,
    build_cases_every: float | None = None,
) -> FastAPI:
    """Build the API for ``settings``; the stores open now, in this thread.

    Parameters
    ----------
    settings
        Stores, policy, sign-in and limits.
    review
        The review store to use (it must be safe to share between threads);
        by default :func:`trustwatch.review.store.open_review_store` opens
        ``settings.review_db``, and the app closes it on shutdown.
    clock
        The time source of sessions and failure counts.
    build_cases_every
        Seconds between background case builds from the decision store into
        the review store (:class:`~trustwatch.api.case_builder.CaseBuilder`,
        started with the app and stopped on shutdown); ``None`` or 0 builds
        none.

    Raises
    ------
    ConfigError
        When a setting names something missing or unusable.
    StorageError
        When a store cannot be opened.
    """
    from trustwatch.decisions.policy import default_policy, load_policy

    policy = load_policy(settings.policy) if settings.policy else default_policy()
    auth = Authenticator(settings, clock) if clock else Authenticator(settings)
    decisions = PerThread(_open_decisions(settings), "decision store")
    review_store = review if review is not None else _open_review(settings)
    intel = _open_intel(settings)
    ledger = _open_ledger(settings)
    opened: list[Any] = [s for s in (decisions, intel, ledger) if s is not None]
    if review is None:
        opened.append(review_store)
    builder = _case_builder(settings, review_store, build_cases_every)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if builder is not None:
            builder.start()
        try:
            yield
        finally:
            if builder is not None:
                builder.stop()
            for store in opened:
                store.close()

    app = FastAPI(
        title="trustwatch",
        summary="Cases, alerts, rings, indicators and actions for analysts.",
        version=_version(),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.auth = auth
    app.state.decisions = decisions
    app.state.open_writable_decisions = _open_writable_decisions(settings)
    app.state.reader = DecisionReader(decisions)
    app.state.review = review_store
    app.state.policy = policy
    app.state.intel = intel
    app.state.ledger = ledger
    app.state.console_home = None
    app.state.case_builder = builder
    app.add_middleware(BodyLimit, max_body=settings.max_body)
    app.add_middleware(
        SecurityHeaders,
        https=settings.https,
        trusted_proxies=settings.trusted_networks(),
    )
    app.add_exception_handler(StorageError, _storage_unavailable)
    app.add_exception_handler(ConfigError, _storage_unavailable)
    app.add_exception_handler(RequestValidationError, _invalid_request)

    from trustwatch.api.v1 import router as v1_router

    app.include_router(auth_router)
    app.include_router(v1_router, prefix="/api/v1")
    _add_openapi_route(app)
    _include_console(app)
    return app


def _case_builder(
    settings: ServeSettings, review: ReviewStore, every: float | None
) -> CaseBuilder | None:
    """The background case builder, or ``None`` when ``every`` is off."""
    if not every:
        return None
    from trustwatch.review.cases import BuildSummary, build_cases

    def build(decisions: Any) -> BuildSummary:
        return build_cases(decisions, review)  # type: ignore[arg-type]

    return CaseBuilder(_open_decisions(settings), build, every=every)


def _version() -> str:
    from trustwatch import __version__

    return __version__


def _add_openapi_route(app: FastAPI) -> None:
    """Serve the OpenAPI document to signed-in principals only."""

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document(
        _: Annotated[Principal, Depends(require_viewer)],
    ) -> JSONResponse:
        return JSONResponse(app.openapi())


def _include_console(app: FastAPI) -> None:
    """Add the web console's pages when this installation has them."""
    try:
        from trustwatch.api import console
    except ModuleNotFoundError as exc:
        if exc.name != "trustwatch.api.console":
            raise
        log.info("no web console in this installation; serving the API only")
        return
    app.include_router(console.router)
    app.state.console_home = "/console"


async def _storage_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """A store or the token file failing answers 503, without its message.

    The message may name hosts, paths or file contents; the log gets one
    line naming the kind of failure, and no traceback.
    """
    what = "token file or settings" if isinstance(exc, ConfigError) else "store"
    log.error("%s failure on %s: %s", what, request.url.path, type(exc).__name__)
    return JSONResponse({"detail": "a store is unavailable"}, status_code=503)


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """422 naming each bad field and why, without repeating what was sent.

    FastAPI's default answer echoes the input, which may be a token posted
    to the wrong field, or kilobytes of hostile text.
    """
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [
        {
            "loc": [str(part) for part in error.get("loc", ())][:6],
            "msg": _message(error)[:200],
            "type": str(error.get("type", "invalid"))[:60],
        }
        for error in errors[:20]
    ]
    if _body_not_json(request, errors):
        return JSONResponse(
            {"detail": "the body must be JSON; hint: send it as application/json"},
            status_code=415,
        )
    home = request.app.state.console_home
    path = request.url.path
    if (
        home
        and request.method == "GET"
        and (path == home or path.startswith(home + "/"))
    ):
        from trustwatch.api import console

        return console.invalid_address_page(request, detail)
    return JSONResponse({"detail": detail}, status_code=422)


def _body_not_json(request: Request, errors: Sequence[Any]) -> bool:
    """Whether an API route's body failed because it was sent as something
    other than JSON (``text/plain``, a form): that is 415, not a bad field."""
    if not request.url.path.startswith("/api/"):
        return False
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not media or media == "application/json" or media.endswith("+json"):
        return False
    return any(tuple(error.get("loc", ()))[:1] == ("body",) for error in errors)


def _message(error: dict[str, Any]) -> str:
    """An error's message; for a body that is not JSON, with the parser's reason
    (``Expecting value``, a key given twice), which quotes no more than a key."""
    message = str(error.get("msg", "invalid"))
    reason = (error.get("ctx") or {}).get("error")
    if error.get("type") == "json_invalid" and isinstance(reason, str) and reason:
        return f"{message}: {reason}"
    return message
