"""A login's attributes: two keyed hierarchies, read once per distinct value."""

import doctest
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from trustwatch.enrichment.geo import BundledGeo, GeoInfo
from trustwatch.events.model import Login
from trustwatch.features.context import EventContext
from trustwatch.loginmodel import attributes, clock, counts, model, reasons
from trustwatch.loginmodel.attributes import (
    ABSENT_KEYS,
    ROOT_KEYS,
    UNKNOWN_TOP_KEYS,
    AttributeExtractor,
    LoginAttributes,
    chain_keys,
)

T0 = datetime(2026, 5, 1, tzinfo=UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
)


class TableGeo:
    """A resolver answering from a table, counting its lookups."""

    def __init__(self, table):
        self.table = table
        self.lookups = 0

    def lookup(self, ip):
        self.lookups += 1
        return self.table.get(ip, GeoInfo(None, None, None))


def login(ip="192.0.2.1", ua=CHROME, **fields):
    return Login(
        event_id="e",
        ts=T0,
        account="alice",
        ip=ip,
        user_agent=ua,
        success=True,
        **fields,
    )


def extract(event, geo=None, extractor=None):
    return (extractor or AttributeExtractor()).extract(event, EventContext(event, geo))


def test_levels_are_keyed_by_their_whole_path():
    de = LoginAttributes.build(country="DE", network="AS3320", ip="192.0.2.1")
    fr = LoginAttributes.build(country="FR", network="AS3320", ip="192.0.2.1")
    assert de.keys[0] != fr.keys[0]
    assert de.keys[1] != fr.keys[1]  # the same AS under another country
    assert de.keys[2] != fr.keys[2]
    assert len(set(de.keys[:3])) == 3
    assert all(0 < key < 2**62 for key in de.keys[:3])


def test_keys_are_the_same_in_every_process():
    code = (
        "from trustwatch.loginmodel.attributes import chain_keys;"
        "print(chain_keys('network', 0, ('DE', 'AS3320', '192.0.2.1')))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    other = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.strip() == str(
        chain_keys("network", 0, ("DE", "AS3320", "192.0.2.1"))
    )


def test_the_user_agent_is_split_into_os_device_browser_and_string():
    a = LoginAttributes.build(ip="192.0.2.1", user_agent=CHROME)
    assert a.values[3:] == ("Windows", None, "Chrome", CHROME)
    assert a.has_network and a.has_client
    assert not a.automation
    assert LoginAttributes.build(user_agent="curl/8.5.0").automation


def test_a_missing_field_is_its_chains_absent_top_value():
    bare = extract(login(ip=None, ua=None))
    assert not bare.has_network and not bare.has_client
    assert bare.values == (None,) * 7
    # the absence is a value at each chain's top, with nothing below it
    assert bare.keys == (ABSENT_KEYS[0], 0, 0, ABSENT_KEYS[1], 0, 0, 0)
    assert bare.learn_keys == (
        ROOT_KEYS[0],
        ABSENT_KEYS[0],
        ROOT_KEYS[1],
        ABSENT_KEYS[1],
    )
    assert bare.evidence_keys == ()
    not_an_address = extract(login(ip="localhost:8080"))
    assert not not_an_address.has_network
    assert not_an_address.keys[0] == ABSENT_KEYS[0]
    assert not_an_address.has_client
    assert extract(login(ua="")).keys[3] == ABSENT_KEYS[1]


def test_an_unknown_top_value_is_keyed_apart_from_an_absent_one():
    unplaced = LoginAttributes.build(network="10.0.0.0/24", ip="10.0.0.7")
    assert unplaced.values[0] is None and unplaced.has_network
    assert unplaced.keys[0] == UNKNOWN_TOP_KEYS[0] != ABSENT_KEYS[0]
    tool = LoginAttributes.build(user_agent="python-requests/2.31")
    assert tool.values[3:6] == (None, None, "Python Requests")
    assert tool.keys[3] == UNKNOWN_TOP_KEYS[1] != ABSENT_KEYS[1]
    assert tool.automation


def test_a_garbage_user_agent_keeps_only_its_string():
    garbage = extract(login(ua="\x00\x01 }}} not a browser"))
    assert garbage.values[3:6] == (None, None, None)
    assert garbage.values[6] == "\x00\x01 }}} not a browser"
    assert garbage.keys[6] != 0


def test_ipv6_and_mapped_addresses_are_one_source_and_get_a_network():
    geo = TableGeo({"2001:db8::7": GeoInfo("DE", 3320, "Deutsche Telekom")})
    v6 = extract(login(ip="2001:db8::7"), geo)
    assert v6.values[:3] == ("DE", "AS3320", "2001:db8::7")
    no_geo = extract(login(ip="2001:db8::7"))
    assert no_geo.values[:3] == (None, "2001:db8::/64", "2001:db8::7")
    mapped = extract(login(ip="::ffff:192.0.2.1"))
    assert mapped.values[2] == "192.0.2.1"


def test_the_extractor_looks_each_address_up_once_and_stays_bounded():
    geo = TableGeo({"192.0.2.1": GeoInfo("DE", 3320, None)})
    extractor = AttributeExtractor(cache_size=3)
    for _ in range(5):
        extract(login(), geo, extractor)
    assert geo.lookups == 1
    for i in range(10):
        extract(login(ip=f"192.0.2.{i + 10}", ua=f"agent {i}"), geo, extractor)
    assert len(extractor._networks) <= 3 and len(extractor._clients) <= 3


def test_the_extractor_forgets_what_another_resolver_said():
    extractor = AttributeExtractor()
    de = TableGeo({"192.0.2.1": GeoInfo("DE", 3320, None)})
    fr = TableGeo({"192.0.2.1": GeoInfo("FR", 3215, None)})
    assert extract(login(), de, extractor).values[0] == "DE"
    assert extract(login(), fr, extractor).values[0] == "FR"


def test_bundled_geo_places_a_simulated_residential_address():
    # an address of the simulator's German residential blocks (data only)
    a = extract(login(ip="79.192.10.20"), BundledGeo())
    assert a.values[0] == "DE"
    assert a.values[1] is not None and a.values[1].startswith("AS")


@pytest.mark.parametrize("module", [attributes, clock, counts, model, reasons])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
