"""Pin the public names other packages code against."""

from __future__ import annotations

import dataclasses

import trustwatch.enrichment as enrichment
from trustwatch.enrichment import domains, geo, ips, urls, useragents


def test_package_exports() -> None:
    assert sorted(enrichment.__all__) == [
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
    for name in enrichment.__all__:
        assert getattr(enrichment, name) is not None


def test_module_exports_include_the_contract() -> None:
    assert {"refang", "extract_urls", "ParsedUrl", "parse_url"} <= set(urls.__all__)
    assert {
        "normalize_host",
        "to_unicode",
        "registrable_domain",
        "public_suffix",
        "skeleton",
        "is_mixed_script",
    } <= set(domains.__all__)
    assert {"parse_ip", "parse_network", "ip_prefix", "is_public"} <= set(ips.__all__)
    assert {"UserAgentInfo", "parse_user_agent"} <= set(useragents.__all__)
    assert {"GeoInfo", "GeoResolver", "BundledGeo", "MaxMindGeo", "NullGeo"} <= set(
        geo.__all__
    )


def test_parsed_url_fields() -> None:
    fields = [field.name for field in dataclasses.fields(urls.ParsedUrl)]

    assert fields == [
        "raw",
        "url",
        "scheme",
        "host",
        "host_unicode",
        "port",
        "path",
        "query",
        "fragment",
        "userinfo",
        "host_is_ip",
        "registrable_domain",
        "public_suffix",
        "flags",
        "extra_hosts",
    ]
    assert urls.ParsedUrl.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert hasattr(urls.ParsedUrl, "__slots__")


def test_record_fields() -> None:
    assert [f.name for f in dataclasses.fields(useragents.UserAgentInfo)] == [
        "browser",
        "browser_version",
        "os",
        "os_version",
        "device",
        "is_bot",
    ]
    assert [f.name for f in dataclasses.fields(geo.GeoInfo)] == [
        "country",
        "asn",
        "as_name",
    ]
