"""Serialising state in a forked child: what comes back, and how it fails."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from trustwatch.runtime.stream.snapshots import (
    ForkedSnapshot,
    SnapshotFailed,
    can_fork,
    rest,
)

pytestmark = pytest.mark.skipif(not can_fork(), reason="this platform cannot fork")


def _child_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_child_sees_the_state_as_it_was_at_the_fork() -> None:
    state = {"count": 1}

    def serialise() -> bytes:
        time.sleep(0.2)  # the parent changes the state meanwhile
        return repr(state).encode()

    snapshot = ForkedSnapshot(serialise)
    state["count"] = 2
    assert snapshot.wait(30) == b"{'count': 1}"
    assert state["count"] == 2
    assert _child_gone(snapshot.pid)


def test_a_state_larger_than_a_pipe_buffer_comes_back_whole() -> None:
    blob = os.urandom(3_000_000)
    snapshot = ForkedSnapshot(lambda: blob)
    found = None
    deadline = time.monotonic() + 30
    while found is None and time.monotonic() < deadline:
        found = snapshot.poll()  # never blocks
        time.sleep(0.001)
    assert found == blob
    assert snapshot.poll() == blob  # the result stays


def test_poll_returns_none_while_the_child_works() -> None:
    snapshot = ForkedSnapshot(lambda: time.sleep(2.0) or b"done")
    assert snapshot.poll() is None
    assert snapshot.wait(30) == b"done"


def test_a_failing_child_is_reported() -> None:
    def serialise() -> bytes:
        raise ValueError("cannot serialise")

    snapshot = ForkedSnapshot(serialise)
    with pytest.raises(SnapshotFailed, match="exit code 1"):
        snapshot.wait(30)


def test_a_child_past_its_time_is_killed() -> None:
    snapshot = ForkedSnapshot(lambda: time.sleep(60) or b"late")
    with pytest.raises(SnapshotFailed, match=r"more than 0\.2 s"):
        snapshot.wait(0.2)
    assert _child_gone(snapshot.pid)


def test_cancel_kills_the_child_and_drops_its_bytes() -> None:
    snapshot = ForkedSnapshot(lambda: time.sleep(60) or b"late")
    snapshot.cancel()
    assert _child_gone(snapshot.pid)
    with pytest.raises(SnapshotFailed, match="cancelled"):
        snapshot.poll()
    snapshot.cancel()  # a second cancel does nothing


def test_a_child_past_its_deadline_is_killed_when_polled() -> None:
    snapshot = ForkedSnapshot(lambda: time.sleep(60) or b"late", timeout=2.0)
    assert snapshot.poll() is None
    time.sleep(2.1)
    with pytest.raises(SnapshotFailed, match="deadline"):
        snapshot.poll()
    assert _child_gone(snapshot.pid)


def test_the_child_keeps_none_of_the_parents_descriptors() -> None:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    fd = listening.fileno()

    def serialise() -> bytes:
        try:
            os.fstat(fd)
        except OSError:
            return b"closed"
        return b"open"

    try:
        assert ForkedSnapshot(serialise).wait(30) == b"closed"
        os.fstat(fd)  # the parent's own stays open
    finally:
        listening.close()


def test_the_child_ignores_the_stop_signals_its_parent_handles() -> None:
    snapshot = ForkedSnapshot(lambda: time.sleep(0.5) or b"saved")
    time.sleep(0.2)
    os.kill(snapshot.pid, signal.SIGTERM)
    os.kill(snapshot.pid, signal.SIGINT)
    assert snapshot.wait(30) == b"saved"


def test_waiting_without_a_timeout_still_ends_at_the_childs_deadline() -> None:
    snapshot = ForkedSnapshot(lambda: time.sleep(60) or b"late", timeout=0.3)
    with pytest.raises(SnapshotFailed, match="deadline"):
        snapshot.wait()
    assert _child_gone(snapshot.pid)


def test_a_resting_child_takes_its_time_while_only_polled() -> None:
    began = time.monotonic()
    snapshot = ForkedSnapshot(lambda: rest(0.6) or b"rested")
    found = None
    while found is None and time.monotonic() - began < 30:
        found = snapshot.poll()
        time.sleep(0.02)
    assert found == b"rested"
    assert time.monotonic() - began >= 0.6


def test_waiting_for_a_child_ends_its_rests() -> None:
    snapshot = ForkedSnapshot(lambda: rest(60) or rest(60) or b"hurried")
    began = time.monotonic()
    assert snapshot.wait(30) == b"hurried"
    assert time.monotonic() - began < 10


def test_rest_outside_a_child_returns_at_once() -> None:
    began = time.monotonic()
    rest(5)
    assert time.monotonic() - began < 1


@pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="no /proc/self/fd to count descriptors"
)
def test_a_finished_child_leaves_no_descriptor_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every pipe a snapshot made is closed once it is done.

    The pipes are told apart by inode, not by counting descriptors: other
    threads of the process open and close descriptors of their own.
    """
    made: list[int] = []
    pipe = os.pipe

    def recorded_pipe() -> tuple[int, int]:
        ends = pipe()
        made.append(os.fstat(ends[0]).st_ino)
        return ends

    monkeypatch.setattr(os, "pipe", recorded_pipe)
    for _ in range(5):
        snapshot = ForkedSnapshot(lambda: b"done")
        assert snapshot.wait(30) == b"done"
    found = None
    polled = ForkedSnapshot(lambda: b"done")
    while found is None:
        found = polled.poll()
    monkeypatch.undo()
    assert len(made) == 12  # two pipes a snapshot
    still_open = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            still_open.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue  # closed meanwhile
    assert not {f"pipe:[{inode}]" for inode in made} & still_open


def test_rest_takes_a_descriptor_past_1024(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    from trustwatch.runtime.stream import snapshots

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if max(soft, hard if hard != resource.RLIM_INFINITY else 4096) <= 1500:
        pytest.skip("the descriptor limit is too low for a descriptor past 1024")
    if soft <= 1500:
        resource.setrlimit(resource.RLIMIT_NOFILE, (2048, hard))
    read_end, write_end = os.pipe()
    high = os.dup2(read_end, 1500)
    try:
        monkeypatch.setattr(snapshots, "_hurry", high)
        began = time.monotonic()
        rest(0.2)  # select() would refuse this descriptor
        assert time.monotonic() - began >= 0.2
        os.write(write_end, b"!")
        began = time.monotonic()
        rest(30)
        assert time.monotonic() - began < 5
    finally:
        for fd in (read_end, write_end, high):
            os.close(fd)
        if soft <= 1500:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_wait_hurries_the_child_even_when_another_process_holds_the_pipe() -> None:
    snapshot = ForkedSnapshot(lambda: rest(60) or b"hurried")
    holder = os.fork()
    if holder == 0:  # pragma: no cover - a plain child holding every descriptor
        time.sleep(20)
        os._exit(0)
    try:
        began = time.monotonic()
        assert snapshot.wait(30) == b"hurried"
        assert time.monotonic() - began < 10
    finally:
        os.kill(holder, signal.SIGKILL)
        os.waitpid(holder, 0)
