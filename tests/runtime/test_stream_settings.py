"""Stream settings: bootstrap server lists are checked before any client starts."""

from __future__ import annotations

import pytest

from trustwatch.errors import ConfigError
from trustwatch.runtime.stream.settings import checked_servers


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("kafka-1:9092", "kafka-1:9092"),
        (" kafka-1:9092 , 10.0.0.2:9093", "kafka-1:9092,10.0.0.2:9093"),
        ("[::1]:9092", "[::1]:9092"),
        ("[2001:db8::7]:65535", "[2001:db8::7]:65535"),
    ],
)
def test_host_and_port_lists_are_kept(given: str, kept: str) -> None:
    assert checked_servers(given) == kept


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("kafka-1", "not HOST:PORT"),
        ("::1:9092", "not HOST:PORT"),  # IPv6 needs brackets
        ("[::1]", "not HOST:PORT"),
        ("kafka-1:9092,", "not HOST:PORT"),
        ("kafka-1:99999", "no port from 1 to 65535"),
        ("kafka-1:0", "no port from 1 to 65535"),
    ],
)
def test_malformed_lists_and_ports_out_of_range_are_refused(
    given: str, said: str
) -> None:
    with pytest.raises(ConfigError, match=said):
        checked_servers(given)
