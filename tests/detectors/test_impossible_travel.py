"""Impossible travel: far-apart logins, and the place changes that are not travel."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from trustwatch.detectors.impossible_travel import ImpossibleTravelDetector
from trustwatch.enrichment.geo import GeoInfo
from trustwatch.errors import ConfigError
from trustwatch.events.model import Login
from trustwatch.features.context import EventContext
from trustwatch.testing import check_detector

T0 = datetime(2026, 5, 1, 8, tzinfo=UTC)

#: Addresses of a few networks, by /24: (country, AS number, AS name).
NETWORKS = {
    "198.51.100": ("DE", 3320, "Deutsche Telekom"),
    "203.0.113": ("AU", 1221, "Telstra"),
    "192.0.2": ("US", 9009, "M247 Europe"),  # a hosting provider VPNs rent
    "100.70.1": ("US", 14593, "SPACEX-STARLINK"),
    "100.70.2": ("US", None, "Gogo Business Aviation LLC"),
    "100.70.3": ("NL", 36183, "Akamai Technologies"),
    "100.64.9": ("FR", 3215, "Orange"),
}


class TableGeo:
    """A geo resolver over :data:`NETWORKS` whose answers a test can change."""

    def __init__(self):
        self.moved: dict[str, tuple[str, int, str]] = {}
        self.lookups = 0

    def lookup(self, ip):
        self.lookups += 1
        unknown = (None, None, None)
        country, asn, name = self.moved.get(
            ip, NETWORKS.get(ip.rsplit(".", 1)[0], unknown)
        )
        return GeoInfo(country=country, asn=asn, as_name=name)


def ok(i, ip, *, minutes, account="alice", success=True):
    return Login(
        event_id=f"e{i}",
        ts=T0 + timedelta(minutes=minutes),
        account=account,
        username=account,
        ip=ip,
        success=success,
    )


def run(events, geo=None, **params):
    detector = ImpossibleTravelDetector(geo=geo or TableGeo(), **params)
    return detector.process(events)


def test_germany_then_australia_an_hour_later_is_impossible():
    found = run([ok(1, "198.51.100.7", minutes=0), ok(2, "203.0.113.9", minutes=60)])
    assert len(found) == 1
    signal = found[0]
    assert (signal.kind, signal.entity_type, signal.entity) == (
        "impossible_travel",
        "account",
        "alice",
    )
    assert signal.event_id == "e2"
    assert signal.score > 0.99
    evidence = signal.evidence
    assert (evidence["previous_country"], evidence["country"]) == ("DE", "AU")
    assert evidence["min_distance_km"] > 10_000
    assert evidence["speed_kmh"] > 10_000
    assert evidence["previous_event_id"] == "e1"
    assert evidence["network"] == "AS1221"
    assert "DE and AU 60 min apart" in signal.reasons[0]


def test_the_same_trip_over_a_day_and_a_half_is_possible():
    found = run([ok(1, "198.51.100.7", minutes=0), ok(2, "203.0.113.9", minutes=2200)])
    assert found == []


def test_neighbouring_countries_never_fire():
    found = run([ok(1, "198.51.100.7", minutes=0), ok(2, "100.64.9.1", minutes=1)])
    assert found == []


def test_the_same_address_whose_geolocation_changed_is_not_travel():
    geo = TableGeo()
    detector = ImpossibleTravelDetector(geo=geo)
    first = ok(1, "198.51.100.7", minutes=0)
    assert detector.process([first]) == []
    # the database now puts it in Australia, on an AS the account never used
    geo.moved["198.51.100.7"] = NETWORKS["203.0.113"]
    assert detector.process([ok(2, "198.51.100.7", minutes=5)]) == []


def test_a_neighbour_in_the_same_slash_24_with_another_country_is_not_travel():
    geo = TableGeo()
    geo.moved["198.51.100.8"] = NETWORKS["203.0.113"]  # another country and AS
    found = run(
        [ok(1, "198.51.100.7", minutes=0), ok(2, "198.51.100.8", minutes=5)], geo
    )
    assert found == []


def test_a_database_update_that_moved_the_previous_address_is_not_travel():
    events = [ok(1, "198.51.100.7", minutes=0), ok(2, "203.0.113.9", minutes=30)]
    # control: with the old answer standing, this is impossible travel
    assert [s.kind for s in run(events)] == ["impossible_travel"]

    geo = TableGeo()
    detector = ImpossibleTravelDetector(geo=geo)
    detector.process(events[:1])
    geo.moved["198.51.100.7"] = NETWORKS["203.0.113"]  # now Australian
    assert detector.process(events[1:]) == []


def test_flip_flopping_between_known_networks_is_quiet():
    events = [
        ok(1, "198.51.100.7", minutes=0),  # home, Germany
        ok(2, "192.0.2.50", minutes=30),  # a VPN exit in the US, new: fires
        ok(3, "192.0.2.51", minutes=40),  # the VPN again, same country: learnt
        ok(4, "198.51.100.7", minutes=50),  # home again: a known network
        ok(5, "192.0.2.52", minutes=60),  # the VPN again: known now
    ]
    found = run(events)
    assert [s.event_id for s in found] == ["e2"]
    assert found[0].evidence["network"] == "AS9009"


def test_a_flagged_network_is_not_learnt_from_the_flag():
    events = [
        ok(1, "198.51.100.7", minutes=0),
        ok(2, "203.0.113.9", minutes=30),  # attacker in Australia
        ok(3, "198.51.100.7", minutes=40),  # the owner at home: known, quiet
        ok(4, "203.0.113.9", minutes=50),  # the attacker again: still new
    ]
    assert [s.event_id for s in run(events)] == ["e2", "e4"]


def test_known_networks_expire():
    events = [
        ok(1, "198.51.100.7", minutes=0),
        ok(2, "203.0.113.9", minutes=3000),  # possible: learnt
        ok(3, "198.51.100.7", minutes=3030),  # home, known: quiet
        ok(4, "203.0.113.9", minutes=8030),  # possible again
        ok(5, "198.51.100.7", minutes=8060),  # home unused for 3.5 days: fires
    ]
    found = run(events, known_days=3)
    assert [s.event_id for s in found] == ["e5"]


def test_failures_unknown_places_and_missing_fields_are_ignored():
    events = [
        ok(1, "198.51.100.7", minutes=0),
        ok(2, "203.0.113.9", minutes=10, success=False),  # a failure: no login
        ok(3, "10.1.2.3", minutes=20),  # no country: cannot be placed
        Login(event_id="e4", ts=T0, success=True, account="alice"),  # no address
        Login(event_id="e5", ts=T0, success=True, ip="203.0.113.9"),  # no account
    ]
    assert run(events) == []
    assert ImpossibleTravelDetector().process(events) == []  # no resolver at all


def test_each_account_travels_on_its_own():
    events = [
        ok(1, "198.51.100.7", minutes=0, account="alice"),
        ok(2, "203.0.113.9", minutes=10, account="bob"),
    ]
    assert run(events) == []


def test_the_pipelines_resolver_is_used_when_the_context_has_one():
    detector = ImpossibleTravelDetector()
    geo = TableGeo()
    found = []
    for event in (ok(1, "198.51.100.7", minutes=0), ok(2, "203.0.113.9", minutes=60)):
        found += detector.process_one(event, EventContext(event, geo))
    assert [s.kind for s in found] == ["impossible_travel"]
    assert geo.lookups >= 2


def test_state_is_bounded_per_account_and_in_accounts():
    detector = ImpossibleTravelDetector(geo=TableGeo(), max_accounts=2)
    events = [ok(i, "198.51.100.7", minutes=i, account=f"user{i}") for i in range(5)]
    detector.process(events)
    state = detector.get_state()
    assert [row[0] for row in state["accounts"]] == ["user3", "user4"]
    assert state["evicted"] == 3

    few = ImpossibleTravelDetector(geo=TableGeo(), max_known_networks=2)
    ips = ["198.51.100.7", "100.64.9.1", "192.0.2.4", "203.0.113.9"]
    few.process([ok(i, ip, minutes=i * 3000) for i, ip in enumerate(ips)])
    known = few.get_state()["accounts"][0][-1]
    assert [network for network, _ in known] == ["AS9009", "AS1221"]


def travel_stream():
    """Three accounts hopping between the four networks, in time order."""
    ips = ["198.51.100.7", "203.0.113.9", "192.0.2.50", "100.64.9.1", "10.0.0.1"]
    return [
        ok(i, ips[(i * 7) % 5], minutes=i * 17, account=f"user{i % 3}")
        for i in range(90)
    ]


def test_conformance_and_checkpoint_round_trip():
    assert run(travel_stream()), "the stream must raise signals to check"
    check_detector(lambda: ImpossibleTravelDetector(geo=TableGeo()), travel_stream())


@pytest.mark.parametrize(
    "params",
    [{"max_speed_kmh": 0}, {"known_days": -1}, {"max_accounts": 0}],
)
def test_unusable_parameters_are_clear_errors(params):
    with pytest.raises(ConfigError):
        ImpossibleTravelDetector(**params)


def test_seconds_apart_are_reported_as_such_and_speed_uses_a_one_minute_floor():
    events = [ok(1, "198.51.100.7", minutes=0), ok(2, "203.0.113.9", minutes=0.5)]
    (signal,) = run(events)
    assert "30 s apart" in signal.reasons[0]
    assert signal.evidence["minutes"] == 0.5
    assert signal.evidence["speed_kmh"] == pytest.approx(
        signal.evidence["min_distance_km"] * 60, rel=1e-3
    )


def test_hardcase_geo01_same_address_relocated_is_not_travel(hardcases):
    case = hardcases["GEO-01"]
    logins = json.loads(case["input"])
    places = {"Houston, US": "US", "Frankfurt, DE": "DE"}

    class RelocatingGeo:
        """The database moves the address between the two lookups."""

        def __init__(self):
            self.now = places[logins[0]["geo"]]

        def lookup(self, ip):
            return GeoInfo(country=self.now, asn=64500, as_name="Example ISP")

    geo = RelocatingGeo()
    detector = ImpossibleTravelDetector(geo=geo)
    found = []
    for i, row in enumerate(logins):
        geo.now = places[row["geo"]]
        event = Login(
            event_id=f"g{i}",
            ts=datetime.fromisoformat(row["ts"]),
            account=row["user"],
            ip=row["ip"],
            success=True,
        )
        found += detector.process_one(event, EventContext(event))
    assert found == []
    # two networks in the same two places 40 minutes apart: impossible travel
    events = [ok(1, "100.64.9.1", minutes=0), ok(2, "203.0.113.9", minutes=40)]
    assert len(run(events)) == 1


@pytest.mark.parametrize("roaming", ["100.70.1.5", "100.70.2.5", "100.70.3.5"])
def test_satellite_in_flight_and_relay_logins_are_not_places(roaming):
    # Germany, then a login through a satellite / aircraft / relay network
    # placed in another continent, then Germany again: nothing fires, and the
    # roaming login is not kept as the last place either
    events = [
        ok(1, "198.51.100.7", minutes=0),
        ok(2, roaming, minutes=20),
        ok(3, "198.51.100.8", minutes=40),
    ]
    assert run(events) == []
    # were the roaming login kept, a far country next would be measured from it
    later = [ok(1, "198.51.100.7", minutes=0), ok(2, roaming, minutes=1)]
    later.append(ok(3, "203.0.113.9", minutes=2))
    found = run(later)
    assert len(found) == 1
    assert found[0].evidence["previous_country"] == "DE"
