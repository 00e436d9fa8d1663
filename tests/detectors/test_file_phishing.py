"""The file phishing detector: risky links, credential forms, lures, bad files."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from content.builders import docx, pdf_with_link
from trustwatch.content import extract_content
from trustwatch.content.store import Blob, ContentStore
from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors import FilePhishingDetector, default_detectors
from trustwatch.detectors.base import Signal
from trustwatch.detectors.file_phishing import (
    assess_file,
    file_findings,
    heuristic_url_scorer,
)
from trustwatch.enrichment.urls import ParsedUrl, parse_url
from trustwatch.events.model import FileUploaded
from trustwatch.features.context import EventContext
from trustwatch.runtime.pipeline import Pipeline

PHISH_URL = "https://paypal.com.secure-login.example/webscr?cmd=login"


def page(form: str) -> bytes:
    return f"<html><body><h1>Sign in</h1>{form}</body></html>".encode()


def password_form(action: str | None) -> str:
    attr = f' action="{action}"' if action is not None else ""
    return (
        f'<form method="post"{attr}><input name="email">'
        '<input type="password" name="pass"></form>'
    )


class MemoryContent:
    """A content source held in memory, counting its reads."""

    def __init__(self, *files: bytes) -> None:
        self.files = {hashlib.sha256(data).hexdigest(): data for data in files}
        self.reads = 0

    def read(self, sha256: str) -> Blob | None:
        self.reads += 1
        data = self.files.get(sha256)
        return None if data is None else Blob(data, len(data))


def upload(data: bytes, name: str | None = None, event_id: str = "e1") -> FileUploaded:
    return FileUploaded(
        event_id=event_id,
        ts=datetime(2026, 3, 1, tzinfo=UTC),
        account="alice",
        file_id=f"file-{event_id}",
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def signals_for(data: bytes, name: str | None = None, **params: object) -> list[Signal]:
    detector = FilePhishingDetector(MemoryContent(data), **params)  # type: ignore[arg-type]
    event = upload(data, name)
    return list(detector.process_one(event, EventContext(event)))


def by_kind(signals: Sequence[Signal]) -> dict[str, Signal]:
    return {s.kind: s for s in signals}


def test_password_form_posting_to_another_domain_is_flagged() -> None:
    data = page(password_form("https://collect.example/p.php"))
    signal = by_kind(signals_for(data, "login.html"))["file_credential_form"]
    assert signal.score >= 0.9
    assert signal.reasons[0] == (
        "password form posts to collect.example, another registrable domain"
    )
    assert signal.entity == f"sha256:{hashlib.sha256(data).hexdigest()}"
    assert signal.entity_type == "file"
    assert signal.evidence["destination"] == "other_domain"
    assert signal.evidence["file_id"] == "file-e1"


def test_password_form_sent_by_mail_is_off_the_platform() -> None:
    signal = by_kind(signals_for(page(password_form("mailto:drop@collect.example"))))
    form = signal["file_credential_form"]
    assert form.score == pytest.approx(0.9)
    assert form.reasons[0] == (
        "password form sends to a mailto: address, off the platform"
    )


def test_password_form_posting_to_the_platform_is_not_flagged() -> None:
    data = page(password_form("https://trustwatch.example/session/new"))
    assert signals_for(data) == []


def test_a_risky_target_on_the_platform_is_still_flagged() -> None:
    data = page(password_form("https://files.example/paypal-login-verify"))
    signals = by_kind(signals_for(data, platform_domains=("files.example",)))
    form = signals["file_credential_form"]
    assert form.score == pytest.approx(0.7685, abs=1e-4)
    assert form.reasons[0] == "password form posts to a risky URL on files.example"
    assert form.reasons[1].startswith("impersonates paypal")
    assert form.evidence["destination"] == "platform"
    # the platform's own links are not scored as links
    assert "file_risky_link" not in signals


@pytest.mark.parametrize(
    ("action", "how"),
    [
        (None, "has no action"),
        ("#", "has no action"),
        ("next.php", "has no action"),
        ("javascript:void(0)", "submits to a script"),
    ],
)
def test_a_password_form_posting_nowhere_goes_to_review(
    action: str | None, how: str
) -> None:
    signal = by_kind(signals_for(page(password_form(action))))["file_credential_form"]
    assert signal.score == pytest.approx(0.6)
    assert signal.reasons[0].startswith(f"password form {how}: ")


def test_a_form_without_a_password_is_not_a_credential_form() -> None:
    form = '<form action="https://collect.example/q"><input name="q"></form>'
    assert "file_credential_form" not in by_kind(signals_for(page(form)))


def test_pdf_with_a_single_phishing_link_is_a_lure_and_a_risky_link() -> None:
    signals = by_kind(signals_for(pdf_with_link(PHISH_URL), "invoice.pdf"))
    assert set(signals) == {"file_risky_link", "file_lure_document"}
    link = signals["file_risky_link"]
    assert link.reasons[0] == "PDF link to secure-login.example"
    assert link.reasons[1].startswith("impersonates paypal")
    assert link.score == pytest.approx(heuristic_url_scorer(parse_url(PHISH_URL))[0])
    lure = signals["file_lure_document"]
    assert lure.score > link.score
    assert lure.reasons[0] == (
        "the PDF link to secure-login.example is the only URL in the PDF"
    )
    assert lure.evidence["url"] == PHISH_URL


def test_a_lure_link_text_raises_the_score() -> None:
    body = (
        '<w:p><w:hyperlink r:id="rId1"><w:r><w:t>View document</w:t></w:r>'
        "</w:hyperlink></w:p>"
    )
    rels = [("rId1", "hyperlink", "https://docs-share.example/d/81", True)]
    plain = docx("<w:p/>", rels)
    worded = docx(body, rels)
    assess = [assess_file(extract_content(d)) for d in (plain, worded)]
    assert [a.lure_link is not None for a in assess] == [True, True]
    lure = {f.kind: f for f in file_findings(assess[1])}["file_lure_document"]
    assert lure.reasons[1] == "the link text asks the reader to act: 'View document'"
    # a single ordinary link alone stays under the signal threshold
    assert "file_lure_document" not in {f.kind for f in file_findings(assess[0])}


def test_benign_document_with_many_ordinary_links_is_not_a_lure() -> None:
    urls = [
        "https://docs.python.org/3/library/zipfile.html",
        "https://www.wikipedia.org/",
        "https://github.com/pypa/pip",
        "https://www.iana.org/domains/reserved",
    ]
    rels = [(f"rId{i}", "hyperlink", url, True) for i, url in enumerate(urls)]
    data = docx("<w:p><w:r><w:t>Reading list</w:t></w:r></w:p>", rels)
    assessment = assess_file(extract_content(data))
    assert len(assessment.links) == 4
    assert assessment.lure_link is None
    assert signals_for(data, "reading.docx") == []
    assert signals_for(data, "reading.docx", min_score=0.0, lure_prior=0.99) != []
    assert "file_lure_document" not in by_kind(
        signals_for(data, min_score=0.0, lure_prior=0.99)
    )


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"PK\x03\x04 not really a zip", "report.docx", "the file could not be read"),
        (b"%PDF-1.7\n garbage", "scan.pdf", "the PDF could not be read (pdf_"),
    ],
)
def test_a_corrupt_file_gives_a_low_confidence_signal(
    data: bytes, name: str, reason: str
) -> None:
    signals = signals_for(data, name)
    assert [s.kind for s in signals] == ["file_unreadable"]
    assert signals[0].score == pytest.approx(0.3)
    assert signals[0].reasons[0].startswith(reason)
    assert signals[0].evidence["errors"]


def test_a_corrupt_file_does_not_stop_the_pipeline() -> None:
    broken, phish = b"%PDF-1.7\n garbage", page(password_form("https://x.example/"))
    detectors = default_detectors(content=MemoryContent(broken, phish))
    pipeline = Pipeline(detectors, DecisionEngine(default_policy()))
    quiet = pipeline.process_one(upload(broken, "a.pdf", "e1"))
    loud = pipeline.process_one(upload(phish, "b.html", "e2"))
    assert pipeline.failures == []
    assert quiet is not None and quiet.verdict.decision == "allow"
    assert loud is not None and loud.verdict.decision == "quarantine_file"
    assert loud.actions[0].target == f"sha256:{hashlib.sha256(phish).hexdigest()}"


def test_a_failing_scorer_becomes_a_dead_letter() -> None:
    def broken(parsed: ParsedUrl) -> tuple[float, Sequence[str]]:
        raise RuntimeError("model not loaded")

    data = pdf_with_link(PHISH_URL)
    detector = FilePhishingDetector(MemoryContent(data), broken)
    pipeline = Pipeline([detector], DecisionEngine(default_policy()))
    assert pipeline.process_one(upload(data)) is None
    assert [letter.reason for letter in pipeline.failures] == ["detector_failed"]


def test_the_scorer_is_injected_and_sees_parsed_urls() -> None:
    seen: list[str] = []

    def model(parsed: ParsedUrl) -> tuple[float, Sequence[str]]:
        seen.append(parsed.registrable_domain)
        return 0.97, ["the model says so", "second", "third", "fourth"]

    signals = by_kind(signals_for(pdf_with_link("https://ok.example/x"), scorer=model))
    assert seen == ["ok.example"]
    assert signals["file_risky_link"].score == pytest.approx(0.97)
    assert signals["file_risky_link"].reasons == (
        "PDF link to ok.example",
        "the model says so",
        "second",
        "third",
    )


def test_results_are_cached_by_content_and_bounded() -> None:
    one, two = pdf_with_link(PHISH_URL), page(password_form("https://c.example/"))
    source = MemoryContent(one, two)
    detector = FilePhishingDetector(source, cache_size=1)
    first = detector.process([upload(one, event_id="a"), upload(one, event_id="b")])
    assert source.reads == 1
    assert [s.event_id for s in first] == ["a", "a", "b", "b"]
    detector.process([upload(two, event_id="c"), upload(one, event_id="d")])
    assert source.reads == 3  # the second file evicted the first


def test_uploads_missing_from_the_store_raise_nothing(tmp_path: Path) -> None:
    detector = FilePhishingDetector(ContentStore(tmp_path))
    event = upload(b"never stored")
    assert detector.process([event]) == []
    no_hash = FileUploaded(event_id="x", ts=event.ts, file_id="f", sha256="../x")
    assert detector.process([no_hash]) == []


def test_default_detectors_read_files_only_with_a_store(tmp_path: Path) -> None:
    assert "file_phishing" not in {d.name for d in default_detectors()}
    with_store = default_detectors(content=ContentStore(tmp_path))
    assert "file_phishing" in {d.name for d in with_store}
