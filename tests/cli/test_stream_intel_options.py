"""`trustwatch stream` takes the intel database, allow-lists, YARA and fuzzy intel.

The worker is replaced by one that only builds its per-partition pipelines,
so these tests need no Kafka.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import pytest
from tests.cli.stream_args import stream_args

from trustwatch.cli.exitcodes import ExitCode
from trustwatch.cli.main import main
from trustwatch.runtime.pipeline import Pipeline
from trustwatch.runtime.stream.worker import WorkerSummary
from trustwatch.storage.sqlite import SqliteStore


class _PipelineOnlyWorker:
    """Stands in for the stream worker: builds one pipeline per partition."""

    built: ClassVar[list[Pipeline]] = []

    def __init__(
        self,
        settings: object,
        build_pipeline: Callable[[], Pipeline],
        *a: object,
        **k: object,
    ) -> None:
        self.build_pipeline = build_pipeline

    def run(self, idle_timeout: float | None = None) -> WorkerSummary:
        for _partition in range(2):
            _PipelineOnlyWorker.built.append(self.build_pipeline())
        return WorkerSummary()

    def stop(self) -> None:
        """Nothing runs, so nothing stops."""


@pytest.fixture
def built_pipelines(monkeypatch: pytest.MonkeyPatch) -> list[Pipeline]:
    import trustwatch.runtime.stream as stream_runtime

    _PipelineOnlyWorker.built = []
    monkeypatch.setattr(stream_runtime, "StreamWorker", _PipelineOnlyWorker)
    return _PipelineOnlyWorker.built


@pytest.fixture
def intel_db(tmp_path: Path) -> Path:
    (tmp_path / "team.txt").write_text("evil[.]example\nfine.example\n")
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(
        '[[feeds]]\nname = "team"\npath = "team.txt"\nthreat = "phishing"\n'
    )
    db = tmp_path / "intel.sqlite"
    assert main(["intel", "sync", "--feeds", str(feeds), "--db", str(db)]) == 0
    return db


@pytest.fixture
def allowlist(tmp_path: Path) -> Path:
    path = tmp_path / "list.json"
    path.write_text(
        json.dumps({"name": "known good", "type": "hostname", "list": ["fine.example"]})
    )
    return path


def _intel_hosts(pipeline: Pipeline) -> set[str]:
    stores = [d.store for d in pipeline.detectors if hasattr(d, "store")]
    assert stores, "no detector of the pipeline holds the intel store"
    return {
        host
        for host in ("evil.example", "fine.example")
        if any(store.match_host(host) for store in stores)
    }


def test_without_allowlist_the_whole_intel_db_is_matched(
    tmp_path: Path, built_pipelines: list[Pipeline], intel_db: Path
) -> None:
    assert main(stream_args(tmp_path, "--intel-db", str(intel_db))) == ExitCode.OK
    assert [_intel_hosts(p) for p in built_pipelines] == [
        {"evil.example", "fine.example"}
    ] * 2


@pytest.mark.parametrize("given_by", ["options", "config", "environment"])
def test_intel_db_and_allowlist_reach_every_partition_pipeline(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    built_pipelines: list[Pipeline],
    intel_db: Path,
    allowlist: Path,
    given_by: str,
) -> None:
    more: list[str] = []
    if given_by == "options":
        more = ["--intel-db", str(intel_db), "--allowlist", str(allowlist)]
    elif given_by == "config":
        config = tmp_path / "stream.toml"
        config.write_text(f'intel-db = "{intel_db}"\nallowlist = ["{allowlist}"]\n')
        more = ["--config", str(config)]
    else:
        monkeypatch.setenv("TRUSTWATCH_INTEL_DB", str(intel_db))
        monkeypatch.setenv("TRUSTWATCH_ALLOWLIST", str(allowlist))
    assert main(stream_args(tmp_path, *more)) == ExitCode.OK
    assert len(built_pipelines) == 2
    for pipeline in built_pipelines:
        assert _intel_hosts(pipeline) == {"evil.example"}


def test_yara_and_fuzzy_intel_add_the_malicious_file_detector(
    tmp_path: Path, built_pipelines: list[Pipeline]
) -> None:
    rules = tmp_path / "rules.yar"
    rules.write_text(
        'rule never_matches { strings: $a = "zq9x7-none" condition: $a }\n'
    )
    fuzzy = tmp_path / "fuzzy.txt"
    fuzzy.write_text("")
    content = tmp_path / "content"
    content.mkdir()
    args = ["--content-dir", str(content), "--yara", str(rules)]
    assert main(stream_args(tmp_path, *args, "--fuzzy-intel", str(fuzzy))) == 0
    names = [[d.name for d in pipeline.detectors] for pipeline in built_pipelines]
    assert len(names) == 2
    for running in names:
        assert "malicious_file" in running
        assert running.index("malicious_file") < running.index("content_spread")
    scanners = [
        d for p in built_pipelines for d in p.detectors if d.name == "malicious_file"
    ]
    # each partition has its own detector, sharing the rules loaded once
    assert len(scanners) == 2 and scanners[0] is not scanners[1]
    assert scanners[0].rules is scanners[1].rules  # type: ignore[attr-defined]
    assert scanners[0].rules is not None  # type: ignore[attr-defined]


@pytest.mark.parametrize("option", ["--yara", "--fuzzy-intel"])
def test_scanning_without_content_dir_is_refused_with_a_hint(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    built_pipelines: list[Pipeline],
    option: str,
) -> None:
    scan_input = tmp_path / "scan-input.txt"
    scan_input.write_text("")
    status = main(stream_args(tmp_path, option, str(scan_input)))
    assert status == ExitCode.BAD_CONFIG
    err = capsys.readouterr().err
    assert "hint: add --content-dir" in err
    assert built_pipelines == []


def test_allowlist_without_any_intel_is_refused(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    built_pipelines: list[Pipeline],
    allowlist: Path,
) -> None:
    status = main(stream_args(tmp_path, "--allowlist", str(allowlist)))
    assert status == ExitCode.BAD_CONFIG
    assert "--allowlist needs --intel or --intel-db" in capsys.readouterr().err
    assert built_pipelines == []


def _left_out_args(tmp_path: Path, allowlist: Path, *lines: str) -> list[str]:
    """--intel a feed of ``evil[.]example``, ``fine.example`` (allow-listed)
    and ``lines``, with --allowlist."""
    feed = tmp_path / "feed.txt"
    feed.write_text("\n".join(["evil[.]example", "fine.example", *lines]) + "\n")
    return ["--intel", str(feed), "--allowlist", str(allowlist)]


def test_intel_left_out_is_kept_as_dead_letters_in_the_decision_store(
    tmp_path: Path,
    built_pipelines: list[Pipeline],
    allowlist: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = tmp_path / "decisions.sqlite"
    args = [*_left_out_args(tmp_path, allowlist, "http://[::1"), "--decision-store"]

    for _start in range(2):  # a second worker start stores nothing twice
        assert main(stream_args(tmp_path, *args, str(store))) == ExitCode.OK
    with SqliteStore(store) as stored:
        reasons = sorted(d.reason for d in stored.dead_letters())

    assert reasons == ["allow_listed", "invalid_value"]
    assert "2 intel records left out" in caplog.text


def test_intel_left_out_without_a_decision_store_is_named_in_a_warning(
    tmp_path: Path,
    built_pipelines: list[Pipeline],
    allowlist: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    args = _left_out_args(tmp_path, allowlist)

    assert main(stream_args(tmp_path, *args)) == ExitCode.OK

    assert "1 intel records left out (allow_listed 1)" in caplog.text
    assert "give --decision-store" in caplog.text
