"""Country places: the shortest distance a traveller between two countries covers."""

import pytest

from trustwatch.enrichment.places import (
    country_places,
    haversine_km,
    min_country_distance_km,
)


def test_haversine_matches_known_city_distances():
    assert haversine_km(52.52, 13.40, 48.86, 2.35) == pytest.approx(878, abs=5)
    assert haversine_km(40.71, -74.01, 51.51, -0.13) == pytest.approx(5570, abs=15)
    assert haversine_km(10, 20, 10, 20) == 0.0


def test_across_the_antimeridian_is_short():
    assert haversine_km(-17.7, 178.0, -17.7, -178.0) < 450


def test_same_country_and_neighbours_are_zero_apart():
    assert min_country_distance_km("DE", "de") == 0.0
    assert min_country_distance_km("DE", "FR") == 0.0
    assert min_country_distance_km("US", "CA") == 0.0


def test_distant_countries_are_far_but_never_farther_than_their_cities():
    germany_australia = min_country_distance_km("DE", "AU")
    assert germany_australia is not None
    # Berlin to Perth is about 13,000 km: the bound must stay below it
    assert 10_000 < germany_australia < haversine_km(52.5, 13.4, -31.95, 115.9)
    us_germany = min_country_distance_km("US", "DE")
    assert us_germany is not None
    # New York to Frankfurt is about 6,200 km
    assert 4_000 < us_germany < haversine_km(40.7, -74.0, 50.1, 8.7)


def test_large_countries_are_several_places_covering_their_cities():
    places = country_places("US")
    assert len(places) > 5
    for lat, lon in [(21.3, -157.9), (61.2, -149.9), (40.7, -74.0), (47.6, -122.3)]:
        assert (
            min(
                haversine_km(lat, lon, p.latitude, p.longitude) - p.radius_km
                for p in places
            )
            <= 0
        ), (lat, lon)


def test_unknown_codes_have_no_places():
    assert country_places("ZZ") == ()
    assert min_country_distance_km("EU", "DE") is None
    assert min_country_distance_km("ZZ", "ZZ") is None
