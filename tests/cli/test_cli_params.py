"""Shared option checks: finite numbers, and output folders that never hang."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest

from trustwatch.cli.params import FiniteFloatRange, output_folder, write_output_files
from trustwatch.errors import ConfigError


@pytest.mark.parametrize("value", ["nan", "-nan", "inf", "-inf"])
def test_a_number_that_is_not_finite_is_refused(value: str) -> None:
    with pytest.raises(click.BadParameter, match=r"finite|range"):
        FiniteFloatRange(-1e9).convert(value, None, None)


def test_a_finite_number_in_range_passes_and_out_of_range_still_fails() -> None:
    assert FiniteFloatRange(0.0, 10.0).convert("2.5", None, None) == 2.5
    with pytest.raises(click.BadParameter):
        FiniteFloatRange(0.0, 10.0).convert("11", None, None)


def test_the_folder_is_created_and_the_files_written(tmp_path: Path) -> None:
    out = output_folder(str(tmp_path / "a" / "b"), ["r.md"])
    assert out.is_dir()
    (out / "r.md").write_text("old", encoding="utf-8")
    write_output_files(out, {"r.md": "new ✓\n", "r.json": "{}\n"})
    assert (out / "r.md").read_text(encoding="utf-8") == "new ✓\n"
    assert (out / "r.json").read_text(encoding="utf-8") == "{}\n"
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_folder_name_is_refused(blank: str) -> None:
    with pytest.raises(ConfigError, match="--out is empty"):
        output_folder(blank, [])


def test_a_file_where_the_folder_goes_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not a folder"):
        output_folder(str(plain), [])
    with pytest.raises(ConfigError, match="cannot write to --out"):
        output_folder(str(plain / "below"), [])


def test_a_fifo_planted_after_the_check_fails_instead_of_blocking(
    tmp_path: Path,
) -> None:
    out = output_folder(str(tmp_path), ["r.md"])
    os.mkfifo(out / "r.md")  # no reader: a plain open for writing would block
    with pytest.raises(ConfigError, match=r"cannot write .*r\.md: it is a FIFO"):
        write_output_files(out, {"r.md": "text"})


def test_a_link_planted_after_the_check_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep", encoding="utf-8")
    out = output_folder(str(tmp_path / "out"), ["r.md"])
    (out / "r.md").symlink_to(victim)
    with pytest.raises(ConfigError, match="symbolic link"):
        write_output_files(out, {"r.md": "text"})
    assert victim.read_text(encoding="utf-8") == "keep"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_folder_that_takes_no_file_is_refused_before_the_work(
    tmp_path: Path,
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="cannot write to --out"):
            output_folder(str(locked), ["r.md"])
    finally:
        locked.chmod(0o755)
