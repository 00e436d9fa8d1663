"""Feed files that are missing, damaged or not feeds: errors, never crashes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustwatch.errors import ConfigError, InvalidIndicatorError, TrustwatchError
from trustwatch.intel import FEED_FORMATS, iter_feed, load_feed, sniff_format
from trustwatch.intel.feeds import resolve_feed_paths

URLHAUS_HEADER = (
    "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
)


def _urlhaus_row(number: int, url: str | None = None) -> str:
    """One unquoted URLhaus CSV row (the older dumps' style)."""
    url = url or f"http://198.51.100.7/a{number}"
    return (
        f"{number},2025-04-21 12:35:06,{url},online,,malware_download,elf,"
        f"https://urlhaus.example/{number}/,r\n"
    )


def _gzip(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data))
    return path


# --- paths -----------------------------------------------------------------------


@pytest.mark.parametrize("format", ["auto", "plain", "urlhaus_csv", "urlhaus_json"])
def test_missing_file_is_a_config_error_naming_it(tmp_path: Path, format: str) -> None:
    path = tmp_path / "nope.txt"
    with pytest.raises(ConfigError, match=r"nope\.txt does not exist; hint"):
        load_feed(path, format=format)


@pytest.mark.parametrize("format", ["auto", "plain", "phishtank_json"])
def test_directory_is_a_config_error_naming_it(tmp_path: Path, format: str) -> None:
    with pytest.raises(ConfigError, match=r"is a directory.*hint"):
        load_feed(tmp_path, format=format)


def test_unreadable_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "locked.txt"
    path.write_text("evil.example\n", encoding="utf-8")

    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(ConfigError, match=r"locked\.txt: permission denied; hint"):
        load_feed(path, format="plain")


def test_iter_feed_and_sniff_format_raise_the_same_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        list(iter_feed(tmp_path / "nope.txt"))
    with pytest.raises(ConfigError, match="is a directory"):
        sniff_format(tmp_path)


# --- compression -------------------------------------------------------------------


@pytest.mark.parametrize("format", ["auto", "plain", "urlhaus_csv", "openphish_json"])
def test_gz_name_without_gzip_data_is_invalid(tmp_path: Path, format: str) -> None:
    path = tmp_path / "list.txt.gz"
    path.write_text("evil.example\n", encoding="utf-8")
    with pytest.raises(InvalidIndicatorError, match=r"list\.txt\.gz.*not gzip.*hint"):
        load_feed(path, format=format)


def test_truncated_gzip_names_the_file_and_line(tmp_path: Path) -> None:
    data = b"".join(f"h{n}.example\n".encode() for n in range(20000))
    path = tmp_path / "big.txt.gz"
    path.write_bytes(gzip.compress(data)[:-200])
    with pytest.raises(InvalidIndicatorError, match=r"big\.txt\.gz.*after line \d+"):
        load_feed(path, format="plain")


def test_corrupt_gzip_is_invalid(tmp_path: Path) -> None:
    data = bytearray(gzip.compress(b"evil.example\n" * 5000))
    data[40:60] = b"\xff" * 20
    path = tmp_path / "bad.txt.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidIndicatorError, match=r"bad\.txt\.gz.*hint"):
        load_feed(path)


def test_gzip_data_is_read_whatever_the_name(tmp_path: Path) -> None:
    path = _gzip(tmp_path / "list.txt", b"evil.example\n")
    assert [i.value for i in load_feed(path).indicators] == ["evil.example"]


def test_empty_files_give_empty_feeds(tmp_path: Path) -> None:
    for name in ("empty.txt", "empty.txt.gz"):
        (tmp_path / name).write_bytes(b"")
        assert load_feed(tmp_path / name, format="plain").records == 0


# --- encodings -----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_are_invalid(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes("evil.example\nhttp://a.example/\n".encode(encoding))
    with pytest.raises(InvalidIndicatorError, match=r"list\.txt.*UTF-8"):
        load_feed(path)


def test_binary_file_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "feed.bin"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(InvalidIndicatorError, match=r"feed\.bin.*not a text feed"):
        load_feed(path, format="plain")


def test_one_latin1_line_is_a_local_reject(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"evil.example\nhttp://caf\xe9.example/\nok.example\n")
    load = load_feed(path)
    assert [(r.reason, r.location) for r in load.rejects] == [
        ("encoding", "list.txt:2")
    ]
    assert load.accepted == 2


def test_bare_carriage_returns_end_lines(tmp_path: Path) -> None:
    path = tmp_path / "urlhaus.csv"
    text = URLHAUS_HEADER + _urlhaus_row(1) + _urlhaus_row(2) + "2,x,y\n"
    path.write_bytes(text.replace("\n", "\r").encode())
    load = load_feed(path)
    assert (load.format, load.accepted) == ("urlhaus_csv", 2)
    assert [(r.reason, r.location) for r in load.rejects] == [
        ("malformed_row", "urlhaus.csv:4")
    ]


# --- damaged CSV records ------------------------------------------------------------


