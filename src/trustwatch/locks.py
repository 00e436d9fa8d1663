"""One writer at a time: an exclusive kernel lock beside a file.

``trustwatch run`` holds one on its store and ``trustwatch intel sync`` one
on its database, so that a second process is refused at once rather than
interleaving its writes. The lock is ``flock`` on ``<file>.lock``: the
kernel drops it when its process ends, so a killed process leaves no stale
lock, and the empty lock file that stays behind holds nothing. The lock
belongs to the file, not to how its path is written: a link to it, or a
path through ``./`` or ``..``, takes the same lock.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from trustwatch.errors import StorageError

__all__ = ["exclusive_lock"]


@contextlib.contextmanager
def exclusive_lock(target: str | Path, held: str, what: str = "file") -> Iterator[None]:
    """Hold an exclusive lock on ``<target>.lock`` while the block runs.

    Parameters
    ----------
    target
        The file the lock guards (it need not exist yet).
    held
        The message of the error raised when another process holds the
        lock, with its hint.
    what
        What ``target`` is, for the other errors' hints ("store", "database").

    Raises
    ------
    StorageError
        At once, when another process holds the lock (``held``), or when the
        lock file cannot be created or locked.
    """
    lock_path = Path(f"{Path(target).resolve()}.lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("a+b")
    except OSError as exc:
        raise StorageError(
            f"cannot create lock file {lock_path}: {exc.strerror or exc}; hint: "
            f"check that the {what}'s folder is writable"
        ) from exc
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise StorageError(held) from exc
        except OSError as exc:
            raise StorageError(
                f"cannot lock {lock_path}: {exc.strerror or exc}; hint: keep the "
                f"{what} on a local file system"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
