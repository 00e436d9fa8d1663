"""One ``trustwatch run`` at a time per store: :func:`run_lock`."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from trustwatch.errors import StorageError
from trustwatch.storage.sqlite import run_lock

# another process that takes the lock the way a run does, then waits
_HOLDER = """
import fcntl, sys
handle = open(sys.argv[1], "a+b")
fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
print("held", flush=True)
sys.stdin.read()
"""


def test_a_second_holder_is_refused_at_once_and_may_follow(tmp_path: Path) -> None:
    db = tmp_path / "data" / "store.sqlite"
    with (
        run_lock(db),
        pytest.raises(
            StorageError,
            match=f"another `trustwatch run` is writing to store {db}; hint: wait",
        ),
        run_lock(db),
    ):
        pass
    with run_lock(db):
        pass
    assert Path(f"{db}.lock").is_file()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, f"{db}.lock"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == "held\n"
            with (
                pytest.raises(StorageError, match="another `trustwatch run`"),
                run_lock(db),
            ):
                pass
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=5)
    with run_lock(db):
        pass


def test_an_in_memory_store_takes_no_lock(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with run_lock(":memory:"), run_lock(":memory:"):
        pass
    assert not list(tmp_path.iterdir())


def test_a_link_to_the_store_takes_the_same_lock(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    db.touch()
    link = tmp_path / "link.sqlite"
    link.symlink_to(db)
    refused = pytest.raises(StorageError, match="another `trustwatch run`")
    with run_lock(db), refused, run_lock(link):
        pass
    dotted = tmp_path / "." / "store.sqlite"
    with run_lock(dotted), pytest.raises(StorageError), run_lock(db):
        pass
