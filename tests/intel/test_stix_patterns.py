"""STIX 2.1 patterns: parsing, escaping, evaluation and the anchored store."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from trustwatch.errors import ConfigError
from trustwatch.intel.indicators import normalize_url
from trustwatch.intel.stix_patterns import (
    AllOf,
    AnyOf,
    Comparison,
    Expression,
    PatternError,
    PatternIndicator,
    PatternStore,
    _Builder,
    _fast_equalities,
    _finish,
    _parse_tree,
    canonical_path,
    evaluate,
    make_pattern_indicator,
    normalize_observation,
    parse_pattern,
    stix_literal,
    unescape_literal,
)

SHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
MD5 = "098f6bcd4621d373cade4e832627b4f6"


def holds(pattern: str, observation: dict[str, Any]) -> bool:
    """Return whether a pattern holds for an observation."""
    parsed = parse_pattern(pattern)
    return evaluate(parsed.expression, normalize_observation(observation))


def grammar_expression(pattern: str) -> Expression:
    """Return a pattern's expression as read by the grammar, uncached."""
    return _finish(_Builder().build(_parse_tree(pattern)), ())


def pattern_indicator(
    pattern: str, id: str = "indicator--1", **fields: Any
) -> PatternIndicator:
    return make_pattern_indicator(
        parse_pattern(pattern), id=id, feed="test", pattern=pattern, **fields
    )


# --- FEED-05: escaping -----------------------------------------------------------


def test_feed05_pattern_constant_unescapes(hardcases: dict[str, Any]) -> None:
    case = hardcases["FEED-05"]
    found = re.search(r"observable value is (\S+) \(", case["expected"])
    assert found is not None
    url = found.group(1)
    assert url == "https://example.com/params?&message='hello'"
    parsed = parse_pattern(case["input"])
    assert parsed.equalities is not None
    assert [c.value for c in parsed.equalities] == [normalize_url(url)]
    body = case["input"].split("= '", 1)[1][:-2]
    assert unescape_literal(body) == url


def test_feed05_building_literals_escapes_backslash_then_quote(
    hardcases: dict[str, Any],
) -> None:
    expected = hardcases["FEED-05"]["expected"]
    name = re.search(r"file name (.+?) -> (\[file:name = .+?\]);", expected)
    path = re.search(r"path (\S+) -> ('.+?')\.$", expected)
    assert name is not None and path is not None
    assert f"[file:name = {stix_literal(name.group(1))}]" == name.group(2)
    assert stix_literal(path.group(1)) == path.group(2)
    for value in (name.group(1), path.group(1), "\\'", "a\\\\'b'"):
        built = f"[file:name = {stix_literal(value)}]"
        expression = parse_pattern(built).expression
        assert isinstance(expression, Comparison)
        assert expression.value == value
        tree = grammar_expression(built)
        assert isinstance(tree, Comparison) and tree.value == value


def test_unescaping_is_one_pass() -> None:
    assert unescape_literal("a\\\\\\'b") == "a\\'b"
    assert unescape_literal("plain") == "plain"


# --- parsing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "[url:value = 'http://a.example/x']",
        "[domain-name:value = 'A.Example.' OR ipv4-addr:value = '198.51.100.7']",
        f"[file:hashes.md5 = '{MD5.upper()}']",
        f"[file:hashes.'SHA-256' = '{SHA256}' OR file:hashes.SHA256 = '{SHA256}']",
        "[url:value = 'https://x.example/?q=\\'a\\'\\\\']",
        "[ipv6-addr:value = '2001:db8::/32']",
    ],
)
def test_fast_reader_agrees_with_the_grammar(pattern: str) -> None:
    fast = _fast_equalities(pattern)
    assert fast is not None
    tree = grammar_expression(pattern)
    parts = tree.parts if isinstance(tree, AnyOf) else (tree,)
    assert tuple(parts) == fast


def test_fast_reader_leaves_other_forms_to_the_grammar() -> None:
    assert _fast_equalities("[file:name = 'a' AND file:size = 3]") is None
    assert _fast_equalities("[url:value = 'a'] OR [url:value = 'b']") is None
    assert _fast_equalities("[url:value = 'a' /* note */]") is None


def test_in_of_strings_counts_as_equalities() -> None:
    parsed = parse_pattern("[domain-name:value IN ('a.example', 'B.example')]")
    assert parsed.equalities is not None
    assert [c.value for c in parsed.equalities] == ["a.example", "b.example"]


