"""Enrichment of raw indicators: URLs, domains, IP addresses, user agents, geo.

Everything here is pure and offline: no lookup ever leaves the process. The
submodules hold the details; the names most callers need are re-exported here.
Data files (Public Suffix List, uap-core rules, geo data) load on first use.
"""

from trustwatch.enrichment.domains import (
    is_mixed_script,
    normalize_host,
    public_suffix,
    registrable_domain,
    skeleton,
    to_unicode,
)
from trustwatch.enrichment.geo import (
    BundledGeo,
    GeoInfo,
    GeoResolver,
    MaxMindGeo,
    NullGeo,
)
from trustwatch.enrichment.ips import ip_prefix, is_public, parse_ip, parse_network
from trustwatch.enrichment.urls import ParsedUrl, extract_urls, parse_url, refang
from trustwatch.enrichment.useragents import UserAgentInfo, parse_user_agent

__all__ = [
    "BundledGeo",
    "GeoInfo",
    "GeoResolver",
    "MaxMindGeo",
    "NullGeo",
    "ParsedUrl",
    "UserAgentInfo",
    "extract_urls",
    "ip_prefix",
    "is_mixed_script",
    "is_public",
    "normalize_host",
    "parse_ip",
    "parse_network",
    "parse_url",
    "parse_user_agent",
    "public_suffix",
    "refang",
    "registrable_domain",
    "skeleton",
    "to_unicode",
]
