"""The content store: blobs by SHA-256, read only, bounded, and path-safe."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from trustwatch.content.store import (
    Blob,
    ContentStore,
    extract_blob,
    read_bounded,
    valid_sha256,
)
from trustwatch.errors import ConfigError, StorageError

from .builders import pdf_with_link


def put(root: Path, data: bytes, *, fan_out: bool = False) -> str:
    """Store ``data`` under its SHA-256, flat or in ab/cd/ folders."""
    digest = hashlib.sha256(data).hexdigest()
    folder = root / digest[:2] / digest[2:4] if fan_out else root
    folder.mkdir(parents=True, exist_ok=True)
    (folder / digest).write_bytes(data)
    return digest


def test_flat_and_fanned_out_blobs_are_both_read(tmp_path: Path) -> None:
    flat = put(tmp_path, b"flat blob")
    fanned = put(tmp_path, b"fanned blob", fan_out=True)
    store = ContentStore(tmp_path)
    assert store.read(flat) == Blob(b"flat blob", 9)
    assert store.read(fanned) == Blob(b"fanned blob", 11)
    assert store.read(fanned.upper()) == Blob(b"fanned blob", 11)
    assert fanned in store
    assert store.read("0" * 64) is None


@pytest.mark.parametrize(
    "name",
    [
        "../outside",
        "../../etc/passwd",
        "/etc/passwd",
        "ab/../../" + "0" * 55,
        "0" * 63,
        "0" * 65,
        "0" * 63 + "g",
        "0" * 64 + "\n",
        "0" * 62 + "/.",
        "",
        "..",
    ],
)
def test_names_other_than_64_hex_digits_are_refused(tmp_path: Path, name: str) -> None:
    root = tmp_path / "store"
    root.mkdir()
    (root / ("0" * 63)).write_bytes(b"a naive store would return this")
    (tmp_path / "outside").write_bytes(b"and this")
    store = ContentStore(root)
    assert valid_sha256(name) is None
    assert store.path_of(name) is None
    assert store.read(name) is None


def test_a_link_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"outside")
    digest = hashlib.sha256(b"outside").hexdigest()
    (root / digest).symlink_to(secret)
    inside = put(root, b"inside")
    (root / ("f" * 64)).symlink_to(root / inside)
    store = ContentStore(root)
    assert store.read(digest) is None
    # a link inside the folder is followed, but the content must match its name
    with pytest.raises(StorageError, match="does not hash to its name"):
        store.read("f" * 64)
    linked = hashlib.sha256(b"linked").hexdigest()
    (tmp_path / "elsewhere").mkdir()
    (root / "sub").mkdir()
    (root / "sub" / "blob").write_bytes(b"linked")
    (root / linked).symlink_to(root / "sub" / "blob")
    assert store.read(linked) == Blob(b"linked", 6)


def test_content_that_does_not_match_its_name_is_refused(tmp_path: Path) -> None:
    name = hashlib.sha256(b"what the upload was").hexdigest()
    (tmp_path / name).write_bytes(b"something else planted under its name")
    with pytest.raises(StorageError, match="does not hash to its name"):
        ContentStore(tmp_path).read(name)


def test_a_fifo_is_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / ("a" * 64)
    os.mkfifo(fifo)
    assert ContentStore(tmp_path).read("a" * 64) is None
    with pytest.raises(StorageError, match="not a regular file"):
        read_bounded(fifo)


def test_reads_stop_one_byte_past_the_limit(tmp_path: Path) -> None:
    digest = put(tmp_path, b"<html>" + b"x" * 94)
    blob = ContentStore(tmp_path, max_bytes=10).read(digest)
    assert blob == Blob(b"<html>xxxxx", 100)
    assert not blob.complete
    extraction = extract_blob(blob, max_bytes=10)
    assert extraction.truncated
    assert extraction.errors == ("too_large: 100 bytes; the limit is 10",)


def test_an_oversized_pdf_is_not_parsed(tmp_path: Path) -> None:
    data = pdf_with_link("https://a.example/doc")
    blob = ContentStore(tmp_path, max_bytes=100).read(put(tmp_path, data))
    assert blob is not None
    extraction = extract_blob(blob, max_bytes=1000)
    assert (extraction.kind, extraction.urls) == ("pdf", ())
    assert extraction.errors == (f"too_large: {len(data)} bytes; the limit is 100",)


def test_the_store_writes_nothing(tmp_path: Path) -> None:
    digest = put(tmp_path, b"<html>", fan_out=True)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    store = ContentStore(tmp_path)
    store.read(digest)
    store.read("1" * 64)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_missing_folder_or_negative_limit_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a folder"):
        ContentStore(tmp_path / "nope")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ConfigError, match="not a folder"):
        ContentStore(tmp_path / "file")
    with pytest.raises(ConfigError, match="max_bytes=-1"):
        ContentStore(tmp_path, max_bytes=-1)


def test_an_unreadable_path_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot open"):
        read_bounded(tmp_path / "missing")