def test_compound_patterns_have_no_equalities() -> None:
    parsed = parse_pattern("[file:name = 'a.exe' AND file:size > 10]")
    assert parsed.equalities is None
    assert isinstance(parsed.expression, AllOf)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("[url:value = 'a'] FOLLOWEDBY [url:value = 'b']", "unsupported_pattern"),
        (
            "[url:value = 'a'] START t'2020-01-01T00:00:00Z' "
            "STOP t'2021-01-01T00:00:00Z'",
            "unsupported_pattern",
        ),
        (
            "([file:name = 'a'] AND [url:value = 'b']) WITHIN 5 SECONDS",
            "unsupported_pattern",
        ),
        ("[file:name = 'a'] REPEATS 3 TIMES", "unsupported_pattern"),
        ("[file:name MATCHES '(?<=x']", "unsupported_pattern"),
        ("[file:name = 'a'", "invalid_pattern"),
        ("url:value = 'a'", "invalid_pattern"),
        ("[file:name = 'a\\b']", "invalid_pattern"),
        ("[ipv4-addr:value ISSUBSET 'not a network']", "invalid_pattern"),
        ("[file:size = 01]", "invalid_pattern"),
        ("[file:size = - 1]", "invalid_pattern"),
    ],
)
def test_unusable_patterns_raise_with_a_reason(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError) as raised:
        parse_pattern(pattern)
    assert raised.value.reason == reason


def test_single_observation_qualifiers_are_accepted() -> None:
    assert holds("[file:name = 'a'] WITHIN 5 SECONDS", {"file:name": "a"})
    assert holds("[file:name = 'a'] REPEATS 1 TIMES", {"file:name": "a"})


def test_canonical_paths() -> None:
    assert canonical_path("file:hashes.sha256") == "file:hashes.'SHA-256'"
    assert canonical_path("file:hashes.'sha-1'") == "file:hashes.'SHA-1'"
    assert canonical_path("file:hashes.md5") == "file:hashes.MD5"
    assert canonical_path("file:name") == "file:name"
    assert (
        canonical_path("file:extensions.'windows-pebinary-ext'.sections[0].name")
        == "file:extensions.'windows-pebinary-ext'.sections[0].name"
    )
    with pytest.raises(ConfigError, match="hint:"):
        canonical_path("not a path")


# --- evaluation -------------------------------------------------------------------


UPLOAD: dict[str, Any] = {
    "file:hashes.'SHA-256'": SHA256.upper(),
    "file:name": "Invoice_2024.exe",
    "file:size": 48_000,
    "file:mime_type": "application/x-dosexec",
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (f"[file:hashes.'SHA-256' = '{SHA256}' AND file:size > 40000]", True),
        (f"[file:hashes.'SHA-256' = '{SHA256}' AND file:size > 50000]", False),
        ("[file:name != 'other.exe']", True),
        ("[file:name != 'Invoice_2024.exe']", False),
        ("[file:size < 48000]", False),
        ("[file:size <= 48000 AND file:size >= 48000]", True),
        ("[file:name LIKE 'Invoice_2___.exe']", True),
        ("[file:name LIKE 'invoice%']", False),
        ("[file:name MATCHES '^Invoice_\\\\d{4}\\\\.exe$']", True),
        ("[file:name MATCHES '^\\\\d']", False),
        ("[file:mime_type IN ('application/pdf', 'application/x-dosexec')]", True),
        ("[file:mime_type NOT IN ('application/x-dosexec')]", False),
        ("[EXISTS file:name]", True),
        ("[NOT EXISTS file:parent_directory_ref]", True),
        ("[file:parent_directory_ref.path = 'x']", False),
        ("[file:parent_directory_ref.path NOT = 'x']", False),
        ("[file:name = 'x'] OR [file:size = 48000]", True),
        ("[file:name = 'x'] AND [file:size = 48000]", False),
        ("[file:size = 48000.0]", True),
        ("[file:size = '48000']", False),
    ],
)
def test_compound_pattern_evaluation(pattern: str, expected: bool) -> None:
    assert holds(pattern, UPLOAD) is expected


def test_network_operators() -> None:
    observation = {"ipv4-addr:value": "198.51.100.7"}
    assert holds("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", observation)
    assert not holds("[ipv4-addr:value ISSUBSET '203.0.113.0/24']", observation)
    assert holds(
        "[ipv4-addr:value = '198.51.100.0/24' AND EXISTS ipv4-addr:value]", observation
    )
    assert holds(
        "[ipv4-addr:value ISSUPERSET '198.51.100.7']",
        {"ipv4-addr:value": "198.51.100.0/24"},
    )


def test_values_normalised_per_path() -> None:
    assert holds(
        "[domain-name:value = 'Evil.Example.' AND url:value LIKE '%/bin%']",
        {
            "domain-name:value": "evil.example",
            "url:value": "HTTP://EVIL.example/bin.sh",
        },
    )
    assert holds(
        "[ipv6-addr:value = '2001:DB8::1' AND EXISTS ipv6-addr:value]",
        {"ipv6-addr:value": "2001:db8:0::1"},
    )


def test_list_values_match_when_any_does() -> None:
    pattern = "[ipv4-addr:value = '203.0.113.9' AND EXISTS ipv4-addr:value]"
    assert holds(pattern, {"ipv4-addr:value": ["198.51.100.1", "203.0.113.9"]})
    assert not holds(pattern, {"ipv4-addr:value": ["198.51.100.1"]})


