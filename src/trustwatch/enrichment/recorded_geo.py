"""A geolocation that answers from locations recorded beside the events.

Some login data carries its own geolocation: the RBA dataset gives every row
a country and an ASN (:mod:`trustwatch.events.rba`), and its addresses were
generated to match them, so a GeoIP database would place them elsewhere (or
nowhere: some are in 10.0.0.0/8). :class:`RecordedGeo` is a
:class:`~trustwatch.enrichment.geo.GeoResolver` that a reader feeds as it goes:
record an address's location when its row is read, and the detectors that
look the address up see the data's own geography.

Unlike the database resolvers it answers for every recorded address,
private ones included, because the records say where they are. It keeps the
most recently recorded addresses only (``max_addresses``), so memory stays
bounded on long files; the lookups of a stream follow its records closely.
"""

from __future__ import annotations

from collections import OrderedDict

from trustwatch.enrichment.geo import UNKNOWN_GEO, GeoInfo
from trustwatch.enrichment.ips import parse_ip
from trustwatch.errors import ConfigError

__all__ = ["RecordedGeo"]


class RecordedGeo:
    """Country and AS of addresses, as recorded with the events.

    Parameters
    ----------
    max_addresses
        Addresses kept; recording one more forgets the least recently
        recorded one.

    Raises
    ------
    ConfigError
        When ``max_addresses`` is below 1.

    Examples
    --------
    >>> geo = RecordedGeo()
    >>> geo.record("10.0.65.171", GeoInfo("NO", 29695, None))
    >>> geo.lookup("10.0.65.171").country
    'NO'
    >>> geo.lookup("192.0.2.1") is UNKNOWN_GEO
    True
    """

    def __init__(self, max_addresses: int = 1_000_000) -> None:
        if max_addresses < 1:
            raise ConfigError(f"max_addresses must be at least 1, got {max_addresses}")
        self._max = max_addresses
        self._known: OrderedDict[str, GeoInfo] = OrderedDict()

    def __len__(self) -> int:
        """Return how many addresses are kept."""
        return len(self._known)

    def record(self, ip: str, info: GeoInfo) -> None:
        """Remember where ``ip`` is (a newer record replaces an older one).

        Raises
        ------
        trustwatch.errors.InvalidIndicatorError
            When ``ip`` is not an IP address.
        """
        key = str(parse_ip(ip))
        known = self._known
        known[key] = info
        known.move_to_end(key)
        if len(known) > self._max:
            known.popitem(last=False)

    def lookup(self, ip: str) -> GeoInfo:
        """Return the recorded location of ``ip``, or :data:`UNKNOWN_GEO`.

        Raises
        ------
        trustwatch.errors.InvalidIndicatorError
            When ``ip`` is not an IP address.
        """
        return self._known.get(str(parse_ip(ip)), UNKNOWN_GEO)
