"""Properties of parse_url on generated input (hypothesis)."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from trustwatch.enrichment.urls import _trim_url, extract_urls, parse_url, refang
from trustwatch.errors import InvalidUrlError

_URL_ALPHABET = st.sampled_from(
    [
        *"abcxyz019-._~%:/?#[]@!$&'()*+,;=\\ \t\n",
        *("xn--", "%2e", "%41", "0x", "[.]", "hxxp", "\u200b", "а", "ß", "℅", "。"),
    ]
)
_URLISH = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["http://", "https://", "HTTPS:\\", "tcp://", "ftp:/", ""]),
        st.lists(_URL_ALPHABET, max_size=30).map("".join),
    ),
)


def _parse_or_none(raw: str) -> str | None:
    """Return the canonical URL, or ``None`` when the input is invalid."""
    try:
        return parse_url(raw).url
    except InvalidUrlError:
        return None


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
@example("http://[")
@example("http://\udc80.example/")
@example("http://%ed%a0%80.example/")
def test_parse_url_raises_only_invalid_url_error_on_any_text(raw: str) -> None:
    canonical = _parse_or_none(raw)

    assert canonical is None or canonical.startswith(parse_url(raw).scheme + "://")


@settings(max_examples=600, deadline=None)
@given(_URLISH)
@example("http://a/b[/x/..//]c")
@example("http://a/%2e%2E/./x?y#z")
def test_canonical_url_parses_to_itself(raw: str) -> None:
    canonical = _parse_or_none(raw)
    if canonical is None:
        return

    again = parse_url(canonical)

    assert again.url == canonical
    assert again.host == parse_url(raw).host


@settings(max_examples=200, deadline=None)
@given(_URLISH)
def test_host_and_registrable_domain_are_never_empty(raw: str) -> None:
    try:
        parsed = parse_url(raw)
    except InvalidUrlError:
        return

    assert parsed.host
    assert parsed.registrable_domain
    assert parsed.registrable_domain == parsed.host or parsed.host.endswith(
        "." + parsed.registrable_domain
    )
    assert parsed.path.startswith("/")
    assert parsed.host not in parsed.extra_hosts


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_extracted_urls_come_from_the_refanged_text(text: str) -> None:
    plain = refang(text)

    for url in extract_urls(text):
        assert "://" in url
        assert url in plain


def _trimmed_char_by_char(candidate: str) -> str:
    """The plain reading of the trimming rule: one character at a time."""
    closers = {")": "(", "]": "[", "}": "{"}
    while candidate:
        last = candidate[-1]
        if last in ".,;:!?":
            pass
        elif last in closers:
            if candidate.count(last) <= candidate.count(closers[last]):
                break
        elif last != "'" or candidate.count("'") % 2 == 0:
            break
        candidate = candidate[:-1]
    return candidate


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet="ab/.,;:!?()[]{}'", max_size=40))
def test_trailing_punctuation_is_trimmed_by_the_plain_rule(tail: str) -> None:
    candidate = "https://a.example/" + tail
    assert _trim_url(candidate) == _trimmed_char_by_char(candidate)
