"""A geolocation fed from the records themselves (the RBA dataset's own geo)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trustwatch.enrichment.geo import UNKNOWN_GEO, GeoInfo, GeoResolver
from trustwatch.enrichment.recorded_geo import RecordedGeo
from trustwatch.errors import ConfigError, InvalidIndicatorError
from trustwatch.events.model import Login
from trustwatch.features.context import EventContext


def test_recorded_addresses_answer_even_when_private() -> None:
    geo = RecordedGeo()
    geo.record("10.0.65.171", GeoInfo("NO", 29695, None))
    assert isinstance(geo, GeoResolver)
    assert geo.lookup("10.0.65.171") == GeoInfo("NO", 29695, None)
    assert geo.lookup("10.0.65.172") is UNKNOWN_GEO


def test_one_address_in_two_notations_is_one_record() -> None:
    geo = RecordedGeo()
    geo.record("::ffff:198.51.100.7", GeoInfo("DE", 3320, None))
    assert geo.lookup("198.51.100.7").country == "DE"
    geo.record("198.51.100.7", GeoInfo("FR", 3215, None))
    assert geo.lookup("::ffff:198.51.100.7").country == "FR"
    assert len(geo) == 1


def test_the_least_recently_recorded_address_is_forgotten_first() -> None:
    geo = RecordedGeo(max_addresses=2)
    geo.record("192.0.2.1", GeoInfo("US", 1, None))
    geo.record("192.0.2.2", GeoInfo("US", 2, None))
    geo.record("192.0.2.1", GeoInfo("CA", 1, None))  # refreshed
    geo.record("192.0.2.3", GeoInfo("US", 3, None))
    assert geo.lookup("192.0.2.2") is UNKNOWN_GEO
    assert geo.lookup("192.0.2.1").country == "CA"
    assert len(geo) == 2


def test_event_context_networks_come_from_the_records() -> None:
    geo = RecordedGeo()
    geo.record("10.1.2.3", GeoInfo("NO", 500_123, None))
    ts = datetime(2025, 1, 1, tzinfo=UTC)
    login = Login(event_id="e", ts=ts, account="a", ip="10.1.2.3", success=True)
    ctx = EventContext(login, geo)
    assert ctx.network() == "AS500123"
    assert ctx.location() == GeoInfo("NO", 500_123, None)


def test_bad_input_is_a_clear_error() -> None:
    geo = RecordedGeo()
    with pytest.raises(InvalidIndicatorError):
        geo.record("not an address", GeoInfo("NO", 1, None))
    with pytest.raises(InvalidIndicatorError):
        geo.lookup("300.1.1.1")
    with pytest.raises(ConfigError):
        RecordedGeo(max_addresses=0)
