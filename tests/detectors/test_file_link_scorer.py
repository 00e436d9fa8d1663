"""Links in uploaded files: the URL model is backed by the rule baseline."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from trustwatch.cli.main import main
from trustwatch.detectors.url_reputation import (
    MODEL_ALONE_CAP,
    file_link_scorer,
    model_url_scorer,
)
from trustwatch.enrichment.urls import parse_url
from trustwatch.events.model import FileUploaded

# the shipped model scores this ordinary page 0.99 or more on its path alone
DOCS = "https://docs.python.org/3/tutorial/index.html"
LURE = "http://198.51.100.7/paypal/signin/"


@pytest.fixture(scope="module")
def scorers():
    return model_url_scorer(), file_link_scorer()


def test_the_model_alone_lifts_a_link_only_to_a_review(scorers) -> None:
    model, links = scorers
    assert model(parse_url(DOCS))[0] > MODEL_ALONE_CAP
    score, reasons = links(parse_url(DOCS))
    assert score == MODEL_ALONE_CAP
    assert (
        reasons[0].startswith("the URL model's") and "rules find little" in reasons[0]
    )


def test_a_link_both_find_risky_keeps_the_model_s_score(scorers) -> None:
    model, links = scorers
    assert links(parse_url(LURE))[0] == pytest.approx(model(parse_url(LURE))[0])
    assert links(parse_url(LURE))[0] > 0.95


def test_a_link_the_model_finds_safe_is_unchanged(scorers) -> None:
    model, links = scorers
    safe = parse_url("https://www.bbc.co.uk/news/world-123")
    assert links(safe)[0] == pytest.approx(max(model(safe)[0], 0.05), abs=0.06)
    assert links(safe)[0] < 0.5


def _upload(content: Path, body: bytes, n: int) -> FileUploaded:
    digest = hashlib.sha256(body).hexdigest()
    (content / digest).write_bytes(body)
    ts = datetime(2026, 3, 1, tzinfo=UTC)
    return FileUploaded(
        event_id=f"u{n}", ts=ts, account="alice", file_id=f"f{n}", sha256=digest
    )


def test_a_one_link_page_to_an_ordinary_site_is_reviewed_not_quarantined(
    tmp_path: Path, capsys
) -> None:
    content = tmp_path / "content"
    content.mkdir()
    pages = [
        f'<html><body><p>Start here:</p><a href="{url}">open</a></body></html>'
        for url in (DOCS, LURE)
    ]
    uploads = [_upload(content, page.encode(), n) for n, page in enumerate(pages)]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(msgspec.json.encode(u) for u in uploads) + b"\n")
    db = str(tmp_path / "store.sqlite")
    args = ["run", str(events), "--db", db, "--content-dir", str(content)]
    assert main([*args, "--enforce"]) == 0
    capsys.readouterr()

    assert main(["alerts", "--db", db, "--json"]) == 0
    decided = {
        row["event_id"]: row["decision"]
        for row in map(json.loads, capsys.readouterr().out.splitlines())
    }
    assert decided == {"u0": "send_to_review", "u1": "quarantine_file"}
