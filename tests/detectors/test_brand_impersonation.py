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


def test_brand_names_inside_ordinary_words_are_not_imitations():
    urls = [
        "https://pineapple.com/",
        "https://www.snapple.com/",
        "https://applebees.com/menu",
        "https://amazonas.am.gov.br/",
    ]
    assert BrandImpersonationDetector().process([posted(u) for u in urls]) == []


def test_brand_names_glued_to_lure_words_still_count():
    urls = ["https://paypalsecure.com/", "https://secure-paypal.com/"]
    found = BrandImpersonationDetector().process([posted(u) for u in urls])
    assert [s.evidence["technique"] for s in found] == ["combosquat", "combosquat"]


def test_punycode_hosts_are_judged_by_the_letters_readers_see():
    from trustwatch.detectors.url_heuristics import url_risk
    from trustwatch.enrichment.urls import parse_url

    _, fired = url_risk(parse_url("http://раураl.com/"))
    reasons = " ".join(reason for _, reason in fired)
    assert "hyphens" not in reasons and "digits" not in reasons
    assert "impersonates paypal" in reasons
