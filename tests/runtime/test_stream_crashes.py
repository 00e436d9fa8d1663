"""Stream workers killed, stopped and rebalanced mid-stream lose and repeat nothing.

Workers run as real processes (`trustwatch stream`) against a broker on
loopback. After the stream is through, the verdict and action topics (read
committed) and the decision store must hold exactly the decisions a fresh
pipeline per partition makes over that partition's events: none missing,
none twice.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from stream_rig import EVENTS, PARTITIONS, StreamRig, build_pipeline, write_events

from trustwatch.cli.main import main
from trustwatch.runtime.stream import BATCH_HEADER, ID_HEADER
from trustwatch.storage.sqlite import SqliteStore
from trustwatch.testing.kafka import TopicRecord, expected_decisions, read_topic

pytestmark = pytest.mark.slow

GROUP = "tw-test"


def _publish(rig: StreamRig, path: Path) -> None:
    status = main(
        ["publish", str(path), "--topic", EVENTS, "--bootstrap-servers", rig.servers]
    )
    assert status == 0


def _parts(path: Path, size: int) -> list[Path]:
    """Split an events file into files of ``size`` lines, in order."""
    lines = path.read_bytes().splitlines(keepends=True)
    parts = []
    for number, start in enumerate(range(0, len(lines), size)):
        part = path.with_name(f"{path.stem}-{number:03d}.jsonl")
        part.write_bytes(b"".join(lines[start : start + size]))
        parts.append(part)
    return parts


def _publish_part(rig: StreamRig, path: Path) -> int:
    """Publish one part; return how many events it held."""
    _publish(rig, path)
    return len(path.read_bytes().splitlines())


def _start(rig: StreamRig, worker_id: str, *extra: str) -> subprocess.Popen[bytes]:
    state = rig.tmp / "state.sqlite"
    args = rig.cli_args(state, worker_id)
    args += ["--decision-store", str(rig.tmp / "decisions.sqlite"), *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTWATCH_")}
    with (rig.tmp / f"{worker_id}.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "trustwatch", "-v", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )


def _wait_for_progress(rig: StreamRig, beyond: int, limit: float = 90.0) -> int:
    """Wait until the group has committed more than ``beyond`` messages."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        done = sum(rig.committed().values())
        if done > beyond:
            return done
        time.sleep(0.1)
    raise AssertionError(f"no progress beyond {beyond} messages in {limit} s")


def _finish(rig: StreamRig, worker_id: str, *extra: str) -> None:
    worker = _start(rig, worker_id, "--exit-when-idle", "3", *extra)
    assert worker.wait(timeout=300) == 0, (rig.tmp / f"{worker_id}.log").read_text()


def _assert_exactly_expected(
    rig: StreamRig, total: int, *, killed: bool = False
) -> None:
    """Every expected decision once in each output topic and in the store.

    With ``killed``: the test broker (tansu) does not hide the records of a
    transaction that a killed worker left open from ``read_committed``
    readers, so a copy that comes from the last batch of a worker session
    (``trustwatch-batch`` header) is not counted as a repeat; every other
    copy still must be the only one, and copies must be identical.
    """
    assert sum(rig.committed().values()) == total
    expected = expected_decisions(read_topic(rig.servers, EVENTS), build_pipeline)
    assert expected.events == total
    for topic, ids in (
        ("trustwatch.verdicts", expected.verdict_ids),
        ("trustwatch.actions", expected.action_ids),
    ):
        records = read_topic(rig.servers, topic)
        found = Counter(r.headers[ID_HEADER].decode() for r in records)
        assert set(found) == ids, f"{topic}: missing or extra records"
        settled = Counter(
            r.headers[ID_HEADER].decode()
            for r in records
            if not (killed and r.headers[BATCH_HEADER] in _last_batches(records))
        )
        assert [i for i, n in settled.items() if n > 1] == [], f"{topic}: repeats"
        bodies: dict[str, set[bytes]] = {}
        for r in records:
            bodies.setdefault(r.headers[ID_HEADER].decode(), set()).add(r.value)
        if topic == "trustwatch.verdicts":
            assert max(len(b) for b in bodies.values()) == 1, "copies differ"
    with SqliteStore(rig.tmp / "decisions.sqlite", readonly=True) as store:
        assert {v.verdict_id for v in store.iter_verdicts()} == expected.verdict_ids
        assert {a.action_id for a in store.iter_actions()} == expected.action_ids


def _last_batches(records: list[TopicRecord]) -> set[bytes]:
    """The last batch header of each worker session among ``records``."""
    last: dict[str, tuple[int, bytes]] = {}
    for r in records:
        header = r.headers[BATCH_HEADER]
        worker, session, number = header.decode().split("/")
        key = f"{worker}/{session}"
        if key not in last or int(number) > last[key][0]:
            last[key] = (int(number), header)
    return {header for _, header in last.values()}


