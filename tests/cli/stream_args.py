"""``trustwatch stream`` arguments for tests that stop before any broker is reached."""

from __future__ import annotations

from pathlib import Path


def stream_args(folder: Path, *more: str) -> list[str]:
    """``stream`` on topic ``events``, a broker address nothing answers on,
    no geolocation, and its state store in ``folder``; then ``more``."""
    return [
        "stream",
        "--topic",
        "events",
        "--bootstrap-servers",
        "127.0.0.1:9",
        "--no-geo",
        "--state-store",
        str(folder / "state.sqlite"),
        *more,
    ]
