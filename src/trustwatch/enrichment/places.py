"""Where a country's people are, roughly: places to measure travel between countries.

A login geolocated to a country says only "somewhere in that country". To tell
whether two logins could be the same traveller, :func:`min_country_distance_km`
gives the *shortest* distance a traveller between the two countries could have
covered: each country is a few :class:`Place` discs (a centre and a radius),
and the distance is the smallest gap between a disc of one and a disc of the
other, zero when they touch. It errs short on purpose: neighbours are always
zero apart, and only travel between distant countries can be proven
impossible.

Most countries are one disc: their centroid (Google's DSPL canonical
``countries.csv``, rounded to 0.1 degree) with a radius that reaches their
major cities, 700 km unless measured wider. Large or scattered countries are
several discs around their main population centres instead (mainland cities
and island groups: the United States' are the lower 48, Alaska and Hawaii).
Codes are ISO 3166-1 alpha-2; an unknown code has no places.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import asin, cos, radians, sin, sqrt

__all__ = [
    "EARTH_RADIUS_KM",
    "Place",
    "country_places",
    "haversine_km",
    "min_country_distance_km",
]

EARTH_RADIUS_KM = 6371.0
"""Mean radius of the Earth, for great-circle distances."""

_DEFAULT_RADIUS_KM = 700.0


@dataclass(frozen=True, slots=True)
class Place:
    """A disc on the Earth: a centre in degrees and a radius in kilometres."""

    latitude: float
    longitude: float
    radius_km: float


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance between two points, in kilometres.

    Examples
    --------
    >>> round(haversine_km(52.5, 13.4, 48.9, 2.4))
    871
    """
    phi1, phi2 = radians(lat1), radians(lat2)
    half = (
        sin((phi2 - phi1) / 2) ** 2
        + cos(phi1) * cos(phi2) * sin(radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(half)))


def country_places(country: str) -> tuple[Place, ...]:
    """Return the discs that cover a country's population, or ``()``.

    Parameters
    ----------
    country
        ISO 3166-1 alpha-2 code, any case (``"DE"``, ``"us"``).
    """
    code = country.upper()
    regions = _REGIONS.get(code)
    if regions is not None:
        return tuple(Place(lat, lon, radius) for lat, lon, radius in regions)
    centre = _CENTROIDS.get(code)
    if centre is None:
        return ()
    return (Place(centre[0], centre[1], _RADII.get(code, _DEFAULT_RADIUS_KM)),)


@lru_cache(maxsize=65_536)
def min_country_distance_km(country_a: str, country_b: str) -> float | None:
    """Return the shortest distance between two countries' places, in km.

    ``0.0`` for the same country or touching discs; ``None`` when either code
    has no places (unknown, or not a country: ``"EU"``, ``"A1"``...).

    Examples
    --------
    >>> min_country_distance_km("DE", "FR")
    0.0
    >>> min_country_distance_km("DE", "AU") > 10_000
    True
    >>> min_country_distance_km("DE", "ZZ") is None
    True
    """
    if country_a.upper() == country_b.upper():
        return 0.0 if country_places(country_a) else None
    places_a, places_b = country_places(country_a), country_places(country_b)
    if not places_a or not places_b:
        return None
    return min(
        max(
            0.0,
            haversine_km(a.latitude, a.longitude, b.latitude, b.longitude)
            - a.radius_km
            - b.radius_km,
        )
        for a in places_a
        for b in places_b
    )


