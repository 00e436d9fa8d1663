"""Fixtures for the console's browser tests: a served app and headless Chromium.

The app is served by uvicorn on a loopback port picked by the system, over a
decision store filled by the simulator (``trustwatch demo`` at a small scale)
plus one alert about an account named like an XSS payload, and a review store
whose cases are built from the stored alerts. Chromium is Debian's
(``/usr/bin/chromium``, or ``$TRUSTWATCH_CHROMIUM``) driven by Playwright;
``playwright install`` is never needed. Without either the tests skip, saying
why, unless ``TRUSTWATCH_REQUIRE_BROWSER=1`` (as in CI) makes that a failure.

A test module imports the fixtures it uses by name
(``from .browser_fixtures import console_site, ...``); they are kept out of
``conftest.py`` so that only the browser tests build the site.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

HOSTILE_ACCOUNT = "<img src=x onerror=alert(1)>"
HOSTILE_URL = "http://phish.example.net/login?next=evil"
ROLES = ("viewer", "analyst", "admin")


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("TRUSTWATCH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and TRUSTWATCH_REQUIRE_BROWSER=1 requires it")
    pytest.skip(reason)


def chromium_path() -> str:
    """Return the Chromium executable, or skip (fail under the CI flag)."""
    found = os.environ.get("TRUSTWATCH_CHROMIUM") or shutil.which("chromium")
    if not found or not Path(found).exists():
        _skip_or_fail(
            "no Chromium (hint: apt-get install chromium, or set TRUSTWATCH_CHROMIUM)"
        )
    assert found is not None
    return found


@dataclass
class ConsoleSite:
    """A running console: its address, sign-in tokens and the stores behind it."""

    base_url: str
    tokens: dict[str, str]
    store_path: Path
    review_path: Path
    app: Any
    ring_ids: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        """Return the absolute URL of a path on the site."""
        return self.base_url + path


def _enforced_action(at: datetime) -> Any:
    """An enforced action on the hostile alert, waiting for a dispatcher."""
    from trustwatch.decisions.model import Action

    return Action(
        action_id="hostile-action-1",
        verdict_id="hostile-verdict-1",
        event_id="hostile-event-1",
        type="disable_link",
        target_type="link",
        target=HOSTILE_URL,
        mode="enforce",
        actor="policy:test@1#disable-intel-links",
        reason=f"intel match on {HOSTILE_URL}",
        created_at=at,
        expires_at=at + timedelta(days=7),
    )


def _hostile_verdict(at: datetime) -> Any:
    """An alert about an account named like an XSS payload, citing a URL."""
    from trustwatch.decisions.model import Verdict
    from trustwatch.detectors.base import IndicatorRef, Signal

    signal = Signal(
        detector="intel_match",
        detector_version="1",
        kind="intel_url",
        score=0.97,
        entity_type="url",
        entity=HOSTILE_URL,
        event_id="hostile-event-1",
        reasons=(f"shared {HOSTILE_URL} <script>alert(2)</script>",),
        indicators=(
            IndicatorRef(
                type="url", value=HOSTILE_URL, feeds=("test-feed",), confidence=90
            ),
        ),
    )
    return Verdict(
        verdict_id="hostile-verdict-1",
        event_id="hostile-event-1",
        event_type="share",
        ts=at,
        account=HOSTILE_ACCOUNT,
        ip="198.51.100.7",
        decision="lock_account",
        score=0.97,
        signals=(signal,),
        rules=(),
        policy="test@1",
    )


def _serve(app: Any) -> tuple[str, Any, threading.Thread]:
    """Serve ``app`` with uvicorn on a free loopback port, in a thread."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("the console server did not start")
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture(scope="module")
def console_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleSite]:
    """A console served over simulated data, with one token per role."""
    pytest.importorskip("uvicorn")
    from rich.console import Console

    from trustwatch.api.app import create_app
    from trustwatch.api.settings import ServeSettings
    from trustwatch.api.tokens import TokenFile
    from trustwatch.cli.demo import run_demo
    from trustwatch.review.cases import build_cases
    from trustwatch.review.store import open_review_store
    from trustwatch.storage.sqlite import SqliteStore

    folder = tmp_path_factory.mktemp("console")
    run_demo(Console(file=io.StringIO()), folder, accounts=300, days=0.5, seed=11)
    store_path = folder / "trustwatch.sqlite"
    review_path = folder / "review.db"
    with SqliteStore(store_path) as store, open_review_store(review_path) as review:
        newest = max(v.ts for v in store.iter_verdicts())
        store.write_verdicts([_hostile_verdict(newest + timedelta(minutes=1))])
        store.write_actions([_enforced_action(newest + timedelta(minutes=1))])
        build_cases(store, review)
        ring_ids = [r.ring_id for r in store.rings()]

    token_file = folder / "tokens.json"
    tokens = {role: TokenFile(token_file).add(f"{role}-1", role) for role in ROLES}
    settings = ServeSettings(
        db=str(store_path),
        review_db=str(review_path),
        tokens=token_file,
        ledger=store_path,
    )
    app = create_app(settings)
    base_url, server, thread = _serve(app)
    try:
        yield ConsoleSite(
            base_url, tokens, store_path, review_path, app, ring_ids=ring_ids
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class PageWatch:
    """What a page did that a test should see: dialogs and console errors."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("Playwright is not installed (hint: pip install playwright)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[tuple[Any, PageWatch]]:
    """A fresh browser context and page, watched for dialogs and errors."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    watch = PageWatch()

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: Any) -> None:
        if message.type == "error":
            watch.errors.append(message.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    try:
        yield page, watch
    finally:
        context.close()


def sign_in(page: Any, site: ConsoleSite, role: str) -> None:
    """Sign in through the console's form with the token of ``role``."""
    page.goto(site.url("/console/login"))
    page.fill("#token", site.tokens[role])
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    if not page.url.startswith(site.url("/console")):
        page.goto(site.url("/console"))
