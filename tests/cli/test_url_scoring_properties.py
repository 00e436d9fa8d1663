"""Property tests: the URL scorers never crash and stay in range."""

from hypothesis import given, settings
from hypothesis import strategies as st

from trustwatch.brands import find_impersonation
from trustwatch.cli.url import score_url
from trustwatch.detectors.url_heuristics import url_risk
from trustwatch.enrichment.urls import parse_url
from trustwatch.errors import InvalidUrlError

hosts = st.from_regex(r"[a-z0-9\-\u0430-\u044f.]{1,40}\.(com|net|example|xn--p1ai)")
paths = st.text(min_size=0, max_size=80)
raw_urls = st.one_of(
    st.text(max_size=200),
    st.builds(lambda h, p: f"https://{h}/{p}", hosts, paths),
    st.builds(lambda h, p: f"http://user@{h}\\{p}", hosts, paths),
)


@settings(max_examples=300, deadline=None)
@given(raw_urls)
def test_scorers_never_raise_and_stay_in_range(raw: str) -> None:
    result = score_url(raw)
    if result.error is not None:
        return
    try:
        parsed = parse_url(raw)
    except InvalidUrlError:  # pragma: no cover - score_url said it parsed
        raise AssertionError(raw) from None
    score, fired = url_risk(parsed)
    assert 0.0 <= score <= 1.0
    assert result.baseline == round(score, 4)
    assert result.score is not None and 0.0 <= result.score <= 1.0
    assert all(weight > 0 for weight, _ in fired)
    for hit in find_impersonation(parsed):
        assert hit.brand and hit.technique