# fmt: off
# Country centroids, (latitude, longitude) in degrees.
_CENTROIDS: dict[str, tuple[float, float]] = {
    "AD": (42.5, 1.6), "AE": (23.4, 53.8), "AF": (33.9, 67.7), "AG": (17.1, -61.8),
    "AI": (18.2, -63.1), "AL": (41.2, 20.2), "AM": (40.1, 45.0), "AO": (-11.2, 17.9),
    "AQ": (-75.3, -0.1), "AR": (-38.4, -63.6), "AS": (-14.3, -170.1),
    "AT": (47.5, 14.6), "AU": (-25.3, 133.8), "AW": (12.5, -70.0), "AX": (60.2, 19.9),
    "AZ": (40.1, 47.6), "BA": (43.9, 17.7), "BB": (13.2, -59.5), "BD": (23.7, 90.4),
    "BE": (50.5, 4.5), "BF": (12.2, -1.6), "BG": (42.7, 25.5), "BH": (25.9, 50.6),
    "BI": (-3.4, 29.9), "BJ": (9.3, 2.3), "BL": (17.9, -62.8), "BM": (32.3, -64.8),
    "BN": (4.5, 114.7), "BO": (-16.3, -63.6), "BQ": (12.2, -68.3), "BR": (-14.2, -51.9),
    "BS": (25.0, -77.4), "BT": (27.5, 90.4), "BV": (-54.4, 3.4), "BW": (-22.3, 24.7),
    "BY": (53.7, 28.0), "BZ": (17.2, -88.5), "CA": (56.1, -106.3), "CC": (-12.2, 96.9),
    "CD": (-4.0, 21.8), "CF": (6.6, 20.9), "CG": (-0.2, 15.8), "CH": (46.8, 8.2),
    "CI": (7.5, -5.5), "CK": (-21.2, -159.8), "CL": (-35.7, -71.5), "CM": (7.4, 12.4),
    "CN": (35.9, 104.2), "CO": (4.6, -74.3), "CR": (9.7, -83.8), "CU": (21.5, -77.8),
    "CV": (16.0, -24.0), "CW": (12.2, -69.0), "CX": (-10.4, 105.7), "CY": (35.1, 33.4),
    "CZ": (49.8, 15.5), "DE": (51.2, 10.5), "DJ": (11.8, 42.6), "DK": (56.3, 9.5),
    "DM": (15.4, -61.4), "DO": (18.7, -70.2), "DZ": (28.0, 1.7), "EC": (-1.8, -78.2),
    "EE": (58.6, 25.0), "EG": (26.8, 30.8), "EH": (24.2, -12.9), "ER": (15.2, 39.8),
    "ES": (40.5, -3.7), "ET": (9.1, 40.5), "FI": (61.9, 25.7), "FJ": (-16.6, 179.4),
    "FK": (-51.8, -59.5), "FM": (7.4, 150.6), "FO": (61.9, -6.9), "FR": (46.2, 2.2),
    "GA": (-0.8, 11.6), "GB": (55.4, -3.4), "GD": (12.3, -61.6), "GE": (42.3, 43.4),
    "GF": (3.9, -53.1), "GG": (49.5, -2.6), "GH": (7.9, -1.0), "GI": (36.1, -5.3),
    "GL": (71.7, -42.6), "GM": (13.4, -15.3), "GN": (9.9, -9.7), "GP": (17.0, -62.1),
    "GQ": (1.7, 10.3), "GR": (39.1, 21.8), "GS": (-54.4, -36.6), "GT": (15.8, -90.2),
    "GU": (13.4, 144.8), "GW": (11.8, -15.2), "GY": (4.9, -58.9), "HK": (22.4, 114.1),
    "HM": (-53.1, 73.5), "HN": (15.2, -86.2), "HR": (45.1, 15.2), "HT": (19.0, -72.3),
    "HU": (47.2, 19.5), "ID": (-0.8, 113.9), "IE": (53.4, -8.2), "IL": (31.0, 34.9),
    "IM": (54.2, -4.5), "IN": (20.6, 79.0), "IO": (-6.3, 71.9), "IQ": (33.2, 43.7),
    "IR": (32.4, 53.7), "IS": (65.0, -19.0), "IT": (41.9, 12.6), "JE": (49.2, -2.1),
    "JM": (18.1, -77.3), "JO": (30.6, 36.2), "JP": (36.2, 138.3), "KE": (-0.0, 37.9),
    "KG": (41.2, 74.8), "KH": (12.6, 105.0), "KI": (-3.4, -168.7), "KM": (-11.9, 43.9),
    "KN": (17.4, -62.8), "KP": (40.3, 127.5), "KR": (35.9, 127.8), "KW": (29.3, 47.5),
    "KY": (19.5, -80.6), "KZ": (48.0, 66.9), "LA": (19.9, 102.5), "LB": (33.9, 35.9),
    "LC": (13.9, -61.0), "LI": (47.2, 9.6), "LK": (7.9, 80.8), "LR": (6.4, -9.4),
    "LS": (-29.6, 28.2), "LT": (55.2, 23.9), "LU": (49.8, 6.1), "LV": (56.9, 24.6),
    "LY": (26.3, 17.2), "MA": (31.8, -7.1), "MC": (43.8, 7.4), "MD": (47.4, 28.4),
    "ME": (42.7, 19.4), "MF": (18.1, -63.0), "MG": (-18.8, 46.9), "MH": (7.1, 171.2),
    "MK": (41.6, 21.7), "ML": (17.6, -4.0), "MM": (21.9, 96.0), "MN": (46.9, 103.8),
    "MO": (22.2, 113.5), "MP": (17.3, 145.4), "MQ": (14.6, -61.0), "MR": (21.0, -10.9),
    "MS": (16.7, -62.2), "MT": (35.9, 14.4), "MU": (-20.3, 57.6), "MV": (3.2, 73.2),
    "MW": (-13.3, 34.3), "MX": (23.6, -102.6), "MY": (4.2, 102.0), "MZ": (-18.7, 35.5),
    "NA": (-23.0, 18.5), "NC": (-20.9, 165.6), "NE": (17.6, 8.1), "NF": (-29.0, 168.0),
    "NG": (9.1, 8.7), "NI": (12.9, -85.2), "NL": (52.1, 5.3), "NO": (60.5, 8.5),
    "NP": (28.4, 84.1), "NR": (-0.5, 166.9), "NU": (-19.1, -169.9),
    "NZ": (-40.9, 174.9), "OM": (21.5, 55.9), "PA": (8.5, -80.8), "PE": (-9.2, -75.0),
    "PF": (-17.7, -149.4), "PG": (-6.3, 144.0), "PH": (12.9, 121.8), "PK": (30.4, 69.3),
    "PL": (51.9, 19.1), "PM": (46.9, -56.3), "PN": (-24.7, -127.4), "PR": (18.2, -66.6),
    "PS": (32.0, 35.2), "PT": (39.4, -8.2), "PW": (7.5, 134.6), "PY": (-23.4, -58.4),
    "QA": (25.4, 51.2), "RE": (-21.1, 55.5), "RO": (45.9, 25.0), "RS": (44.0, 21.0),
    "RU": (61.5, 105.3), "RW": (-1.9, 29.9), "SA": (23.9, 45.1), "SB": (-9.6, 160.2),
    "SC": (-4.7, 55.5), "SD": (12.9, 30.2), "SE": (60.1, 18.6), "SG": (1.4, 103.8),
    "SH": (-24.1, -10.0), "SI": (46.2, 15.0), "SJ": (77.6, 23.7), "SK": (48.7, 19.7),
    "SL": (8.5, -11.8), "SM": (43.9, 12.5), "SN": (14.5, -14.5), "SO": (5.2, 46.2),
    "SR": (3.9, -56.0), "SS": (7.9, 29.7), "ST": (0.2, 6.6), "SV": (13.8, -88.9),
    "SX": (18.0, -63.1), "SY": (34.8, 39.0), "SZ": (-26.5, 31.5), "TC": (21.7, -71.8),
    "TD": (15.5, 18.7), "TF": (-49.3, 69.3), "TG": (8.6, 0.8), "TH": (15.9, 101.0),
    "TJ": (38.9, 71.3), "TK": (-9.0, -171.9), "TL": (-8.9, 125.7), "TM": (39.0, 59.6),
    "TN": (33.9, 9.5), "TO": (-21.2, -175.2), "TR": (39.0, 35.2), "TT": (10.7, -61.2),
    "TV": (-7.1, 177.6), "TW": (23.7, 121.0), "TZ": (-6.4, 34.9), "UA": (48.4, 31.2),
    "UG": (1.4, 32.3), "US": (37.1, -95.7), "UY": (-32.5, -55.8), "UZ": (41.4, 64.6),
    "VA": (41.9, 12.5), "VC": (13.0, -61.3), "VE": (6.4, -66.6), "VG": (18.4, -64.6),
    "VI": (18.3, -64.9), "VN": (14.1, 108.3), "VU": (-15.4, 167.0),
    "WF": (-13.8, -177.2), "WS": (-13.8, -172.1), "XK": (42.6, 20.9),
    "YE": (15.6, 48.5), "YT": (-12.8, 45.2), "ZA": (-30.6, 22.9), "ZM": (-13.1, 27.8),
    "ZW": (-19.0, 29.2),
}

