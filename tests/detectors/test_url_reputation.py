"""The url_reputation detector: the shipped model on posted and linked URLs."""

from datetime import UTC, datetime

from trustwatch.detectors import (
    UrlReputationDetector,
    default_detectors,
    model_url_scorer,
)
from trustwatch.enrichment.urls import parse_url
from trustwatch.events.model import LinkCreated, UrlPosted

T = datetime(2026, 3, 1, tzinfo=UTC)


def _posted(url: str, n: int = 0) -> UrlPosted:
    return UrlPosted(event_id=f"e{n}", ts=T, account="a1", url=url)


def test_flags_phishing_shapes_and_passes_ordinary_links():
    detector = UrlReputationDetector()
    phish = _posted(
        "http://paypal.com.secure-verify-account.weeblysite.com/webscr/login.php", 1
    )
    plain = _posted("https://en.wikipedia.org/wiki/Coffee", 2)
    signals = detector.process([phish, plain])
    assert [s.event_id for s in signals] == ["e1"]
    signal = signals[0]
    assert signal.kind == "malicious_url" and signal.entity_type == "url"
    assert 0.5 <= signal.score <= 1.0
    assert signal.reasons and all("(+" in reason for reason in signal.reasons)


def test_platform_links_are_never_scored():
    detector = UrlReputationDetector(platform_domains=("weeblysite.com",))
    event = LinkCreated(
        event_id="l1",
        ts=T,
        account="a1",
        link_id="k1",
        url="http://paypal.com.secure-verify-account.weeblysite.com/webscr/login.php",
    )
    assert detector.process([event]) == []


def test_threshold_is_respected():
    strict = UrlReputationDetector(min_score=1.01)
    assert strict.process([_posted("http://198.51.100.7:8080/bin.sh")]) == []


def test_scorer_for_files_matches_the_detector():
    scorer = model_url_scorer()
    parsed = parse_url("http://198.51.100.7:8080/bin.sh")
    probability, reasons = scorer(parsed)
    again, _ = scorer(parsed)  # answered from the cache
    assert probability == again > 0.5
    assert reasons and all(isinstance(r, str) for r in reasons)


def test_default_set_runs_the_model_beside_the_rules():
    names = [detector.name for detector in default_detectors()]
    assert "url_reputation" in names and "url_heuristics" in names
