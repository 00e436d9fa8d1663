"""Features: stable hashes, parts kept apart, named values that mean what they say."""

import numpy as np
import pytest

from trustwatch.enrichment.urls import parse_url
from trustwatch.urlmodel.features import (
    DENSE_FEATURES,
    NGRAM_SIZES,
    dense_features,
    document,
    hash_ngrams,
    part_of,
)


def _named(url: str) -> dict[str, float]:
    values = dense_features(parse_url(url))
    return {
        spec.name: value for spec, value in zip(DENSE_FEATURES, values, strict=True)
    }


def test_document_keeps_parts_apart_and_folds_escape_runs():
    doc = document(
        parse_url("https://Login.Example.com/A%20B%2Fc/Path?Q=%E3%81%82%E3%81%84")
    )
    assert doc == b"login.example.com\x01/a%b%c/path\x02q=%"
    assert part_of(doc, 0) == "host"
    assert part_of(doc, doc.index(b"/a")) == "path"
    assert part_of(doc, doc.index(b"q=")) == "query"


def test_document_is_bounded():
    doc = document(parse_url("https://example.com/" + "a" * 5000))
    assert len(doc) == 256


def test_hashes_are_stable_and_depend_on_the_part():
    docs = [b"login\x01/\x02", b"x\x01/login\x02", b"login\x01/\x02"]
    grams = hash_ngrams(docs, bits=20)
    first = set(grams.indices[0][grams.mask[0]].tolist())
    second = set(grams.indices[1][grams.mask[1]].tolist())
    third = set(grams.indices[2][grams.mask[2]].tolist())
    assert first == third
    # "log", "ogi", "gin" in a host are not the same features as in a path
    assert len(first & second) <= 1


def _reference_hash(gram: bytes, part: int, bits: int) -> int:
    """The n-gram hash written out in plain Python, one byte at a time."""
    mask = 0xFFFFFFFF
    value = 0
    for byte in gram:
        value = ((value * 0x01000193) & mask) ^ byte
    value ^= (part * 0x9E3779B1 + len(gram) * 0x85EBCA6B) & mask
    value ^= value >> 16
    value = (value * 0x85EBCA6B) & mask
    value ^= value >> 13
    value = (value * 0xC2B2AE35) & mask
    value ^= value >> 16
    return value >> (32 - bits)


def test_vectorised_hash_matches_the_plain_definition():
    doc = b"pay.example\x01/login\x02a=1"
    grams = hash_ngrams([doc], bits=20)
    for slot in np.flatnonzero(grams.mask[0]):
        start, size = int(grams.starts[slot]), int(grams.sizes[slot])
        part = sum(1 for byte in doc[: start + 1] if byte in (1, 2))
        expected = _reference_hash(doc[start : start + size], part, 20)
        assert grams.indices[0, slot] == expected


def test_ngram_counts_and_weights():
    grams = hash_ngrams([b"abcdef", b"ab"], bits=16)
    expected = sum(max(0, 6 - n + 1) for n in NGRAM_SIZES)
    assert grams.mask[0].sum() == expected
    assert grams.mask[1].sum() == 0
    assert grams.weight[0] == pytest.approx(1 / np.sqrt(expected))
    assert grams.indices.max() < 2**16


def test_empty_batch():
    grams = hash_ngrams([], bits=16)
    assert grams.indices.shape[0] == 0


@pytest.mark.parametrize(
    ("url", "feature", "value"),
    [
        ("http://198.51.100.7:8080/bin.sh", "ip_host", 1.0),
        ("http://198.51.100.7:8080/bin.sh", "port", 1.0),
        ("http://198.51.100.7:8080/bin.sh", "payload", 1.0),
        ("http://198.51.100.7:8080/bin.sh", "plain_http", 1.0),
        ("https://a.b.c.example.com/", "subdomain_depth", 3.0),
        ("https://secure-login-paypal.weeblysite.com/", "free_hosting", 1.0),
        ("https://bit.ly/3xYz", "shortener", 1.0),
        ("https://me.duckdns.org/", "dynamic_dns", 1.0),
        ("https://linktr.ee/someone", "link_in_bio", 1.0),
        ("https://paypal.com.secure-login.example/", "brand_elsewhere", 1.0),
        ("https://www.paypal.com/signin", "brand_elsewhere", 0.0),
        ("https://example.com/login/verify-account", "credential_words", 3.0),
        ("https://example.com/r?u=https://evil.example/", "redirect_parameter", 1.0),
        ("https://example.com/", "home_page", 1.0),
        ("https://example.com/a", "home_page", 0.0),
        ("https://xn--pypal-4ve.com/", "idn", 1.0),
        ("https://www.example.com@evil.example/", "userinfo", 1.0),
        ("https://example.top/", "risky_tld", 1.0),
        ("https://ex4mple-22.com/", "domain_digits", 3.0),
    ],
)
def test_named_features(url, feature, value):
    assert _named(url)[feature] == value
