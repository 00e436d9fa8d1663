"""The words the login risk model gives its reasons in.

Each function names one kind of evidence the way an analyst reads it: a value
new or rare for the account, a value failing against many accounts, a tool's
user agent, a login the model did not learn. Values that are unknown or
missing (an address the geolocation cannot place, no user agent) are named
for what they are, never as ``None`` or ``?``.
"""

from __future__ import annotations

import re
from typing import Final

from trustwatch.loginmodel.attributes import (
    ABSENT_KEYS,
    CLIENT_LEVELS,
    LEVEL_LABELS,
    NETWORK_LEVELS,
    LoginAttributes,
)

__all__ = [
    "automation_reason",
    "clock_reason",
    "evidence_subject",
    "novelty_reason",
    "subject",
]

_NETWORK, _BROWSER, _UA = 1, 5, 6
_TOPS: Final = (NETWORK_LEVELS[0], CLIENT_LEVELS[0])
_YEAR = 365.25 * 86_400.0
#: A user agent's leading product name (``python-httpx`` of ``python-httpx/0.28``).
_PRODUCT = re.compile(r"[A-Za-z][A-Za-z0-9._+-]{0,39}")


def novelty_reason(level: int, attrs: LoginAttributes, share: float) -> str:
    """Say that the login's value at ``level`` is new or rare for the account.

    Parameters
    ----------
    level
        Index of the level in :data:`~trustwatch.loginmodel.attributes.LEVELS`.
    attrs
        The login's attributes.
    share
        The value's share of the account's logins under the same parent.

    Examples
    --------
    >>> from trustwatch.loginmodel.attributes import LoginAttributes
    >>> novelty_reason(0, LoginAttributes.build(country="BR", ip="192.0.2.1"), 0.0)
    'new country for this account (BR)'
    >>> novelty_reason(3, LoginAttributes.build(ip="192.0.2.1"), 0.0)
    'no user agent, this account always sends one'
    """
    value = attrs.values[level]
    if value is None and level in _TOPS:
        return _unknown_top_reason(level, attrs, share)
    label = LEVEL_LABELS[level]
    shown = "" if level == _UA else f" ({value})"
    if share <= 0.0:
        return f"new {label} for this account{shown}"
    if level in _TOPS:
        return f"rarely used {label} for this account ({value}, {share:.0%} of logins)"
    return f"rarely used {label} for this account{shown}"


def _unknown_top_reason(level: int, attrs: LoginAttributes, share: float) -> str:
    """Name a missing or unknown country or operating system, new or rare."""
    rare = f", rare for this account ({share:.0%} of logins)"
    if level == NETWORK_LEVELS[0]:
        if attrs.keys[level] == ABSENT_KEYS[0]:
            what, new = "no valid source address", ", this account's logins had one"
        else:
            what, new = "address could not be placed", ", new for this account"
    elif attrs.keys[level] == ABSENT_KEYS[1]:
        what, new = "no user agent", ", this account always sends one"
    elif attrs.values[_BROWSER] is not None:
        what = f"client without a known operating system ({attrs.values[_BROWSER]})"
        new = ", new for this account"
    else:
        what, new = "unrecognised user agent", ", new for this account"
    return what + (new if share <= 0.0 else rare)


def subject(level: int, attrs: LoginAttributes) -> str:
    """Name a level's value in a reason: ``country BR``, ``user agent (Chrome)``."""
    value = attrs.values[level]
    if level == _UA:
        browser = attrs.values[_BROWSER]
        return f"user agent ({browser})" if browser else "user agent"
    if value is None:
        if level == NETWORK_LEVELS[0]:
            absent = attrs.keys[level] == ABSENT_KEYS[0]
            return "no source address" if absent else "an address not placed"
        if level == CLIENT_LEVELS[0]:
            absent = attrs.keys[level] == ABSENT_KEYS[1]
            return "no user agent" if absent else "an unrecognised user agent"
        return f"an unknown {LEVEL_LABELS[level]}"
    return f"{LEVEL_LABELS[level]} {value}"


def evidence_subject(level: int, attrs: LoginAttributes) -> str:
    """Name a value that failed logins are counted against (network, address, agent)."""
    value = str(attrs.values[level])
    if level == _NETWORK:
        if value.startswith("AS:"):
            return f"AS {value[3:]}"
        if value.startswith("AS") and value[2:].isdigit():
            return f"ASN {value}"
        return f"network {value}"
    return subject(level, attrs)


def automation_reason(attrs: LoginAttributes) -> str:
    """Say that the user agent names a script or tool, and which.

    Examples
    --------
    >>> from trustwatch.loginmodel.attributes import LoginAttributes
    >>> automation_reason(LoginAttributes.build(user_agent="curl/8.5.0"))
    'automation client (curl)'
    >>> automation_reason(LoginAttributes.build(user_agent="python-httpx/0.28.1"))
    'automation client (python-httpx)'
    """
    name = attrs.values[_BROWSER]
    if name is None:
        product = _PRODUCT.match(attrs.values[_UA] or "")
        name = product.group() if product else "unrecognised tool"
    return f"automation client ({name})"


def clock_reason(offset: float, clock_set: bool) -> str:
    """Say why a login was not learned: its time is out of line with the stream.

    Parameters
    ----------
    offset
        Seconds the login's time lies ahead of the stream's clock (negative:
        behind).
    clock_set
        Whether the clock has a time yet.

    Examples
    --------
    >>> clock_reason(2.5 * 86_400, True)
    "event time 2.5 days ahead of the stream's clock"
    >>> clock_reason(-5_400.0e6, True)
    "event time 171 years behind the stream's clock"
    """
    if not clock_set:
        return "the stream's clock is not set yet: waiting for logins that agree"
    side = "ahead of" if offset > 0 else "behind"
    return f"event time {_duration(abs(offset))} {side} the stream's clock"


def _duration(seconds: float) -> str:
    if seconds >= _YEAR:
        return f"{seconds / _YEAR:,.0f} years"
    if seconds >= 86_400.0:
        return f"{seconds / 86_400.0:,.1f} days"
    return f"{seconds / 3_600.0:,.1f} h"
