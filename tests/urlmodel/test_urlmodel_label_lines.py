"""Labelled URL files break lines at ``\\n`` only, as JSON Lines and CSV do."""

from __future__ import annotations

import json

import pytest

from trustwatch.errors import ConfigError
from trustwatch.urlmodel.corpus import read_labelled_file

#: Breaks str.splitlines() cuts at; JSON escapes the control characters
#: among them, so only the others reach a JSON Lines file raw.
_BREAKS = ["\u2028", "\u2029", "\x85", "\x1c", "\x0b", "\x0c"]
_RAW_IN_JSON = ["\u2028", "\u2029", "\x85"]


@pytest.mark.parametrize("separator", _RAW_IN_JSON)
def test_a_json_lines_string_may_hold_any_unicode_line_break(
    tmp_path, separator
) -> None:
    rows = [
        {"url": "https://a.example/", "label": 0},
        {"url": f"http://ex.example/a{separator}b", "label": 1},
        {"url": "https://c.example/", "label": 0},
    ]
    path = tmp_path / "mine.jsonl"
    path.write_text(
        "\r\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\r\n",
        encoding="utf-8",
    )
    read = read_labelled_file(path)
    assert [(row.url, row.label) for row in read] == [
        ("https://a.example/", 0),
        (f"http://ex.example/a{separator}b", 1),
        ("https://c.example/", 0),
    ]


@pytest.mark.parametrize("separator", _BREAKS)
def test_a_csv_field_may_hold_any_unicode_line_break(tmp_path, separator) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(
        "url,label,time\r\n"
        "https://a.example/,0,\r\n"
        f"http://ex.example/a{separator}b,1,\r\n"
        "https://c.example/,0,\r\n",
        encoding="utf-8",
    )
    read = read_labelled_file(path)
    assert [row.url for row in read][1] == f"http://ex.example/a{separator}b"
    assert len(read) == 3


def test_a_bad_csv_row_is_named_by_its_own_line(tmp_path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(
        "url,label\n"
        "https://a.example/,0\n"
        '"https://b.example/\nmore",1\n'
        "\n"
        "https://c.example/,maybe\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"mine\.csv:6: label 'maybe'"):
        read_labelled_file(path)
