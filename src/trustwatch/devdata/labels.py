"""Label brute-force sources in a raw OpenSSH log by one open rule.

The rule, stated once and applied to the raw lines (not to anything trustwatch
parsed or detected):

    A source address is a **brute-force source** when the log holds at least
    ``threshold`` (10) failed password attempts from it within some window of
    ``window`` (10) minutes.

A failed password attempt is a ``Failed password for [invalid user] NAME from
ADDRESS port N`` line; a ``message repeated K times: [ Failed password ... ]``
line counts K attempts at its own time. ``Failed none`` lines are not
attempts: the ``none`` method carries no credential.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

__all__ = ["BRUTE_FORCE_RULE", "brute_force_sources", "failed_passwords"]

BRUTE_FORCE_RULE = (
    "an address with >= {threshold} 'Failed password' attempts (a 'message "
    "repeated K times' line counts K) within {minutes} minutes in the raw log"
)
"""The rule in words, as written into the ground truth."""

_STAMP = re.compile(
    r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<hms>\d\d:\d\d:\d\d) "
)
_FAILED = re.compile(
    r"(?:message repeated (?P<k>\d+) times: \[ ?)?Failed password for "
    r"(?:invalid user )?.*? from (?P<ip>[0-9a-fA-F:.]+) port \d+"
)


def failed_passwords(lines: Iterable[str], year: int) -> dict[str, list[datetime]]:
    """Return the times of failed password attempts per source address.

    Parameters
    ----------
    lines
        Raw syslog lines with BSD timestamps (``Dec 10 06:55:46 host ...``).
    year
        Year to read the timestamps in (they carry none).
    """
    times: dict[str, list[datetime]] = defaultdict(list)
    for line in lines:
        stamp = _STAMP.match(line)
        failed = _FAILED.search(line)
        if stamp is None or failed is None:
            continue
        when = datetime.strptime(
            f"{year} {stamp['mon']} {stamp['day']} {stamp['hms']}", "%Y %b %d %H:%M:%S"
        )
        times[failed["ip"]].extend([when] * int(failed["k"] or 1))
    return dict(times)


def brute_force_sources(
    attempts: dict[str, list[datetime]], *, threshold: int = 10, minutes: int = 10
) -> set[str]:
    """Return the addresses that meet the brute-force rule.

    Parameters
    ----------
    attempts
        Failed-attempt times per address, from :func:`failed_passwords`.
    threshold, minutes
        At least ``threshold`` attempts within ``minutes`` minutes.
    """
    found = set()
    for ip, stamps in attempts.items():
        ordered = sorted(stamps)
        lo = 0
        for hi, moment in enumerate(ordered):
            while (moment - ordered[lo]).total_seconds() > minutes * 60:
                lo += 1
            if hi - lo + 1 >= threshold:
                found.add(ip)
                break
    return found