def test_unterminated_quote_in_a_large_csv_rejects_one_record(tmp_path: Path) -> None:
    rows = [_urlhaus_row(n) for n in range(1, 3000)]
    rows[1] = _urlhaus_row(2, '"http://198.51.100.7/a2')
    path = tmp_path / "urlhaus.csv"
    path.write_text(URLHAUS_HEADER + "".join(rows), encoding="utf-8")
    assert path.stat().st_size > 131072
    load = load_feed(path)
    assert [(r.reason, r.location) for r in load.rejects] == [
        ("malformed_row", "urlhaus.csv:3")
    ]
    assert "quote" in load.rejects[0].message
    assert load.accepted == 2998


def test_unterminated_quote_near_the_end_loses_no_other_record(tmp_path: Path) -> None:
    rows = [_urlhaus_row(n) for n in range(1, 12)]
    rows[8] = _urlhaus_row(9, '"http://198.51.100.7/a9')
    path = tmp_path / "urlhaus.csv"
    path.write_text(URLHAUS_HEADER + "".join(rows), encoding="utf-8")
    load = load_feed(path)
    assert [r.location for r in load.rejects] == ["urlhaus.csv:10"]
    assert [i.reference for i in load.indicators] == [
        str(n) for n in range(1, 12) if n != 9
    ]


def test_field_over_the_csv_limit_is_a_local_reject(tmp_path: Path) -> None:
    rows = [_urlhaus_row(1), _urlhaus_row(2, "http://a.example/" + "x" * 140000)]
    rows.append(_urlhaus_row(3))
    path = tmp_path / "urlhaus.csv"
    path.write_text(URLHAUS_HEADER + "".join(rows), encoding="utf-8")
    load = load_feed(path, format="urlhaus_csv")
    assert [(r.reason, r.location) for r in load.rejects] == [
        ("malformed_row", "urlhaus.csv:3")
    ]
    assert [i.reference for i in load.indicators] == ["1", "3"]


def test_record_over_two_lines_is_rejected_not_merged(tmp_path: Path) -> None:
    row = _urlhaus_row(2).replace(",r\n", ',"first\nsecond"\n')
    path = tmp_path / "urlhaus.csv"
    path.write_text(URLHAUS_HEADER + _urlhaus_row(1) + row + _urlhaus_row(3))
    load = load_feed(path, format="urlhaus_csv")
    assert [(r.reason, r.location) for r in load.rejects] == [
        ("malformed_row", "urlhaus.csv:3"),
        ("malformed_row", "urlhaus.csv:4"),
    ]
    assert [i.reference for i in load.indicators] == ["1", "3"]


def test_two_unterminated_quotes_each_cost_one_record(tmp_path: Path) -> None:
    rows = [_urlhaus_row(n) for n in range(1, 60)]
    for n in (5, 9, 40, 59):
        rows[n - 1] = _urlhaus_row(n, f'"http://198.51.100.7/a{n}')
    path = tmp_path / "urlhaus.csv"
    path.write_text(URLHAUS_HEADER + "".join(rows), encoding="utf-8")
    load = load_feed(path, format="urlhaus_csv")
    assert [r.location for r in load.rejects] == [
        f"urlhaus.csv:{n + 1}" for n in (5, 9, 40, 59)
    ]
    assert load.accepted == 55


def test_damaged_record_keeps_its_bad_bytes_flag(tmp_path: Path) -> None:
    path = tmp_path / "urlhaus.csv"
    bad = _urlhaus_row(2, '"http://198.51.100.7/\udcff').encode(
        "utf-8", "surrogateescape"
    )
    data = URLHAUS_HEADER.encode() + bad + _urlhaus_row(3).encode()
    path.write_bytes(data)
    load = load_feed(path, format="urlhaus_csv")
    assert [(r.reason, r.location) for r in load.rejects] == [
        ("malformed_row", "urlhaus.csv:2")
    ]
    assert "\ufffd" in load.rejects[0].raw
    assert [i.reference for i in load.indicators] == ["3"]


def test_huge_comment_line_does_not_break_the_header(tmp_path: Path) -> None:
    comment = '# "' + "x" * 140000 + "\n"
    path = tmp_path / "urlhaus.csv"
    path.write_text(comment + URLHAUS_HEADER + _urlhaus_row(1), encoding="utf-8")
    assert load_feed(path, format="urlhaus_csv").accepted == 1


# --- JSON of the wrong types ---------------------------------------------------


def test_urlhaus_json_fields_of_wrong_types_are_tolerated(tmp_path: Path) -> None:
    dump = {
        "1": [{"url": "http://a.example/x", "tags": 5, "threat": ["x"], "id": 3}],
        "2": [{"url": ["http://b.example/"], "dateadded": {"a": 1}}],
    }
    path = tmp_path / "urlhaus.json"
    path.write_text(json.dumps(dump), encoding="utf-8")
    load = load_feed(path, format="urlhaus_json")
    [indicator] = load.indicators
    assert (indicator.value, indicator.tags, indicator.threat) == (
        "http://a.example/x",
        (),
        "malware_download",
    )
    assert [r.location for r in load.rejects] == ["urlhaus.json:id 2"]