def test_typed_literals() -> None:
    seen = datetime(2024, 5, 1, tzinfo=UTC)
    assert holds(
        "[file:created > t'2024-01-01T00:00:00Z' AND file:x = h'00ff' "
        "AND file:y = b'AP8=' AND file:z = true]",
        {"file:created": seen, "file:x": b"\x00\xff", "file:y": "00ff", "file:z": True},
    )
    assert not holds("[file:z = true]", {"file:z": 1})


# --- anchors and the store -----------------------------------------------------------


def test_anchors() -> None:
    anchored = pattern_indicator(
        f"[file:hashes.'SHA-256' = '{SHA256}' AND file:size > 1]"
    )
    assert anchored.anchors == frozenset({("file:hashes.'SHA-256'", SHA256)})
    either = pattern_indicator(
        "[file:name = 'a' AND file:size = 2] OR [url:value LIKE 'x%']"
    )
    assert either.anchors is None
    union = pattern_indicator(
        "[file:name = 'a' AND file:size > 2] OR [file:name = 'b']"
    )
    assert union.anchors == frozenset({("file:name", "a"), ("file:name", "b")})
    negated = pattern_indicator("[file:name NOT = 'a']")
    assert negated.anchors is None


def test_store_evaluates_only_candidates_and_unanchored() -> None:
    store = PatternStore(
        pattern_indicator(
            f"[file:name = 'tool{i}.exe' AND file:size > 100]", f"indicator--{i}"
        )
        for i in range(1000)
    )
    store.add(pattern_indicator("[file:name MATCHES '^Invoice']", "indicator--regex"))
    stats = store.stats()
    assert (stats.total, stats.anchored, stats.unanchored) == (1001, 1000, 1)
    found = store.match(
        normalize_observation({"file:name": "tool7.exe", "file:size": 500})
    )
    assert [p.id for p in found] == ["indicator--7"]
    small = store.match(
        normalize_observation({"file:name": "tool7.exe", "file:size": 5})
    )
    assert small == []
    invoice = store.match(normalize_observation({"file:name": "Invoice.exe"}))
    assert [p.id for p in invoice] == ["indicator--regex"]


def test_store_keeps_the_latest_version_and_honours_expiry() -> None:
    old = datetime(2024, 1, 1, tzinfo=UTC)
    new = old + timedelta(days=1)
    store = PatternStore([pattern_indicator("[file:name = 'a']", modified=new)])
    assert not store.add(pattern_indicator("[file:name = 'b']", modified=old))
    assert store.add(
        pattern_indicator("[file:name = 'c']", modified=new + timedelta(1))
    )
    assert store.match(normalize_observation({"file:name": "a"})) == []
    assert len(store.match(normalize_observation({"file:name": "c"}))) == 1
    assert store.remove("indicator--1") and len(store) == 0
    expiring = pattern_indicator("[file:name = 'a']", expires_at=new)
    store.add(expiring)
    observation = normalize_observation({"file:name": "a"})
    assert store.match(observation, at=old) == [expiring]
    assert store.match(observation, at=new + timedelta(seconds=1)) == []


SHAPES = [
    f"[file:hashes.'SHA-256' = '{SHA256}' AND file:size > 10]",
    "[file:name = 'a\\'b\\\\c' AND file:mime_type IN ('x/y', 'z\\'q')]",
    "[file:extensions.'windows-pebinary-ext'.sections[*].name = 'UPX0']",
    "[file:created > t'2024-01-01T00:00:00Z' AND file:x = h'00ff' "
    "AND file:y = b'AP8=']",
    "[url:value MATCHES '^https?://[^/]+/x\\\\d+' AND url:value LIKE '%.php']",
    "[ipv4-addr:value ISSUBSET '198.51.100.0/24'] OR [domain-name:value = 'a.example']",
    "[url:value = 'http://a.example//x' AND url:value != 'http://b.example/']",
    "[file:size >= 0 AND file:size <= +10 AND file:x = -3 AND file:y < 0.5]",
    "[file:size > 10] REPEATS 1 TIMES",
    "[file:sections[0].size = 12 AND file:name = '= 7']",
]


@pytest.mark.parametrize("pattern", SHAPES)
def test_cached_shapes_give_the_grammars_expression(pattern: str) -> None:
    direct = grammar_expression(pattern)
    assert parse_pattern(pattern).expression == direct
    assert parse_pattern(pattern).expression == direct


def test_patterns_of_one_shape_keep_their_own_values() -> None:
    first = parse_pattern("[file:name = 'one.exe' AND file:size > 1]").expression
    second = parse_pattern("[file:name = 'two.exe' AND file:size > 2]").expression
    assert isinstance(first, AllOf) and isinstance(second, AllOf)
    assert first.parts[0] == Comparison("file:name", "=", "one.exe")
    assert second.parts[0] == Comparison("file:name", "=", "two.exe")
    assert first.parts[1] == Comparison("file:size", ">", 1)
    assert second.parts[1] == Comparison("file:size", ">", 2)


def test_errors_point_at_the_written_pattern() -> None:
    text = "[file:name = 'a long value here' AND AND file:size > 1]"
    with pytest.raises(PatternError, match=f"1:{text.index('AND AND') + 4}:"):
        parse_pattern(text)
