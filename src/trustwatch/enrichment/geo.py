"""Country and autonomous system of an IP address.

Three resolvers share one small contract, :class:`GeoResolver`:

* :class:`BundledGeo` reads the country and ASN data that ships inside the
  ``geoip2fast`` package (built from MaxMind GeoLite2, CC BY-SA 4.0: products
  that show this data must credit MaxMind). It works offline and needs no
  set-up, but the data is as old as the installed package, and it carries AS
  *names* only, so :attr:`GeoInfo.asn` is always ``None`` from it.
* :class:`MaxMindGeo` reads the user's own GeoLite2/GeoIP2 ``.mmdb`` files with
  the ``maxminddb`` reader: current data, with AS numbers.
* :class:`NullGeo` knows nothing, for deployments without geolocation.

Addresses that are not globally reachable (private, loopback, documentation,
CGNAT...) resolve to ``GeoInfo(None, None, None)`` without a lookup: a database
answer for them is either empty or misleading.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import maxminddb

from trustwatch.enrichment.ips import is_public_address, parse_ip
from trustwatch.errors import ConfigError

__all__ = [
    "UNKNOWN_GEO",
    "BundledGeo",
    "GeoInfo",
    "GeoResolver",
    "MaxMindGeo",
    "NullGeo",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GeoInfo:
    """Where an address is registered.

    Attributes
    ----------
    country
        ISO 3166-1 alpha-2 country code, e.g. ``"DE"``, or ``None``.
    asn
        Autonomous system number, or ``None``.
    as_name
        Autonomous system organisation, or ``None``.
    """

    country: str | None
    asn: int | None
    as_name: str | None


#: The answer for unknown, private and special-purpose addresses.
UNKNOWN_GEO = GeoInfo(None, None, None)


@runtime_checkable
class GeoResolver(Protocol):
    """Anything that tells the country and AS of an IP address."""

    def lookup(self, ip: str) -> GeoInfo:
        """Return what is known about ``ip``.

        Parameters
        ----------
        ip
            An IP address as accepted by
            :func:`trustwatch.enrichment.ips.parse_ip`.

        Returns
        -------
        GeoInfo
            :data:`UNKNOWN_GEO` for addresses that are not public or not found.

        Raises
        ------
        trustwatch.errors.InvalidIndicatorError
            When ``ip`` is not an IP address.
        """
        ...


class NullGeo:
    """A resolver that knows nothing: every address gives :data:`UNKNOWN_GEO`."""

    def lookup(self, ip: str) -> GeoInfo:
        """Return :data:`UNKNOWN_GEO` after checking that ``ip`` is an address."""
        parse_ip(ip)
        return UNKNOWN_GEO


# ----------------------------------------------------------------- bundled

_BUNDLED_FILE = "geoip2fast-asn-ipv6.dat.gz"
_bundled_lock = threading.Lock()
_bundled_db: Any = None


def _bundled() -> Any:
    """Load the geoip2fast data once per process (it lives in module globals)."""
    global _bundled_db
    if _bundled_db is not None:
        return _bundled_db
    with _bundled_lock:
        if _bundled_db is None:
            import geoip2fast

            # A full path, so that geoip2fast never looks in the working directory.
            path = Path(geoip2fast.__file__).with_name(_BUNDLED_FILE)
            started = time.perf_counter()
            _bundled_db = geoip2fast.GeoIP2Fast(geoip2fast_data_file=str(path))
            logger.info(
                "loaded bundled geo data %s in %.2f s",
                _bundled_db.source_info,
                time.perf_counter() - started,
            )
    return _bundled_db


@lru_cache(maxsize=65536)
def _bundled_lookup_text(ip: str) -> GeoInfo:
    """Parse, check and look an address up, cached by its text as given.

    Most sources repeat, and parsing and the public-range checks cost as much
    as the lookup itself. An invalid address raises and is not cached.
    """
    address = parse_ip(ip)
    if not is_public_address(address):
        return UNKNOWN_GEO
    return _bundled_lookup(str(address))


@lru_cache(maxsize=65536)
def _bundled_lookup(address: str) -> GeoInfo:
    """Look a canonical public address up in the bundled data (cached)."""
    detail = _bundled().lookup(address)
    country = detail.country_code
    as_name = detail.asn_name
    return GeoInfo(
        country=country if len(country) == 2 and country.isalpha() else None,
        asn=None,
        as_name=as_name if as_name and as_name != "<unknown>" else None,
    )


class BundledGeo:
    """Country and AS name from the data bundled with ``geoip2fast``.

    The data (about 120 MB in memory, IPv4 and IPv6) is loaded on the first lookup,
    once per process, and shared by every instance. Lookups are cached.

    Examples
    --------
    >>> BundledGeo().lookup("10.1.2.3")
    GeoInfo(country=None, asn=None, as_name=None)
    """

    def lookup(self, ip: str) -> GeoInfo:
        """Return the country and AS name of ``ip``; ``asn`` is always ``None``.

        Parameters
        ----------
        ip
            An IP address as accepted by
            :func:`trustwatch.enrichment.ips.parse_ip`.

        Returns
        -------
        GeoInfo
            :data:`UNKNOWN_GEO` for addresses that are not public or not found.

        Raises
        ------
        trustwatch.errors.InvalidIndicatorError
            When ``ip`` is not an IP address.
        """
        return _bundled_lookup_text(ip)

    def data_version(self) -> str:
        """Name the source and date of the bundled data (loads it if needed)."""
        return str(_bundled().source_info)


# ----------------------------------------------------------------- MaxMind


class MaxMindGeo:
    """Country and AS from MaxMind DB (``.mmdb``) files the user provides.

    Country comes from a GeoLite2/GeoIP2 Country or City database (the
    ``country``, else ``registered_country``, ISO code); AS number and
    organisation from a GeoLite2/GeoIP2 ASN database. Either may be left out.

    Parameters
    ----------
    country_db
        Path of a Country or City database, or ``None``.
    asn_db
        Path of an ASN database, or ``None``.
    cache_size
        Number of lookups kept in memory.

    Raises
    ------
    trustwatch.errors.ConfigError
        When neither path is given, or a file is missing or not a MaxMind DB.
    """

    def __init__(
        self,
        country_db: Path | None,
        asn_db: Path | None,
        cache_size: int = 65536,
    ) -> None:
        if country_db is None and asn_db is None:
            raise ConfigError(
                "MaxMindGeo needs a country database, an ASN database or both; "
                "use NullGeo or BundledGeo when there are none"
            )
        self._country = _open_mmdb(country_db, "country") if country_db else None
        self._asn = _open_mmdb(asn_db, "ASN") if asn_db else None
        self._cached = lru_cache(maxsize=cache_size)(self._lookup_public)

    def lookup(self, ip: str) -> GeoInfo:
        """Return the country, AS number and AS name of ``ip``.

        Parameters
        ----------
        ip
            An IP address as accepted by
            :func:`trustwatch.enrichment.ips.parse_ip`.

        Returns
        -------
        GeoInfo
            Fields the databases lack are ``None``.

        Raises
        ------
        trustwatch.errors.InvalidIndicatorError
            When ``ip`` is not an IP address.
        """
        address = parse_ip(ip)
        if not is_public_address(address):
            return UNKNOWN_GEO
        return self._cached(str(address))

    def close(self) -> None:
        """Close the database files."""
        for reader in (self._country, self._asn):
            if reader is not None:
                reader.close()
        self._cached.cache_clear()

    def __enter__(self) -> MaxMindGeo:
        """Return self; the files close on exit."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the database files."""
        self.close()

    def _lookup_public(self, address: str) -> GeoInfo:
        """Read both databases for one canonical public address."""
        country_record = _record(self._country, address)
        asn_record = _record(self._asn, address)
        asn = asn_record.get("autonomous_system_number")
        as_name = asn_record.get("autonomous_system_organization")
        return GeoInfo(
            country=_country_code(country_record),
            asn=asn if isinstance(asn, int) else None,
            as_name=as_name if isinstance(as_name, str) else None,
        )


