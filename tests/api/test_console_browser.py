"""The web console in a real headless Chromium: sign-in, queue, cases, rings.

Each test also checks that the page raised no console error, which is where
Chromium reports content-security-policy violations, and that no dialog
opened (an injected ``alert`` would).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .browser_fixtures import (
    HOSTILE_ACCOUNT,
    ConsoleSite,
    PageWatch,
    browser_page,
    chromium,
    console_site,
    sign_in,
)

__all__ = ["browser_page", "chromium", "console_site"]

pytestmark = pytest.mark.slow

Watched = tuple[Any, PageWatch]


def _rows(page: Any) -> list[dict[str, str]]:
    return [
        {
            "case": row.get_attribute("data-case") or "",
            "href": row.get_attribute("data-href") or "",
            "priority": row.query_selector("td:nth-child(2)").inner_text(),
            "subject": row.query_selector("td.subject a").inner_text(),
        }
        for row in page.query_selector_all("#queue tr.case-row")
    ]


def _clean(watch: PageWatch) -> None:
    assert watch.errors == [], f"console errors (CSP violations?): {watch.errors}"
    assert watch.dialogs == [], f"a dialog opened: {watch.dialogs}"


def test_sign_in_shows_the_queue_in_priority_order(
    console_site: ConsoleSite, browser_page: Watched
) -> None:
    page, watch = browser_page
    sign_in(page, console_site, "analyst")

    assert page.url.startswith(console_site.url("/console"))
    assert page.inner_text(".who .name") == "analyst-1"
    rows = _rows(page)
    assert len(rows) == 50, "one full page of open cases"
    priorities = [float(r["priority"]) for r in rows]
    assert priorities == sorted(priorities, reverse=True)
    from trustwatch.review.model import CaseQuery
    from trustwatch.review.store import open_review_store

    with open_review_store(console_site.review_path) as review:
        expected = [c.case_id for c in review.cases(CaseQuery(status="open"))]
    assert [r["case"] for r in rows] == expected
    _clean(watch)


def test_keyboard_moves_through_the_queue_and_opens_a_case(
    console_site: ConsoleSite, browser_page: Watched
) -> None:
    page, watch = browser_page
    sign_in(page, console_site, "viewer")
    rows = _rows(page)

    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert page.get_attribute("#queue tr.selected", "data-case") == rows[1]["case"]
    with page.expect_navigation():
        page.keyboard.press("Enter")

    assert page.url == console_site.url(rows[1]["href"])
    assert page.is_visible("section.case-head")
    _clean(watch)


def test_resolving_a_case_stores_the_label_and_an_audit_entry(
    console_site: ConsoleSite, browser_page: Watched
) -> None:
    page, watch = browser_page
    sign_in(page, console_site, "analyst")
    ordinary = [r for r in _rows(page) if r["subject"] != HOSTILE_ACCOUNT]
    target = ordinary[3]["case"]
    page.goto(console_site.url(f"/console/cases/{target}"))

    page.select_option("#label", "phishing")
    page.select_option("#action", "lock_account")
    page.fill("#resolve-form input[name=note]", "seen in the test")
    with page.expect_navigation():
        page.click("#resolve-form button[type=submit]")

    assert page.url == console_site.url("/console")
    assert target not in [r["case"] for r in _rows(page)]
    from trustwatch.review.store import open_review_store

    with open_review_store(console_site.review_path) as review:
        case = review.case(target)
        assert case is not None
        assert (case.status, case.label, case.resolved_by) == (
            "resolved",
            "phishing",
            "analyst-1",
        )
        assert case.resolution_action == "lock_account"
        assert any(label.case_id == target for label in review.labels())
        entries = review.audit_log(actor="analyst-1")
    assert any(
        e.action == "resolve" and e.target == target and e.detail["label"] == "phishing"
        for e in entries
    )
    _clean(watch)


def test_assign_to_me_by_keyboard_keeps_the_filters(
    console_site: ConsoleSite, browser_page: Watched
) -> None:
    page, watch = browser_page
    sign_in(page, console_site, "analyst")
    page.goto(console_site.url("/console?status=open&type=account"))
    first = _rows(page)[0]["case"]

    with page.expect_navigation():
        page.keyboard.press("a")

    assert page.url == console_site.url("/console?status=open&type=account")
    assert first not in [r["case"] for r in _rows(page)]
    page.goto(console_site.url("/console?status=assigned&assignee=analyst-1"))
    assert first in [r["case"] for r in _rows(page)]
    _clean(watch)


def test_r_opens_the_selected_case_at_its_resolve_form(
    console_site: ConsoleSite, browser_page: Watched
) -> None:
    page, watch = browser_page
    sign_in(page, console_site, "analyst")
    first = _rows(page)[0]

    with page.expect_navigation():
        page.keyboard.press("r")

    assert page.url == console_site.url(first["href"] + "#resolve")
    page.wait_for_function("document.activeElement.id === 'label'")
    _clean(watch)


def test_a_viewer_gets_no_controls_that_would_be_refused(
    console_site: ConsoleSite, browser_page: Watched
) -> None:
    page, watch = browser_page
    sign_in(page, console_site, "viewer")
    assert page.query_selector_all("form.assign-me") == []
    target = _rows(page)[0]["href"]
    page.goto(console_site.url(target))

    assert page.is_visible("section.case-head")
    assert page.query_selector("#resolve-form") is None
    assert page.query_selector("#assign-form") is None
    assert page.query_selector("a[href='/console/audit']") is None
    refused = page.request.post(
        console_site.url(target + "/resolve"),
        form={"label": "benign"},
        max_redirects=0,
    )
    assert refused.status == 403
    _clean(watch)


def test_a_hostile_account_name_renders_as_text(
    console_site: ConsoleSite, browser_page: Watched
) -> None:
    page, watch = browser_page
    sign_in(page, console_site, "analyst")
    page.goto(console_site.url("/console?status=any"))

    assert HOSTILE_ACCOUNT in page.inner_text("#queue")
    assert page.query_selector("#queue img") is None
    hostile = next(
        row
        for row in page.query_selector_all("#queue tr.case-row")
        if HOSTILE_ACCOUNT in row.inner_text()
    )
    with page.expect_navigation():
        hostile.query_selector("a.open").click()
    body = page.inner_text("main")
    assert "hxxp[://]phish[.]example[.]net/login" in body
    assert "phish.example.net" not in body
    assert page.query_selector("a[href*='phish']") is None
    assert page.query_selector("main img, main script") is None
    with page.expect_navigation():
        page.click(".facts a[href^='/console/accounts/']")
    assert page.inner_text("h1 .subject-name") == HOSTILE_ACCOUNT
    _clean(watch)


def test_a_ring_page_draws_every_member(
    console_site: ConsoleSite, browser_page: Watched
) -> None:
    from trustwatch.storage.sqlite import SqliteStore

    page, watch = browser_page
    assert console_site.ring_ids, "the demo mixes rings in"
    ring_id = console_site.ring_ids[0]
    with SqliteStore(console_site.store_path, readonly=True) as store:
        ring = store.ring(ring_id)
    assert ring is not None
    sign_in(page, console_site, "viewer")
    page.goto(console_site.url(f"/console/rings/{ring_id}"))

    circles = page.query_selector_all("#ring-picture svg circle")
    assert len(circles) == min(len(ring.members), 60)
    squares = page.query_selector_all("#ring-picture svg rect")
    assert len(squares) >= len(ring.evidence)
    _clean(watch)


def test_every_page_loads_without_policy_violations(
    console_site: ConsoleSite, browser_page: Watched
) -> None:
    page, watch = browser_page
    sign_in(page, console_site, "admin")
    case_href = _rows(page)[0]["href"]
    pages = [
        "/console",
        "/console?status=any&kind=brute_force&page=2",
        case_href,
        f"/console/rings/{console_site.ring_ids[0]}",
        "/console/actions",
        "/console/audit",
    ]
    for path in pages:
        response = page.goto(console_site.url(path))
        assert response is not None and response.status == 200, path
        assert page.query_selector("link[rel=stylesheet]") is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert page.query_selector("table.audit") is not None
    _clean(watch)


def test_an_analyst_reverses_an_enforced_action_with_a_reason(
    console_site: ConsoleSite, browser_page: Watched
) -> None:
    page, watch = browser_page
    sign_in(page, console_site, "analyst")
    page.goto(console_site.url("/console/actions?state=pending"))
    row = page.locator("table.actions tr", has_text="disable_link").first
    assert "hxxp[://]phish[.]example[.]net" in row.inner_text()

    row.locator("input[name=reason]").fill("false positive: the page is ours")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()

    from trustwatch.response.ledger import DispatchLedger
    from trustwatch.review.store import open_review_store

    with DispatchLedger(console_site.store_path) as ledger:
        record = ledger.record("hostile-action-1")
        reversal = ledger.reversal_of("hostile-action-1")
    assert record is not None and record.state == "reversed"
    assert reversal is not None and reversal.actor == "analyst-1"
    assert reversal.reason == "false positive: the page is ours"
    with open_review_store(console_site.review_path) as review:
        entries = review.audit_log(actor="analyst-1")
    assert any(
        e.action == "reverse" and e.target == "hostile-action-1" for e in entries
    )
    _clean(watch)


def test_a_viewer_sees_actions_without_reverse_buttons(
    console_site: ConsoleSite, browser_page: Watched
) -> None:
    page, watch = browser_page
    sign_in(page, console_site, "viewer")
    page.goto(console_site.url("/console/actions"))

    assert page.query_selector("table.actions") is not None
    assert page.query_selector("table.actions form") is None
    missing = page.request.get(console_site.url("/console/cases/no-such-case"))
    assert missing.status == 404 and "No case has this id." in missing.text()
    _clean(watch)


def _check_picture(path: Path, min_colours: int) -> Any:
    from PIL import Image, ImageStat

    image = Image.open(path).convert("RGB")
    assert image.size[0] >= 1000 and image.size[1] >= 600
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) >= min_colours
    spread = ImageStat.Stat(image.convert("L")).stddev[0]
    assert spread > 10, f"{path.name} looks blank (grey-level spread {spread:.1f})"
    return image


def test_screenshots_of_the_main_pages_show_content(
    console_site: ConsoleSite, browser_page: Watched, tmp_path: Path
) -> None:
    page, watch = browser_page
    sign_in(page, console_site, "analyst")
    case_href = _rows(page)[0]["href"]
    page.goto(console_site.url(case_href))
    account_href = page.get_attribute(".facts a[href^='/console/accounts/']", "href")
    assert account_href is not None
    shots = {
        "queue": "/console",
        "case": case_href,
        "timeline": account_href,
        "ring": f"/console/rings/{console_site.ring_ids[0]}",
    }
    for name, path in shots.items():
        page.goto(console_site.url(path))
        page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=False)
        _check_picture(tmp_path / f"{name}.png", min_colours=40)

    box = page.locator("#ring-picture svg").bounding_box()
    assert box is not None and box["width"] > 300
    page.locator("#ring-picture svg").screenshot(path=str(tmp_path / "ring-svg.png"))
    import numpy as np
    from PIL import Image

    grey = np.asarray(Image.open(tmp_path / "ring-svg.png").convert("L"))
    drawn = int((grey < 200).sum())
    assert drawn > 0.01 * grey.size, "the ring picture is empty"
    _clean(watch)
