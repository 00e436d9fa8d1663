"""A stream worker whose broker dies mid-stream stops, with an error, in time.

Workers run as real processes (`trustwatch stream`) against a broker on
loopback that is killed while they commit. A worker must neither hang nor
pass for one that read everything: it exits with status 4 once the broker
has not answered for the transaction timeout, and SIGTERM stops it within
seconds even while it waits on the dead broker.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer
from stream_rig import EVENTS, StreamRig

from trustwatch.cli.exitcodes import ExitCode

pytestmark = pytest.mark.slow

#: A transaction timeout short enough for a test, in milliseconds.
_SHORT_TRANSACTIONS = 8000


def _start(rig: StreamRig, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    # messages that are no events: each batch writes dead letters, so every
    # batch commits in a transaction, the waits these tests are about (a
    # batch that writes nothing commits with the consumer: ROADMAP)
    producer = Producer({"bootstrap.servers": rig.servers})
    for n in range(20_000):
        producer.produce(EVENTS, key=f"k{n % 40}", value=b"not an event %d" % n)
        producer.poll(0)
    assert producer.flush(60) == 0
    args = rig.cli_args(rig.tmp / "state.sqlite")
    # small batches: many transactions, so the broker dies during one
    args += ["--batch-size", "10", *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTWATCH_")}
    log_path = rig.tmp / "worker.log"
    with log_path.open("ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "trustwatch", "-v", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return worker, log_path


def _kill_broker_once_deciding(
    rig: StreamRig, worker: subprocess.Popen[bytes], log_path: Path
) -> float:
    """SIGKILL the broker once the worker has committed a few batches;
    return when (monotonic)."""
    deadline = time.monotonic() + 90
    while sum(rig.committed().values()) < 50:
        assert worker.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "the worker made no progress"
        time.sleep(0.05)
    pid = rig.broker.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return time.monotonic()


def _wait(worker: subprocess.Popen[bytes], log_path: Path, limit: float) -> int:
    try:
        return worker.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        raise AssertionError(
            f"the worker hung for {limit} s:\n{log_path.read_text()[-4000:]}"
        ) from None


def test_a_broker_gone_longer_than_the_transaction_timeout_ends_the_worker(
    stream_rig: StreamRig,
) -> None:
    worker, log_path = _start(
        stream_rig,
        "--exit-when-idle",
        "5",
        "--kafka-config",
        f"transaction.timeout.ms={_SHORT_TRANSACTIONS}",
    )
    killed = _kill_broker_once_deciding(stream_rig, worker, log_path)

    status = _wait(worker, log_path, 60)

    took = time.monotonic() - killed
    written = log_path.read_text()
    assert status == ExitCode.DEPENDENCY_FAILED, written[-4000:]
    # the limit is the transaction timeout, less what a wait begun before
    # the loss had already spent of it
    assert re.search(r"the broker at \S+ did not answer for \d+ s while", written)
    # the transaction timeout, then, where the client gave the commit up
    # first, the 30 s of asking again for the committed offsets; some slack
    assert took < _SHORT_TRANSACTIONS / 1000 + 30 + 15, f"exited {took:.1f} s after"


def test_sigterm_stops_a_worker_waiting_on_a_dead_broker(
    stream_rig: StreamRig,
) -> None:
    # the default transaction timeout (60 s): only the signal ends the wait
    worker, log_path = _start(stream_rig)
    _kill_broker_once_deciding(stream_rig, worker, log_path)
    time.sleep(2.0)  # the worker is waiting on the dead broker now
    worker.send_signal(signal.SIGTERM)
    signalled = time.monotonic()

    status = _wait(worker, log_path, 40)

    took = time.monotonic() - signalled
    written = log_path.read_text()
    assert "signal 15: finishing the batch" in written
    assert status == ExitCode.DEPENDENCY_FAILED, written[-4000:]
    assert "asked to stop while" in written
    assert took < 15, f"exited {took:.1f} s after SIGTERM"
