"""Feed lines and CSV records: line endings, and damage kept to one record."""

from __future__ import annotations

import io

from trustwatch.intel._lines import CsvRecords, Lines


def _records(data: bytes) -> list[tuple[int, list[str], bool]]:
    """Return (line, row, damaged) per record."""
    records = CsvRecords(io.BytesIO(data))
    return [(line, row, damage is not None) for line, row, _, damage in records]


def test_lines_end_at_lf_and_crlf() -> None:
    lines = Lines(io.BytesIO(b"\xef\xbb\xbfa\r\nb\nc"))
    assert list(lines) == ["a\r\n", "b\n", "c"]
    assert lines.number == 3


def test_lines_of_a_file_written_with_bare_crs_are_split() -> None:
    lines = Lines(io.BytesIO(b"\xef\xbb\xbfa\rb\rc\r\nd"))
    assert [text.rstrip("\r\n") for text in lines] == ["a", "b", "c", "d"]
    assert lines.number == 4


def test_lines_flag_bytes_that_are_not_utf8() -> None:
    lines = Lines(io.BytesIO(b"ok\nbad\xff\n"))
    flags = []
    for _ in lines:
        flags.append(lines.bad)
        lines.bad = False
    assert flags == [False, True]


def test_csv_comments_are_kept_apart_and_blank_lines_skipped() -> None:
    records = CsvRecords(io.BytesIO(b"# a,b\n1,2\n\n#x\n3,4\n"))
    assert [(line, row) for line, row, _, _ in records] == [
        (2, ["1", "2"]),
        (5, ["3", "4"]),
    ]
    assert records.commented == ["a,b", "x"]


def test_csv_unterminated_quote_costs_its_line_only() -> None:
    data = b'1,2\n3,"4\n5,6\n7,8"\n9,10\n'
    assert _records(data) == [
        (1, ["1", "2"], False),
        (2, ['3,"4'], True),
        (3, ["5", "6"], False),
        (4, ["7", '8"'], False),  # a quote inside an unquoted field is data
        (5, ["9", "10"], False),
    ]


def test_csv_record_over_two_lines_is_damage_not_a_merge() -> None:
    assert _records(b'1,"a\nb",2\n3,4\n') == [
        (1, ['1,"a'], True),
        (2, ['b"', "2"], False),
        (3, ["3", "4"], False),
    ]


def test_csv_quote_open_at_the_end_of_the_file_is_damage() -> None:
    assert _records(b'1,2\n3,"4') == [
        (1, ["1", "2"], False),
        (2, ['3,"4'], True),
    ]


def test_csv_field_over_the_limit_is_damage() -> None:
    data = b"1,2\n3," + b"x" * 140000 + b"\n5,6\n"
    got = _records(data)
    assert [(line, damaged) for line, _, damaged in got] == [
        (1, False),
        (2, True),
        (3, False),
    ]
