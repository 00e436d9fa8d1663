"""The file phishing detector against evasion: repeated lure links, cut-short files."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from content.builders import pdf_with_link, zip_of
from trustwatch.content import extract_content
from trustwatch.content.store import Blob
from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors import FilePhishingDetector
from trustwatch.detectors.file_phishing import assess_file, file_findings
from trustwatch.enrichment.urls import ParsedUrl
from trustwatch.events.model import FileUploaded
from trustwatch.features.context import EventContext

_LURE = (
    "<html><body><p>Your mailbox is full.</p>"
    '<a href="https://mailbox-verify.example.com/login">Verify</a>{more}'
    "</body></html>"
)
_PHISH = (
    '<html><body><form method="post" action="https://collect.example/p">'
    '<input type="password" name="p"></form></body></html>'
)


def model_held(parsed: ParsedUrl) -> tuple[float, Sequence[str]]:
    """Score every URL as the shipped file-link scorer holds the model alone."""
    return 0.75, ("the URL model's 1.00 held to 0.75",)


class MemoryContent:
    def __init__(self, *files: bytes) -> None:
        self.files = {hashlib.sha256(data).hexdigest(): data for data in files}

    def read(self, sha256: str) -> Blob | None:
        data = self.files.get(sha256)
        return None if data is None else Blob(data, len(data))


def judged(data: bytes, name: str) -> tuple[dict[str, float], str]:
    """The signals (kind to score) of an upload and the default policy's decision."""
    detector = FilePhishingDetector(MemoryContent(data), model_held)
    event = FileUploaded(
        event_id="e1",
        ts=datetime(2026, 3, 1, tzinfo=UTC),
        account="alice",
        file_id="f1",
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
    )
    signals = list(detector.process_one(event, EventContext(event)))
    verdict, _ = DecisionEngine(default_policy()).decide(event, signals)
    return {s.kind: s.score for s in signals}, verdict.decision


def test_a_second_link_to_the_same_site_keeps_the_lure_in_review() -> None:
    one = _LURE.format(more="").encode()
    two = _LURE.format(
        more='<a href="https://mailbox-verify.example.com/login2">Help</a>'
    ).encode()
    one_kinds, one_decision = judged(one, "one.html")
    two_kinds, two_decision = judged(two, "two.html")
    assert one_decision == two_decision == "send_to_review"
    assert two_kinds["file_lure_document"] == pytest.approx(0.875)
    assert two_kinds["file_lure_document"] == one_kinds["file_lure_document"]


def test_links_past_the_url_limit_to_one_site_are_still_a_lure() -> None:
    text = "".join(f"https://t{n}.example.com/login\n" for n in range(1200))
    kinds, decision = judged(text.encode(), "urls.txt")
    assert decision == "send_to_review"
    assert "file_lure_document" in kinds


def test_links_to_many_sites_are_not_a_lure_on_the_models_word() -> None:
    sites = ("github.com", "linkedin.com", "python.org", "wikipedia.org")
    cv = "".join(f'<a href="https://www.{s}/me/page">{s}</a>' for s in sites)
    kinds, decision = judged(f"<html><body>{cv}</body></html>".encode(), "cv.html")
    assert kinds == {"file_risky_link": 0.75}
    assert decision == "allow"


def _nested_zip(depth: int) -> bytes:
    data = zip_of({"login.html": _PHISH})
    for level in range(depth):
        data = zip_of({f"n{level}.zip": data})
    return data


def _cyclic_pdf() -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        b"<< /Type /Page /Parent 2 0 R >>",
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 4\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return out


@pytest.mark.parametrize(
    ("data", "name", "why"),
    [
        (_nested_zip(4), "kit.zip", "archives nested past the depth limit"),
        (
            zip_of({"a.html": "<html>" + " " * 2_000_000 + "</html>"}),
            "bomb.zip",
            "an archive member that inflates like a decompression bomb",
        ),
        (_cyclic_pdf(), "loop.pdf", "a PDF whose page references loop"),
    ],
    ids=["nested-zip", "zip-bomb", "pdf-loop"],
)
def test_a_file_cut_short_the_way_evasion_cuts_it_goes_to_review(
    data: bytes, name: str, why: str
) -> None:
    kinds, decision = judged(data, name)
    assert kinds == {"file_evasive_shape": pytest.approx(0.6)}
    assert decision == "send_to_review"
    extraction = extract_content(data, name=name)
    (finding,) = file_findings(assess_file(extraction, model_held))
    assert finding.reasons[0].startswith("the ")
    assert why in finding.reasons[0]


def test_a_page_padded_past_the_size_limit_is_evasive() -> None:
    page = "<html><body>" + "x" * 5000 + '<a href="https://a.example/login">l</a>'
    extraction = extract_content(page.encode(), max_bytes=4000)
    findings = file_findings(assess_file(extraction, model_held))
    assert [f.kind for f in findings] == ["file_evasive_shape"]
    assert "padded past the size limit" in findings[0].reasons[0]


def test_ordinary_limits_do_not_make_a_file_evasive() -> None:
    long_pdf = pdf_with_link("https://www.iana.org/domains/reserved", pages=60)
    big_text = ("word " * 2000).encode()
    cases = [
        extract_content(long_pdf),  # past the page limit
        extract_content(big_text, name="log.txt", max_bytes=4000),  # too large
        extract_content(b"%PDF-1.7\n garbage"),  # an ordinary corrupt file
        extract_content(_nested_zip(1)[:60]),  # a zip cut short in transfer
    ]
    assert cases[0].truncated and cases[1].truncated
    kinds = [[f.kind for f in file_findings(assess_file(c, model_held))] for c in cases]
    unreadable = ["file_unreadable"]
    assert kinds == [["file_risky_link"], unreadable, unreadable, unreadable]
    assert judged(long_pdf, "manual.pdf")[1] == "allow"


def test_a_bomb_larger_than_the_byte_limit_is_still_named_a_bomb() -> None:
    bomb = zip_of({"a.html": "<html>" + " " * 200_000 + "</html>"})
    extraction = extract_content(bomb, max_bytes=100_000)
    assert extraction.errors[0].endswith("looks like a zip bomb")
    kinds = [f.kind for f in file_findings(assess_file(extraction, model_held))]
    assert kinds == ["file_evasive_shape"]