# Radii (km) of single-disc countries whose major cities lie farther than the
# default from the centroid: the farthest major city's distance, plus 10%.
_RADII: dict[str, float] = {
    "AF": 600, "AO": 1000, "BO": 800, "BS": 700, "BW": 600, "CD": 1200, "CM": 600,
    "CO": 1400, "CU": 600, "CV": 500, "DE": 500, "DK": 500, "DZ": 1100, "EG": 600,
    "ET": 600, "FI": 900, "FJ": 600, "FR": 800, "GB": 700, "GL": 1100, "GR": 700,
    "IQ": 600, "IR": 1200, "IS": 500, "IT": 700, "KE": 600, "KZ": 1300, "LY": 1000,
    "MA": 900, "MG": 900, "MH": 500, "ML": 800, "MM": 1500, "MN": 1500, "MR": 700,
    "MV": 500, "MZ": 1000, "NA": 1000, "NC": 500, "NE": 900, "NG": 800, "NZ": 900,
    "OM": 600, "PE": 1300, "PG": 1100, "PH": 900, "PK": 1000, "PL": 500, "SA": 1100,
    "SB": 700, "SD": 1200, "SE": 1000, "SJ": 1400, "SO": 900, "TD": 700, "TH": 1200,
    "TM": 700, "TR": 900, "TZ": 600, "UA": 600, "UZ": 700, "VE": 800, "VN": 1200,
    "VU": 600, "YE": 800, "ZA": 1300, "ZM": 700,
}

