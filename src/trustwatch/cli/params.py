"""Checks of option values shared by commands: finite numbers, output folders.

:class:`FiniteFloatRange` is :class:`click.FloatRange` without the gap that
lets ``nan`` through (every comparison with ``nan`` is false, so no bound
refuses it). :func:`output_folder` checks an ``--out`` folder before the work
starts, and :func:`write_output_files` writes the files into it at the end
without ever blocking on a FIFO or following a link planted where a file
goes.
"""

from __future__ import annotations

import math
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import click

from trustwatch.errors import ConfigError

__all__ = ["FiniteFloatRange", "output_folder", "write_output_files"]

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)
_OPEN_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_TRUNC
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class FiniteFloatRange(click.FloatRange):
    """A float option in a range that also refuses ``nan`` and infinities.

    Examples
    --------
    >>> FiniteFloatRange(0.0).convert("2.5", None, None)
    2.5
    """

    name = "float range"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def output_folder(text: str, files: Iterable[str], *, option: str = "--out") -> Path:
    """Check an output folder before the work starts, creating it if missing.

    Parameters
    ----------
    text
        The option's value as given (an empty string is refused, where
        ``Path("")`` would quietly mean the current folder).
    files
        Names of the files the command will write into the folder.
    option
        The option's name, for the messages.

    Returns
    -------
    Path
        The folder, which exists and takes new files.

    Raises
    ------
    ConfigError
        When ``text`` is blank or names something that is not a folder
        (``/dev/null``, a file), the folder cannot be created or written, or
        one of ``files`` exists there as anything but a writable regular
        file (a FIFO would block the write forever, a folder fail it).
    """
    if not text.strip():
        raise ConfigError(f"{option} is empty; hint: name a folder")
    out = Path(text)
    if os.path.lexists(out) and not out.is_dir():
        raise ConfigError(
            f"{option} {out} is not a folder; hint: name a folder (it is created "
            "when missing)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        # Proves the folder takes new files, before the work.
        with tempfile.TemporaryFile(dir=out, prefix=".trustwatch-"):
            pass
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"cannot write to {option} {out}: {why}") from exc
    for name in files:
        _check_target(out / name, option)
    return out


def write_output_files(out: Path, files: Mapping[str, str]) -> None:
    """Write each file's text (UTF-8) into ``out``, replacing regular files only.

    A file is opened without following a symbolic link and without waiting
    for a FIFO's reader, so a name planted after :func:`output_folder` ran
    fails clearly instead of hanging or writing elsewhere.

    Raises
    ------
    ConfigError
        When a file cannot be written; the message names it.
    """
    for name, text in files.items():
        target = out / name
        try:
            fd = os.open(target, _OPEN_FLAGS, 0o666)
        except OSError as exc:
            what = _what(target)
            why = f"it is {what}" if what else exc.strerror or str(exc)
            raise ConfigError(f"cannot write {target}: {why}") from exc
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise ConfigError(
                        f"cannot write {target}: it is not a regular file"
                    )
                os.set_blocking(fd, True)
                stream.write(text)
        except OSError as exc:
            raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from exc


def _check_target(target: Path, option: str) -> None:
    what = _what(target)
    if what is not None:
        raise ConfigError(
            f"{target} in {option} is {what}, not a regular file; hint: remove it "
            "or name another folder"
        )
    if target.exists() and not os.access(target, os.W_OK):
        raise ConfigError(f"{target} in {option} is not writable")


def _what(target: Path) -> str | None:
    """Name what ``target`` is when it exists and is not a regular file."""
    try:
        mode = target.lstat().st_mode
    except OSError:
        return None
    return next((name for test, name in _KINDS if test(mode)), None)
