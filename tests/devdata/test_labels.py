"""The open brute-force rule, applied to raw SSH log lines."""

from __future__ import annotations

from datetime import datetime, timedelta

from trustwatch.devdata.labels import brute_force_sources, failed_passwords

_FAIL = "Dec 10 {t} host sshd[1]: Failed password for root from {ip} port 22 ssh2"


def test_failed_passwords_counts_repeated_messages() -> None:
    lines = [
        _FAIL.format(t="07:13:43", ip="198.51.100.7"),
        "Dec 10 07:13:56 host sshd[1]: message repeated 5 times: "
        "[ Failed password for root from 198.51.100.7 port 22 ssh2]",
        "Dec 10 07:14:00 host sshd[2]: Failed password for invalid user ftp "
        "from 203.0.113.9 port 5 ssh2",
        "Dec 10 07:14:01 host sshd[3]: Failed none for invalid user x "
        "from 203.0.113.10 port 5 ssh2",
        "Dec 10 07:14:02 host sshd[4]: Accepted password for amy from 203.0.113.11 "
        "port 5 ssh2",
    ]
    attempts = failed_passwords(lines, 2026)
    assert {ip: len(t) for ip, t in attempts.items()} == {
        "198.51.100.7": 6,
        "203.0.113.9": 1,
    }
    assert attempts["203.0.113.9"] == [datetime(2026, 12, 10, 7, 14)]


def _spaced(count: int, step: timedelta) -> list[datetime]:
    start = datetime(2026, 12, 10, 7, 0)
    return [start + n * step for n in range(count)]


def test_ten_failures_within_ten_minutes_make_a_brute_force_source() -> None:
    attempts = {
        "198.51.100.1": _spaced(10, timedelta(seconds=60)),  # 9 minutes apart
        "198.51.100.2": _spaced(9, timedelta(seconds=1)),
        "198.51.100.3": _spaced(10, timedelta(seconds=67)),  # 10.05 minutes
    }
    assert brute_force_sources(attempts) == {"198.51.100.1"}


def test_threshold_and_window_are_parameters() -> None:
    attempts = {"198.51.100.2": _spaced(9, timedelta(seconds=1))}
    assert brute_force_sources(attempts, threshold=9, minutes=1) == {"198.51.100.2"}
