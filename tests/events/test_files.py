"""Tests for trustwatch.events._files."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest

from trustwatch.events._files import UnreadableError, iter_line_blocks


def _lines(path: Path, limit: int, block_size: int = 1 << 16) -> list[bytes]:
    return [
        line
        for block in iter_line_blocks(path, limit, block_size=block_size)
        for line in block
    ]


TEXT = b"\xef\xbb\xbffirst\nsecond\r\n\n" + b"x" * 50 + b"\nlast"


@pytest.mark.parametrize("block_size", [1, 2, 3, 7, 64, 1 << 20])
def test_lines_are_split_the_same_whatever_the_block_size(
    tmp_path: Path, block_size: int
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(TEXT)
    lines = _lines(path, 20, block_size=block_size)
    assert lines == [b"first", b"second\r", b"", b"x" * 22, b"last"]


def test_a_final_newline_adds_no_empty_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"a\nb\n")
    assert _lines(path, 10) == [b"a", b"b"]


def test_an_overlong_last_line_is_cut(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"a\n" + b"y" * 100)
    assert _lines(path, 5, block_size=8) == [b"a", b"y" * 7]


def test_gzip_is_read_transparently(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(gzip.compress(b"a\nb"))
    assert _lines(path, 10) == [b"a", b"b"]


def test_a_missing_file_is_unreadable_at_file_level(tmp_path: Path) -> None:
    with pytest.raises(UnreadableError) as info:
        _lines(tmp_path / "nope.jsonl", 10)
    assert info.value.location == "file"


def test_a_corrupt_gzip_stream_says_where_it_stopped(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(gzip.compress(b"line\n" * 100_000)[:200])
    with pytest.raises(UnreadableError) as info:
        _lines(path, 10)
    assert info.value.location.startswith("line ")


@pytest.mark.parametrize("kept", [3000, 0.5, 0.9])
def test_every_whole_line_before_a_gzip_cut_is_read(tmp_path: Path, kept) -> None:
    text = b"".join(b"line %d of the file\n" % i for i in range(200_000))
    whole = gzip.compress(text)
    cut = whole[: kept if isinstance(kept, int) else int(len(whole) * kept)]
    decompressable = zlib.decompressobj(31).decompress(cut)
    expected = decompressable.split(b"\n")[:-1]  # the whole lines only
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(cut)
    read: list[bytes] = []
    with pytest.raises(UnreadableError) as info:
        for block in iter_line_blocks(path, 100):
            read.extend(block)
    assert read == expected
    assert info.value.location == f"line {len(expected) + 1}"


def test_a_bom_alone_or_in_the_middle(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\xef\xbb\xbf")
    assert _lines(path, 10) == []
    path.write_bytes(b"a\n\xef\xbb\xbfb")
    assert _lines(path, 10) == [b"a", b"\xef\xbb\xbfb"]