def _open_mmdb(path: Path, kind: str) -> maxminddb.Reader:
    """Open one database, turning failures into :class:`ConfigError`."""
    try:
        reader = maxminddb.open_database(str(path))
    except FileNotFoundError as error:
        raise ConfigError(
            f"the {kind} database {str(path)!r} does not exist; give the path of "
            "an .mmdb file (GeoLite2 downloads come as .tar.gz: extract them)"
        ) from error
    except (maxminddb.InvalidDatabaseError, OSError, ValueError) as error:
        raise ConfigError(
            f"the {kind} database {str(path)!r} is not a readable MaxMind DB "
            f"({error}); check that it is an uncompressed .mmdb file"
        ) from error
    metadata = reader.metadata()
    logger.info(
        "opened %s database type=%s built=%d",
        kind,
        metadata.database_type,
        metadata.build_epoch,
    )
    return reader


def _record(reader: maxminddb.Reader | None, address: str) -> dict[str, Any]:
    """Return the record for ``address`` as a dict, empty when absent."""
    if reader is None:
        return {}
    try:
        record = reader.get(address)
    except ValueError:
        # An IPv6 address against an IPv4-only database.
        return {}
    return record if isinstance(record, dict) else {}


def _country_code(record: dict[str, Any]) -> str | None:
    """Take the ISO code from ``country``, else ``registered_country``."""
    for key in ("country", "registered_country"):
        section = record.get(key)
        if isinstance(section, dict):
            code = section.get("iso_code")
            if isinstance(code, str):
                return code
    return None