def test_sigkill_at_random_points_loses_and_repeats_nothing(
    stream_rig: StreamRig,
) -> None:
    total = write_events(stream_rig.tmp / "events.jsonl", accounts=6000, seed=21)
    # the replay is published a part at a time, as the worker nears the end
    # of what it has, so that however fast this machine decides, the stream
    # outlasts the kills; parts in file order make the same topic as one
    parts = _parts(stream_rig.tmp / "events.jsonl", 3000)
    published = 0
    rng = random.Random(2026)
    kills: list[int] = []
    done = 0
    while len(kills) < 12:
        if done >= published - 500:
            assert parts, f"the replay ran out after {len(kills)} kills"
            published += _publish_part(stream_rig, parts.pop(0))
        # small batches: more transactions, so more kills land inside one
        worker = _start(stream_rig, "w1", "--batch-size", "40")
        try:
            done = _wait_for_progress(stream_rig, done)
            time.sleep(rng.uniform(0.0, 0.4))
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
        done = sum(stream_rig.committed().values())
        kills.append(done)
    while parts:
        published += _publish_part(stream_rig, parts.pop(0))
    assert published == total
    _finish(stream_rig, "w1")

    assert len(kills) >= 10 and kills == sorted(kills)
    _assert_exactly_expected(stream_rig, total, killed=True)


def test_two_workers_split_partitions_and_a_rebalance_loses_nothing(
    stream_rig: StreamRig,
) -> None:
    total = write_events(stream_rig.tmp / "events.jsonl", accounts=4000, seed=22)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")
    # the first worker commits in tiny batches, so that it is still busy
    # when the second has started and joined
    first = _start(stream_rig, "a", "--batch-size", "10")
    second: subprocess.Popen[bytes] | None = None
    try:
        done = _wait_for_progress(stream_rig, 0)
        second = _start(stream_rig, "b", "--batch-size", "40", "--exit-when-idle", "3")
        _wait_for_log(stream_rig.tmp / "b.log", r"partitions assigned: \[\d")
        done = _wait_for_progress(stream_rig, done)
        first.send_signal(signal.SIGTERM)  # b takes every partition over
        assert first.wait(timeout=60) == 0
        at_handover = sum(stream_rig.committed().values())
        assert second.wait(timeout=300) == 0
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.kill()
                worker.wait()

    assert at_handover < total, "the first worker left too late to tell"
    shares = _assigned(stream_rig.tmp / "a.log") + _assigned(stream_rig.tmp / "b.log")
    assert [s for s in shares if 0 < len(s) < PARTITIONS], f"never split: {shares}"
    assert sorted(_assigned(stream_rig.tmp / "b.log")[-1]) == list(range(PARTITIONS))
    _assert_exactly_expected(stream_rig, total)


def test_sigterm_commits_checkpoints_and_leaves(stream_rig: StreamRig) -> None:
    write_events(stream_rig.tmp / "events.jsonl", accounts=2500, seed=23)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")
    worker = _start(stream_rig, "w1", "--checkpoint-interval", "3600")
    try:
        _wait_for_progress(stream_rig, 0)
    finally:
        worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0
    committed = stream_rig.committed()
    with SqliteStore(stream_rig.tmp / "state.sqlite") as state:
        saved = {n: state.load_checkpoint(GROUP, n) for n in range(PARTITIONS)}
    for number, checkpoint in saved.items():
        assert checkpoint is not None, f"partition {number} was not checkpointed"
        assert checkpoint.offsets.get(EVENTS, 0) == committed[number]
    log = (stream_rig.tmp / "w1.log").read_text()
    assert "finishing the batch, then stopping" in log


def test_a_static_member_killed_and_restarted_loses_and_repeats_nothing(
    stream_rig: StreamRig,
) -> None:
    total = write_events(stream_rig.tmp / "events.jsonl", accounts=2500, seed=29)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")
    worker = _start(stream_rig, "w1", "--static-membership")
    try:
        _wait_for_progress(stream_rig, 0)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=60)
    _finish(stream_rig, "w1", "--static-membership")
    _assert_exactly_expected(stream_rig, total, killed=True)


def _wait_for_log(path: Path, pattern: str, limit: float = 90.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if path.exists() and re.search(pattern, path.read_text()):
            return
        time.sleep(0.1)
    raise AssertionError(f"{path.name} never logged {pattern!r}")


def _assigned(path: Path) -> list[list[int]]:
    """Every assignment a worker logged, as partition lists."""
    found = re.findall(r"partitions assigned: \[([\d, ]*)\]", path.read_text())
    return [[int(n) for n in part.split(",") if n.strip()] for part in found]


def test_a_second_worker_with_the_same_id_fences_the_first(
    stream_rig: StreamRig,
) -> None:
    write_events(stream_rig.tmp / "events.jsonl", accounts=6000, seed=24)
    _publish(stream_rig, stream_rig.tmp / "events.jsonl")
    slow = ("--batch-size", "40")
    first = _start(stream_rig, "same", *slow)
    second: subprocess.Popen[bytes] | None = None
    try:
        _wait_for_progress(stream_rig, 0)
        second = _start(stream_rig, "same", *slow)
        _wait_for_log(stream_rig.tmp / "same.log", r"(?s)starting on.*starting on")
        # fresh events until the first worker opens a transaction and is fenced
        for seed in range(25, 45):
            write_events(stream_rig.tmp / "more.jsonl", accounts=300, seed=seed)
            _publish(stream_rig, stream_rig.tmp / "more.jsonl")
            try:
                status = first.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        else:
            # the test broker may drop the connection of a commit in flight
            # instead of answering that the producer is fenced: the worker
            # then gives up only after its commit retries (5 x 30 s)
            try:
                status = first.wait(timeout=200)
            except subprocess.TimeoutExpired:
                raise AssertionError("the first worker was never fenced") from None
        log = (stream_rig.tmp / "same.log").read_text()
        assert status == 4, log[-3000:]
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.kill()
                worker.wait()
    assert "another worker may run with the same --worker-id" in log
    assert "Traceback" not in log
