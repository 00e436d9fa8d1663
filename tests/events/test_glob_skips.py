"""Globs skip ``.`` and ``_`` entries below their fixed start, as folders do."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from trustwatch.events._inputs import resolve_inputs
from trustwatch.events.model import Logout
from trustwatch.events.readers import write_events_jsonl

EVENT = Logout(event_id="e1", ts=datetime(2024, 5, 1, tzinfo=UTC))


def _write(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_events_jsonl([EVENT], path)
    return path


def _files(pattern: str | Path) -> list[Path]:
    return [path for path, _ in resolve_inputs([pattern])]


def _spark_lake(root: Path) -> Path:
    """A lake with one committed part and one half-written Spark attempt."""
    part = _write(root / "day=1" / "part-0.jsonl")
    _write(root / "day=1" / "_temporary" / "0" / "_temporary" / "a_1" / "p.jsonl")
    _write(root / "_temporary" / "part-9.jsonl")
    _write(root / ".staging" / "part-8.jsonl")
    _write(root / "day=1" / "_part-7.jsonl")
    return part


def test_a_double_star_glob_reads_what_the_folder_walk_reads(tmp_path: Path) -> None:
    part = _spark_lake(tmp_path / "lake")
    assert _files(tmp_path / "lake") == [part]
    for pattern in ("**/*.jsonl", "**", "*/*", "**/part-*"):
        assert _files(str(tmp_path / "lake" / pattern)) == [part], pattern


def test_a_glob_reads_underscore_names_it_spells(tmp_path: Path) -> None:
    _spark_lake(tmp_path / "lake")
    temporary = tmp_path / "lake" / "_temporary" / "part-9.jsonl"
    assert _files(str(tmp_path / "lake" / "_temp*" / "*.jsonl")) == [temporary]
    staging = tmp_path / "lake" / ".staging" / "part-8.jsonl"
    assert _files(str(tmp_path / "lake" / ".*" / "*.jsonl")) == [staging]
    # a fixed start, and a file named exactly, are read whatever their names
    assert _files(str(tmp_path / "lake" / "_temporary" / "*.jsonl")) == [temporary]
    assert _files(temporary) == [temporary]
