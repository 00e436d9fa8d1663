"""Exit codes of the ``trustwatch`` command, in one place."""

from __future__ import annotations

import enum

__all__ = ["ExitCode"]


class ExitCode(enum.IntEnum):
    """What a ``trustwatch`` exit status means."""

    OK = 0
    INTERNAL_ERROR = 1
    BAD_INPUT = 2
    BAD_CONFIG = 3
    DEPENDENCY_FAILED = 4
    #: stopped by Ctrl-C (SIGINT): 128 + the signal's number, as shells report it
    INTERRUPTED = 130
