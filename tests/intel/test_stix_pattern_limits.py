"""STIX patterns that are long, deep, catch-all or slow, and validity starts."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from msgspec.structs import replace

from trustwatch.detectors.intel_match import IntelMatchDetector
from trustwatch.enrichment.urls import parse_url
from trustwatch.events.model import UrlPosted
from trustwatch.features.context import EventContext
from trustwatch.intel import IndicatorStore
from trustwatch.intel.indicators import indicator_from_text, merge_indicators
from trustwatch.intel.stix import load_stix_objects
from trustwatch.intel.stix_patterns import (
    MAX_MATCHES_INPUT,
    MAX_PATTERN_COMPARISONS,
    MAX_PATTERN_NESTING,
    AllOf,
    AnyOf,
    _like_regex,
    evaluate,
    make_pattern_indicator,
    normalize_observation,
    parse_pattern,
    regex_hazard,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
LATER = datetime(2027, 6, 1, tzinfo=UTC)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def indicator(n: int, pattern: str, **extra: Any) -> dict[str, Any]:
    """Return a STIX 2.1 indicator object."""
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
        "created": stamp(T0),
        "modified": stamp(T0),
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": stamp(T0),
        **extra,
    }


def load(*objects: dict[str, Any]) -> Any:
    return load_stix_objects(objects, feed="intel", location="test")


def reasons(loaded: Any) -> list[str]:
    return [reject.reason for reject in loaded.rejects]


# --- long chains and deep nesting -----------------------------------------------


def comparison_chain(joiner: str, count: int) -> str:
    terms = [f"domain-name:value = 'h{n}.example'" for n in range(count - 1)]
    return "[" + f" {joiner} ".join([*terms, "file:name = 'x.exe'"]) + "]"


def observation_chain(joiner: str, count: int) -> str:
    terms = [f"[domain-name:value = 'h{n}.example']" for n in range(count - 1)]
    return f" {joiner} ".join([*terms, "[file:name = 'x.exe']"])


@pytest.mark.parametrize("chain", [comparison_chain, observation_chain])
@pytest.mark.parametrize(("joiner", "kind"), [("AND", AllOf), ("OR", AnyOf)])
def test_long_chains_are_read_flat_without_recursion(
    chain: Any, joiner: str, kind: type
) -> None:
    parsed = parse_pattern(chain(joiner, 600))
    assert isinstance(parsed.expression, kind)
    assert len(parsed.expression.parts) == 600
    hit = normalize_observation({"domain-name:value": "h7.example", "file:name": "x"})
    assert evaluate(parsed.expression, hit) is (joiner == "OR")


@pytest.mark.parametrize("chain", [comparison_chain, observation_chain])
def test_chains_up_to_the_cap_load_and_longer_ones_are_rejected(chain: Any) -> None:
    loaded = load(
        indicator(1, chain("AND", 600)),
        indicator(2, chain("AND", MAX_PATTERN_COMPARISONS)),
        indicator(3, chain("AND", MAX_PATTERN_COMPARISONS + 1)),
        indicator(4, chain("OR", 5000)),
    )
    assert [p.id[-1] for p in loaded.patterns] == ["1", "2"]
    assert reasons(loaded) == ["invalid_pattern", "invalid_pattern"]
    assert all("more than 1000 comparisons" in r.message for r in loaded.rejects)


def test_deep_nesting_is_one_reject_never_a_crash() -> None:
    allowed = MAX_PATTERN_NESTING
    loaded = load(
        indicator(1, "[" + "(" * allowed + "file:name = 'x'" + ")" * allowed + "]"),
        indicator(2, "[" + "(" * (allowed + 1) + "file:name = 'x'" + ")" * 33 + "]"),
        indicator(3, "(" * 100 + "[file:name = 'x']" + ")" * 100),
        indicator(4, "[" + "(" * 400 + "file:name = 'x'" + ")" * 400 + "]"),
    )
    assert [p.id[-1] for p in loaded.patterns] == ["1"]
    assert reasons(loaded) == ["invalid_pattern"] * 3


def test_a_long_and_chain_does_not_stop_url_matching() -> None:
    loaded = load(
        indicator(1, comparison_chain("AND", 700)),
        indicator(2, "[domain-name:value = 'bad.example']"),
    )
    store = IndicatorStore(loaded.indicators)
    store.add_patterns(loaded.patterns)
    assert store.match_url(parse_url("http://bad.example/"), patterns=True)


# --- patterns that match everything ------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "[domain-name:value LIKE '%']",
        "[url:value LIKE '%%_%']",
        "[url:value MATCHES '.*']",
        "[url:value MATCHES '']",
        "[url:value MATCHES '^']",
        "[url:value MATCHES '[\\\\s\\\\S]']",
        "[ipv4-addr:value ISSUBSET '0.0.0.0/0']",
        "[ipv6-addr:value ISSUBSET '::/0']",
        "[ipv4-addr:value ISSUBSET '10.0.0.0/7' AND EXISTS ipv4-addr:value]",
        "[file:name != 'a.exe']",
        "[url:value NOT LIKE 'http://ok.example/%']",
        "[EXISTS url:value]",
        "[file:name = 'a.exe'] OR [url:value LIKE '%']",
    ],
)
def test_catch_all_patterns_are_too_broad(pattern: str) -> None:
    loaded = load(indicator(1, pattern))
    assert loaded.patterns == [] and loaded.indicators == []
    assert reasons(loaded) == ["too_broad"]


@pytest.mark.parametrize(
    "pattern",
    [
        "[domain-name:value LIKE '%.evil.example']",
        "[url:value LIKE 'http://like.example.com/%']",
        "[url:value MATCHES '^https?://[^/]+/x[0-9]+']",
        "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
        "[file:name = 'a.exe' AND url:value LIKE '%']",
        "[file:name = 'a.exe' AND file:size != 3]",
        "[network-traffic:dst_port = 443]",
    ],
)
def test_narrow_patterns_still_load(pattern: str) -> None:
    loaded = load(indicator(1, pattern))
    assert reasons(loaded) == []
    assert len(loaded.patterns) == 1


# --- slow regular expressions -------------------------------------------------------


@pytest.mark.parametrize(
    "regex",
    ["^(a+)+$", "(a*)*b", "(a{1,2})+$", "(\\w+\\.)+com", "(.*a){20}", "(a|ab)+$"],
)
def test_catastrophic_regexes_are_refused(regex: str) -> None:
    assert regex_hazard(regex) is not None
    literal = regex.replace("\\", "\\\\")
    loaded = load(indicator(1, f"[url:value MATCHES '{literal}']"))
    assert reasons(loaded) == ["unsafe_regex"]


@pytest.mark.parametrize(
    "regex",
    [
        "^https?://[^/]+/x\\d+",
        "^(\\d{1,3}\\.){3}\\d{1,3}$",
        "(a|b)+c",
        "(ab|cd)+",
        "(a+)++$",
        "invoice_[0-9]{4}\\.exe$",
    ],
)
def test_ordinary_regexes_pass(regex: str) -> None:
    assert regex_hazard(regex) is None


def test_a_stored_unsafe_regex_never_matches_and_never_stalls() -> None:
    pattern = "[url:value MATCHES '^(a+)+$']"
    slow = make_pattern_indicator(
        parse_pattern(pattern), id="indicator--1", feed="old", pattern=pattern
    )
    observation = normalize_observation({"url:value": "a" * 40 + "!"})
    started = time.perf_counter()
    assert not slow.matches(observation)
    assert time.perf_counter() - started < 1


def test_matches_reads_a_bounded_prefix_of_the_value() -> None:
    parsed = parse_pattern("[file:name MATCHES 'needle']")
    near = normalize_observation({"file:name": "x" * 100 + "needle"})
    far = normalize_observation({"file:name": "x" * MAX_MATCHES_INPUT + "needle"})
    assert evaluate(parsed.expression, near)
    assert not evaluate(parsed.expression, far)


def test_like_with_many_wildcards_is_linear_and_exact() -> None:
    parsed = parse_pattern("[file:name LIKE '%a%b%c%d%e']")
    value = normalize_observation({"file:name": "abcd" * 5000})
    started = time.perf_counter()
    assert not evaluate(parsed.expression, value)
    assert time.perf_counter() - started < 1
    rng = random.Random(7)
    for _ in range(3000):
        like = "".join(rng.choice("ab%_") for _ in range(rng.randint(0, 6)))
        text = "".join(rng.choice("ab") for _ in range(rng.randint(0, 8)))
        naive = "".join(
            ".*" if c == "%" else "." if c == "_" else re.escape(c) for c in like
        )
        expected = re.fullmatch(naive, text, re.DOTALL) is not None
        found = re.fullmatch(_like_regex(like), text, re.DOTALL) is not None
        assert found == expected, (like, text)


# --- valid_from ------------------------------------------------------------------


def future_load() -> Any:
    return load(
        indicator(
            1, "[domain-name:value = 'future.example.com']", valid_from=stamp(LATER)
        ),
        indicator(
            2,
            "[url:value LIKE 'http://later.example/%']",
            valid_from=stamp(LATER),
        ),
    )


def test_an_indicator_does_not_match_before_valid_from() -> None:
    loaded = future_load()
    assert loaded.indicators[0].valid_from == LATER
    store = IndicatorStore(loaded.indicators)
    store.add_patterns(loaded.patterns)
    host = parse_url("http://future.example.com/")
    later = parse_url("http://later.example/x")
    before, after = LATER - timedelta(seconds=1), LATER
    assert store.match_url(host, at=before) == []
    assert store.match_host("future.example.com", at=before) == []
    assert store.match_url(later, at=before, patterns=True) == []
    assert [m.matched_on for m in store.match_url(host, at=after)] == ["host"]
    assert [m.matched_on for m in store.match_url(later, at=after, patterns=True)] == [
        "pattern"
    ]


def test_the_detector_judges_valid_from_in_event_time() -> None:
    loaded = future_load()
    store = IndicatorStore(loaded.indicators)
    store.add_patterns(loaded.patterns)
    detector = IntelMatchDetector(store, match_source_ip=False)

    def kinds(url: str, ts: datetime) -> list[str]:
        event = UrlPosted(event_id="e", ts=ts, account="a", url=url)
        return [s.kind for s in detector.process_one(event, EventContext(event))]

    assert kinds("http://future.example.com/", T0) == []
    assert kinds("http://later.example/x", T0) == []
    assert kinds("http://future.example.com/", LATER) == ["intel_host"]
    assert kinds("http://later.example/x", LATER) == ["intel_url"]


def test_a_merged_value_is_valid_from_the_earlier_start() -> None:
    pending = replace(indicator_from_text("x.example", "stix"), valid_from=LATER)
    listed_now = indicator_from_text("x.example", "plain")
    assert merge_indicators(pending, listed_now).valid_from is None
    earlier = replace(pending, valid_from=T0)
    assert merge_indicators(pending, earlier).valid_from == T0