# Countries too large or scattered for one disc: (latitude, longitude, radius
# km) around their main cities and island groups.
_REGIONS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "US": (
        (40.7, -74.0, 700), (33.8, -84.4, 700), (25.8, -80.2, 500), (41.9, -87.6, 700),
        (44.9, -93.3, 700), (32.8, -96.8, 700), (39.7, -105.0, 700),
        (45.8, -108.5, 700), (33.4, -112.1, 600), (34.1, -118.2, 500),
        (37.8, -122.4, 500), (47.6, -122.3, 600), (61.2, -149.9, 900),
        (21.3, -157.9, 500),
    ),
    "CA": (
        (43.7, -79.4, 700), (45.5, -73.6, 600), (44.7, -63.6, 600), (47.6, -52.7, 500),
        (49.9, -97.1, 800), (51.0, -114.1, 700), (49.3, -123.1, 600),
        (62.5, -114.4, 900),
    ),
    "RU": (
        (55.8, 37.6, 700), (59.9, 30.3, 600), (54.7, 20.5, 200), (47.2, 39.7, 600),
        (55.8, 49.1, 600), (56.8, 60.6, 700), (55.0, 82.9, 800), (56.0, 92.9, 700),
        (52.3, 104.3, 700), (62.0, 129.7, 900), (48.5, 135.1, 600), (43.1, 131.9, 400),
        (69.0, 33.1, 500), (53.0, 158.7, 500), (59.6, 150.8, 700),
    ),
    "CN": (
        (39.9, 116.4, 700), (31.2, 121.5, 600), (23.1, 113.3, 600), (30.7, 104.1, 600),
        (34.3, 108.9, 600), (30.6, 114.3, 600), (45.8, 126.6, 700), (25.0, 102.7, 600),
        (43.8, 87.6, 700), (29.7, 91.1, 700), (36.1, 103.8, 600), (40.8, 111.7, 600),
        (39.5, 76.0, 600), (20.0, 110.3, 300),
    ),
    "BR": (
        (-23.5, -46.6, 600), (-22.9, -43.2, 500), (-15.8, -47.9, 700),
        (-13.0, -38.5, 600), (-8.1, -34.9, 600), (-3.7, -38.5, 600), (-1.5, -48.5, 700),
        (-3.1, -60.0, 800), (-30.0, -51.2, 600), (-15.6, -56.1, 700),
        (-8.8, -63.9, 700), (-10.0, -67.8, 500),
    ),
    "AU": (
        (-33.9, 151.2, 600), (-37.8, 145.0, 600), (-27.5, 153.0, 600),
        (-34.9, 138.6, 600), (-32.0, 115.9, 800), (-12.5, 130.8, 700),
        (-42.9, 147.3, 300), (-16.9, 145.8, 700), (-23.7, 133.9, 800),
    ),
    "IN": (
        (28.6, 77.2, 600), (19.1, 72.9, 500), (13.1, 80.3, 400), (13.0, 77.6, 400),
        (22.6, 88.4, 500), (17.4, 78.5, 500), (23.0, 72.6, 500), (26.1, 91.7, 500),
        (34.1, 74.8, 400), (8.5, 76.9, 300), (11.6, 92.7, 400),
    ),
    "ID": (
        (-6.2, 106.8, 600), (3.6, 98.7, 600), (-7.3, 112.8, 500), (-8.7, 115.2, 500),
        (-5.2, 119.4, 500), (-1.3, 116.8, 600), (1.5, 124.8, 500), (-2.5, 140.7, 700),
        (-3.7, 128.2, 500), (5.6, 95.3, 300), (0.0, 109.3, 500),
    ),
    "AR": (
        (-34.6, -58.4, 600), (-31.4, -64.2, 500), (-24.8, -65.4, 500),
        (-32.9, -68.8, 400), (-39.0, -68.1, 500), (-45.9, -67.5, 600),
        (-54.8, -68.3, 400), (-27.5, -59.0, 500),
    ),
    "CL": (
        (-33.5, -70.7, 500), (-23.7, -70.4, 600), (-18.5, -70.3, 300),
        (-41.5, -72.9, 500), (-45.6, -72.1, 500), (-53.2, -70.9, 500),
        (-27.1, -109.4, 100),
    ),
    "MX": (
        (19.4, -99.1, 500), (20.7, -103.4, 500), (25.7, -100.3, 500),
        (32.5, -117.0, 400), (29.1, -111.0, 500), (21.2, -86.8, 400),
        (21.0, -89.6, 400), (16.8, -93.1, 400), (28.6, -106.1, 500),
        (24.1, -110.3, 400),
    ),
    "JP": (
        (35.7, 139.7, 600), (34.7, 135.5, 500), (33.6, 130.4, 400), (43.1, 141.4, 500),
        (26.2, 127.7, 500),
    ),
    "ES": (
        (40.4, -3.7, 700), (28.3, -15.9, 400),
    ),
    "PT": (
        (39.4, -8.2, 400), (38.5, -28.0, 400), (32.7, -16.9, 150),
    ),
    "NO": (
        (60.5, 8.5, 500), (63.4, 10.4, 400), (69.7, 19.0, 500),
    ),
    "MY": (
        (3.2, 101.7, 500), (1.6, 110.4, 400), (6.0, 116.1, 400),
    ),
    "EC": (
        (-1.8, -78.2, 600), (-0.9, -89.6, 300),
    ),
    "KI": (
        (1.5, 173.0, 800), (1.9, -157.4, 500), (-2.8, -171.7, 500),
    ),
    "FM": (
        (6.9, 158.2, 500), (9.5, 138.1, 500), (7.5, 151.9, 300), (5.3, 163.0, 200),
    ),
    "PF": (
        (-17.5, -149.6, 500), (-9.8, -139.0, 400), (-23.1, -134.9, 400),
    ),
    "SC": (
        (-4.6, 55.5, 300), (-9.4, 46.3, 300),
    ),
}
# fmt: on