def test_json_nested_too_deeply_is_a_reject(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100000 + "]" * 100000, encoding="utf-8")
    load = load_feed(path, format="phishtank_json")
    assert [(r.location, r.reason) for r in load.rejects] == [
        ("deep.json:record 1", "too_deep")
    ]


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[\n{"phish_id": 1},\n{"url": nope}\n]', encoding="utf-8")
    with pytest.raises(
        InvalidIndicatorError, match=r"bad\.json is not valid JSON at line 3"
    ):
        load_feed(path, format="phishtank_json")


LATE = "9999-12-31T23:59:59-01:00"  # one hour past the last datetime in UTC


def test_times_out_of_range_are_counted_not_raised(tmp_path: Path) -> None:
    records = [
        {"phish_id": 1, "url": "https://a.example/"},
        {"phish_id": 2, "url": "https://b.example/", "submission_time": LATE},
    ]
    path = tmp_path / "phish.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    load = load_feed(path, format="phishtank_json")
    assert (load.accepted, load.bad_timestamps) == (2, 1)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_URLHAUS_JSON = st.dictionaries(
    st.integers(min_value=1).map(str),
    st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                key: _JSON | st.just("http://a.example/")
                for key in ("url", "tags", "threat", "dateadded", "url_status", "id")
            },
        ),
        max_size=2,
    ),
    max_size=3,
)
_PHISHTANK_JSON = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            key: _JSON for key in ("url", "phish_id", "target", "online", "verified")
        },
    ),
    max_size=3,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(_URLHAUS_JSON, _PHISHTANK_JSON, _JSON))
def test_any_json_raises_only_trustwatch_errors(tmp_path: Path, data: object) -> None:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    for format in ("urlhaus_json", "phishtank_json", "openphish_json"):
        try:
            load = load_feed(path, format=format)
        except TrustwatchError:
            continue
        assert load.records >= load.accepted


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), gzipped=st.booleans())
def test_any_bytes_raise_only_trustwatch_errors(
    tmp_path: Path, data: bytes, gzipped: bool
) -> None:
    path = tmp_path / ("feed.txt.gz" if gzipped else "feed.txt")
    path.write_bytes(gzip.compress(data) if gzipped and data[:1] != b"x" else data)
    for format in ("auto", *FEED_FORMATS):
        try:
            load_feed(path, format=format)
        except TrustwatchError as exc:
            assert path.name in str(exc)


# --- resolving paths -----------------------------------------------------------


def _files(root: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("evil.example\n", encoding="utf-8")
        paths.append(path)
    return paths


def test_resolve_expands_a_folder_sorted_without_subfolders(tmp_path: Path) -> None:
    b, a, _, _ = _files(tmp_path, "b.csv", "a.txt", "sub/c.txt", ".hidden")
    assert resolve_feed_paths([tmp_path]) == [a, b]


def test_resolve_expands_globs_and_keeps_argument_order(tmp_path: Path) -> None:
    a, b, c = _files(tmp_path, "a.csv", "b.csv", "sub/c.txt")
    got = resolve_feed_paths([str(tmp_path / "sub" / "*.txt"), str(tmp_path / "*.csv")])
    assert got == [c, a, b]
    assert resolve_feed_paths([str(tmp_path / "**" / "c.txt")]) == [c]


def test_resolve_dedupes_by_real_path(tmp_path: Path) -> None:
    [a] = _files(tmp_path, "a.txt")
    (tmp_path / "link.txt").symlink_to(a)
    got = resolve_feed_paths([a, tmp_path / "link.txt", tmp_path, str(a)])
    assert got == [a]


def test_resolve_accepts_one_path_given_as_a_string(tmp_path: Path) -> None:
    [a] = _files(tmp_path, "a.txt")
    assert resolve_feed_paths(str(a)) == [a]


def test_resolve_refuses_missing_paths_and_empty_globs(tmp_path: Path) -> None:
    _files(tmp_path, "a.txt")
    with pytest.raises(ConfigError, match=r"nope\.txt does not exist; hint"):
        resolve_feed_paths([tmp_path / "a.txt", tmp_path / "nope.txt"])
    with pytest.raises(ConfigError, match=r"\*\.csv.*matches no file; hint"):
        resolve_feed_paths([str(tmp_path / "*.csv")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"empty.*holds no feed file; hint"):
        resolve_feed_paths([tmp_path / "empty"])


def test_resolve_takes_a_literal_name_with_glob_characters(tmp_path: Path) -> None:
    [odd] = _files(tmp_path, "feed[1].txt")
    assert resolve_feed_paths([odd]) == [odd]


def test_a_pipe_named_as_a_feed_is_refused_not_waited_on(tmp_path):
    import os

    import pytest

    from trustwatch.errors import ConfigError
    from trustwatch.intel.feeds import resolve_feed_paths

    fifo = tmp_path / "feed.txt"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        resolve_feed_paths([fifo])
