from datetime import UTC, datetime

from trustwatch.detectors.brand_impersonation import BrandImpersonationDetector
from trustwatch.events.model import LinkCreated, UrlPosted

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def posted(url: str) -> UrlPosted:
    return UrlPosted(event_id=url, ts=T0, account="a", url=url)


def test_impersonation_is_scored_by_technique_with_reasons():
    found = BrandImpersonationDetector().process(
        [
            posted("https://paypal.com.secure-login.example/webscr"),
            posted("http://xn--pypal-4ve.com/"),
            posted("https://www.paypal.com/signin"),
            posted("https://docs.python.org/3/"),
        ]
    )
    assert [(s.event_id, s.evidence["technique"]) for s in found] == [
        ("https://paypal.com.secure-login.example/webscr", "brand_in_subdomain"),
        ("http://xn--pypal-4ve.com/", "homoglyph"),
    ]
    assert found[0].score == 0.9 and found[1].score == 0.95
    assert "imitates paypal" in found[1].reasons[0]


def test_platform_links_are_not_checked():
    detector = BrandImpersonationDetector(platform_domains=("paypal-files.example",))
    event = LinkCreated(
        event_id="l", ts=T0, link_id="x", url="https://paypal-files.example/s/1"
    )
    assert detector.process([event]) == []
