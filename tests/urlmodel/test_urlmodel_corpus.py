"""Labelled URL files and the reference sources."""

from datetime import UTC, datetime

import pytest

from trustwatch.errors import ConfigError
from trustwatch.urlmodel.corpus import (
    SOURCES,
    load_reference_corpus,
    read_labelled_file,
)


def test_csv_and_jsonl_files(tmp_path):
    csv_file = tmp_path / "mine.csv"
    csv_file.write_text(
        "url,label,time\n"
        "https://example.com/a,benign,\n"
        "http://198.51.100.7/x.exe,malicious,2024-05-01T10:00:00Z\n"
    )
    rows = read_labelled_file(csv_file)
    assert [(r.url, r.label) for r in rows] == [
        ("https://example.com/a", 0),
        ("http://198.51.100.7/x.exe", 1),
    ]
    assert rows[0].time is None and rows[1].time is not None
    assert rows[1].time.year == 2024 and rows[1].source == "mine.csv"
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text(
        '{"url": "https://a.example/", "label": 1}\n\n'
        '{"url": "https://b.example/", "label": "0"}\n'
    )
    assert [r.label for r in read_labelled_file(jsonl)] == [1, 0]


def test_times_without_a_zone_and_dates_alone_are_read_as_utc(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(
        "url,label,time\n"
        "https://a.example/,1,2024-01-15\n"
        "https://b.example/,0,2024-01-15T10:30:00\n"
        "https://c.example/,0,2024-01-15T10:30:00+02:00\n"
    )
    assert [r.time for r in read_labelled_file(path)] == [
        datetime(2024, 1, 15, tzinfo=UTC),
        datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
        datetime(2024, 1, 15, 8, 30, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("url,label\nhttps://a.example/,maybe\n", ".csv", "mine.csv:2: label 'maybe'"),
        ("url,label\n,1\n", ".csv", "mine.csv:2: 'url' is missing"),
        (
            "url,label,time\nhttps://a.example/,1,yesterday\n",
            ".csv",
            "cannot read timestamp",
        ),
        ('{"url": 12345, "label": 1}\n', ".jsonl", "'url' must be text"),
        (
            '{"url": "https://a.example/", "label": 1}\n[1]\n',
            ".jsonl",
            "mine.jsonl:2: expected",
        ),
        ("{not json\n", ".jsonl", "mine.jsonl:1: not JSON"),
    ],
)
def test_bad_rows_name_the_line(tmp_path, content, suffix, message):
    path = tmp_path / f"mine{suffix}"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_labelled_file(path)


def test_unknown_or_missing_sources_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown URL source 'nope'"):
        load_reference_corpus(tmp_path, sources=["nope"])
    with pytest.raises(ConfigError, match="is missing"):
        load_reference_corpus(tmp_path, sources=["urlhaus-2025-04"])
    with pytest.raises(ConfigError, match="no URL sources found"):
        load_reference_corpus(tmp_path)


@pytest.mark.slow
@pytest.mark.datasets
def test_reference_corpus_reads_every_source(datasets_dir):
    rows = load_reference_corpus(datasets_dir)
    by_source = {}
    for row in rows:
        by_source.setdefault(row.source, []).append(row)
    assert set(by_source) == {source.name for source in SOURCES}
    # malicious feeds carry dates; benign lists do not
    for source in SOURCES:
        dated = sum(r.time is not None for r in by_source[source.name])
        if source.label == 1:
            assert dated / len(by_source[source.name]) > 0.99, source.name
        else:
            assert dated == 0
    assert len(by_source["openphish-2024h2"]) == 46_917
    homes = by_source["toplists"]
    assert all(r.url.startswith(("https://", "http://")) for r in homes)
    assert all(r.url.endswith("/") and r.url.count("/") == 3 for r in homes)
    # scheme and www vary, so neither marks a list entry
    plain = sum(r.url.startswith("http://") for r in homes) / len(homes)
    assert 0.3 < plain < 0.5
    assert len({r.url for r in homes}) == len(homes)
    open_rows = load_reference_corpus(datasets_dir, open_only=True)
    assert {r.source for r in open_rows} == {s.name for s in SOURCES if s.open_licence}
