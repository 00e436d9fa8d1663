"""Serialising partition state in a forked child, off the consume loop.

Turning a partition's detector state (hundreds of thousands of small
objects) into compressed bytes takes about a tenth of a second, and a worker
that does it in its own loop decides nothing meanwhile: every event that
arrives waits. A child made with :func:`os.fork` sees the parent's memory
exactly as it was at the fork (copy-on-write), whatever the parent changes
afterwards, so it can serialise a consistent state while the parent goes on
deciding. The parent pays only for the fork itself.

Only bytes come back, over a pipe. The child opens no connection and
writes to no store: the parent writes the bytes itself, so every database
connection stays in the one process that opened it (neither SQLite nor
libpq connections survive a fork safely). The child closes every other
descriptor it inherited (sockets, the metrics port, database files) at
once, so a child outliving a killed parent holds nothing the next worker
needs; it ignores the stop signals its parent handles, offers itself first
to the kernel's out-of-memory killer, and is killed when it runs past its
deadline. It keeps its parent's CPU priority: a lower one would starve it
on a machine the worker keeps busy, until saves miss their deadline.
Instead, a child may pace itself with :func:`rest` between pieces of work,
leaving the CPU to the parent, until the parent waits for it: from then on
it rests no more.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import time
from collections.abc import Callable

from trustwatch.errors import TrustwatchError

__all__ = ["ForkedSnapshot", "SnapshotFailed", "can_fork", "rest"]

_CHUNK = 1 << 20
#: Signals the parent handles (to stop gracefully): blocked across the fork,
#: so that the child never runs the parent's handlers, and ignored in it.
_STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


#: In a snapshot's child: the descriptor that turns readable (a byte, or end
#: of file) once the parent waits for the child, or goes away.
_hurry: int | None = None


def rest(seconds: float) -> None:
    """Pause a snapshot's child for up to ``seconds``, leaving the CPU to its
    parent; return at once when the parent is waiting for the child, and
    outside a child."""
    if _hurry is None or seconds <= 0:
        return
    ready = select.poll()  # unlike select, takes descriptors past 1024
    ready.register(_hurry, select.POLLIN | select.POLLHUP)
    with contextlib.suppress(OSError):
        ready.poll(seconds * 1000)


class SnapshotFailed(TrustwatchError):
    """The child serialising a state failed or was killed."""


def can_fork() -> bool:
    """Whether this platform can serialise state in a forked child."""
    return hasattr(os, "fork") and hasattr(signal, "pthread_sigmask")


def _max_descriptors() -> int:
    try:
        return int(os.sysconf("SC_OPEN_MAX"))
    except (OSError, ValueError):
        return 65_536


class ForkedSnapshot:
    """Run ``serialise`` in a forked child and collect the bytes it returns.

    Parameters
    ----------
    serialise
        Called once, in the child, on the parent's memory as it was at the
        fork; returns the bytes to hand back. It must not touch sockets,
        database connections or threads the parent owns.
    timeout
        Seconds from the fork after which the child is killed and the
        snapshot fails; ``None`` waits as long as the child runs.

    Raises
    ------
    OSError
        When the fork or the pipe cannot be made (the caller saves inline).
    """

    def __init__(
        self, serialise: Callable[[], bytes], timeout: float | None = None
    ) -> None:
        read_end, write_end = os.pipe()
        try:
            hurry_read, hurry_write = os.pipe()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            for fd in (read_end, write_end, hurry_read, hurry_write):
                os.close(fd)
            raise
        if pid == 0:  # pragma: no cover - the child; its exit code is tested
            try:
                _child(serialise, write_end, hurry_read, mask)
            finally:
                os._exit(1)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(write_end)
        os.close(hurry_read)
        os.set_blocking(read_end, False)
        #: written to and closed when the parent waits: the child's rests end
        self._hurry: int | None = hurry_write
        self.pid = pid
        self.started = time.monotonic()
        self.deadline = None if timeout is None else self.started + timeout
        self._fd: int | None = read_end
        self._chunks: list[bytes] = []
        self._result: bytes | None = None

    def poll(self) -> bytes | None:
        """Return the child's bytes once it has finished, else ``None``.

        Raises
        ------
        SnapshotFailed
            When the child failed, was killed, or ran past its deadline (it
            is then killed).
        """
        if self._result is not None:
            return self._result
        if self._fd is None:
            raise SnapshotFailed("the snapshot was cancelled")
        while True:
            try:
                chunk = os.read(self._fd, _CHUNK)
            except BlockingIOError:
                if self.deadline is not None and time.monotonic() >= self.deadline:
                    self.cancel()
                    raise SnapshotFailed(
                        "the child serialising the state ran past its deadline"
                    ) from None
                return None  # the child is still writing
            if not chunk:
                break
            self._chunks.append(chunk)
        self.hurry()
        os.close(self._fd)
        self._fd = None
        _, status = os.waitpid(self.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            self._chunks.clear()
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            raise SnapshotFailed(f"the child serialising the state ended with {how}")
        self._result = b"".join(self._chunks)
        self._chunks.clear()
        return self._result

    def wait(self, timeout: float | None = None) -> bytes:
        """Block until the child has finished; return its bytes.

        Raises
        ------
        SnapshotFailed
            When the child failed, or did not finish within ``timeout``
            seconds or by its deadline (it is then killed).
        """
        self.hurry()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            found = self.poll()
            if found is not None:
                return found
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                self.cancel()
                raise SnapshotFailed(f"the child took more than {timeout} s")
            assert self._fd is not None
            # poll, unlike select, takes descriptors past 1024; waking at
            # least once a second lets poll() enforce the child's deadline
            ready = select.poll()
            ready.register(self._fd, select.POLLIN | select.POLLHUP)
            ready.poll(min(1.0 if left is None else left, 1.0) * 1000)

    def hurry(self) -> None:
        """Tell the child to rest no more (see :func:`rest`)."""
        if self._hurry is not None:
            # a byte, not only the close: a process forked meanwhile may hold
            # the write end too, and the child never reads the byte, so every
            # later rest ends at once as well
            with contextlib.suppress(OSError):  # the child has exited
                os.write(self._hurry, b"!")
            os.close(self._hurry)
            self._hurry = None

    def cancel(self) -> None:
        """Stop the child, if it still runs, and drop what it wrote."""
        self.hurry()
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        self._chunks.clear()
        with contextlib.suppress(ProcessLookupError):  # it had just exited
            os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def _child(
    serialise: Callable[[], bytes],
    out: int,
    hurry: int,
    mask: set[int | signal.Signals],
) -> None:  # pragma: no cover - runs in the child; its results are tested
    """The forked child's whole life: serialise, write, exit without cleanup.

    ``os._exit`` skips interpreter shutdown, so nothing the parent owns
    (Kafka clients, database connections, temporary files) is flushed or
    closed from here.
    """
    code = 1
    try:
        # the parent's handlers would act on the parent's objects; a stop
        # meant for the parent must not cut a save short either (a child
        # past its deadline is killed with SIGKILL)
        for stop in _STOP_SIGNALS:
            signal.signal(stop, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        # keep the two pipes and the standard streams only
        low, high = sorted((out, hurry))
        os.closerange(3, low)
        os.closerange(low + 1, high)
        os.closerange(high + 1, _max_descriptors())
        global _hurry
        _hurry = hurry
        with (
            contextlib.suppress(OSError),
            open("/proc/self/oom_score_adj", "w") as adjust,
        ):
            adjust.write("1000")  # under memory pressure, kill this one first
        gc.disable()  # a collection would touch (and copy) every page
        view = memoryview(serialise())
        while view:
            view = view[os.write(out, view) :]
        code = 0
    except BaseException:  # the exit code reports it
        code = 1
    finally:
        os._exit(code)
