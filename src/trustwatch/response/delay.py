"""Random enforcement delays that attackers cannot predict and we can reproduce.

The delay of an action is drawn from HMAC-SHA256 of its id under a secret key:
without the key the delay looks random, so probing a rule does not tell an
attacker when (or whether) it fired; with the key the same action always gets
the same delay.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import timedelta

from trustwatch.errors import ConfigError
from trustwatch.response.config import shown_variable

__all__ = ["TEST_DELAY_KEY", "delay_for", "delay_key"]

#: The fixed key tests use; never use it in production.
TEST_DELAY_KEY = b"trustwatch-test-delay-key"


def delay_for(action_id: str, low: timedelta, high: timedelta, key: bytes) -> timedelta:
    """Return a delay in ``[low, high]`` drawn from a keyed hash of ``action_id``.

    Parameters
    ----------
    action_id
        The action's id; the same id and key always give the same delay.
    low, high
        The bounds, inclusive, with ``low <= high``.
    key
        The secret key.
    """
    if low > high:
        raise ValueError("the delay's lower bound is above its upper bound")
    span = int((high - low).total_seconds())
    digest = hmac.new(key, action_id.encode(), hashlib.sha256).digest()
    draw = int.from_bytes(digest[:8], "big") % (span + 1)
    return low + timedelta(seconds=draw)


def delay_key(variable: str) -> bytes:
    """Read the delay key from the environment variable ``variable``."""
    value = os.environ.get(variable, "")
    if len(value) < 16:
        raise ConfigError(
            "the policy delays some rules, but "
            f"{shown_variable(variable, 'delay_secret_env')} is unset or shorter "
            "than 16 characters; hint: set it to a long random secret (e.g. "
            "`openssl rand -hex 32`)"
        )
    return value.encode()
