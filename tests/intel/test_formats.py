"""Feed layouts: sniffing real and synthetic files, format names."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustwatch.errors import ConfigError
from trustwatch.intel.feeds import load_feed
from trustwatch.intel.formats import FEED_FORMATS, check_format, sniff_format


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.datasets
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("urlhaus-2025-04-21/urlhaus.csv", "urlhaus_csv"),
        ("phishtank-2021-03/verified_online.csv", "phishtank_csv"),
        ("openphish-archive/openphish_2024H2.json", "openphish_json"),
        ("hashes-signature-base/iocs_hash-iocs.txt", "hashlist"),
    ],
)
def test_sniff_real_dumps(datasets_dir: Path, name: str, expected: str) -> None:
    assert sniff_format(datasets_dir / name) == expected


def test_sniff_headerless_urlhaus_and_text_dump(tmp_path: Path) -> None:
    row = (
        '"7","2025-04-21 12:35:06","http://198.51.100.7/a","online","",'
        '"malware_download","elf","https://urlhaus.example/7/","r"\n'
    )
    bare = _write(tmp_path / "rows.csv", "# abuse.ch URLhaus dump\n" + row)
    assert sniff_format(bare) == "urlhaus_csv"
    text = _write(
        tmp_path / "urls.txt",
        "# abuse.ch URLhaus Database Dump (TEXT - online URLs only)\n"
        "http://198.51.100.7/a\n",
    )
    assert sniff_format(text) == "plain"
    assert [i.value for i in load_feed(text).indicators] == ["http://198.51.100.7/a"]


def test_check_format_names_the_choices() -> None:
    assert [check_format(name) for name in FEED_FORMATS] == list(FEED_FORMATS)
    with pytest.raises(ConfigError, match="urlhaus_csv"):
        check_format("csv")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"1": [{"url": "http://198.51.100.7/"}]}', "urlhaus_json"),
        ('{\n  "https://a.example/": "2024-10-20T13:27:38+00:00"}', "openphish_json"),
        ('[{"phish_id": 1, "url": "https://a.example/"}]', "phishtank_json"),
        ("phish_id,url,phish_detail_url\n1,https://a.example/,x\n", "phishtank_csv"),
        ("# hashes\n" + "a" * 32 + ";comment\n", "hashlist"),
        ("evil.example\n203.0.113.0/24\n", "plain"),
    ],
)
def test_sniff_synthetic_layouts(tmp_path: Path, text: str, expected: str) -> None:
    assert sniff_format(_write(tmp_path / "feed.dat", text)) == expected
