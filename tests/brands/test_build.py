"""build_catalogue against the real feeds and lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustwatch.brands import load_catalogue
from trustwatch.brands.build import brand_counts, build_catalogue
from trustwatch.errors import ConfigError


@pytest.mark.datasets
def test_build_reproduces_the_shipped_catalogue(datasets_dir: Path) -> None:
    built = build_catalogue(datasets_dir)
    assert built.brands == load_catalogue().brands
    paypal = built.get("paypal")
    assert paypal is not None and "paypal.com" in paypal.domains


@pytest.mark.datasets
def test_feed_names_fold_into_keys(datasets_dir: Path) -> None:
    counts, spelling = brand_counts(datasets_dir)
    assert counts["paypal"] > 1000  # PhishTank and JPCERT both name it
    assert counts["smbccard"] > 10_000  # JPCERT writes it in Japanese
    assert "other" not in counts
    assert spelling["ebay"] == "eBay, Inc."


@pytest.mark.datasets
def test_min_count_trims_rare_brands(datasets_dir: Path) -> None:
    few = build_catalogue(datasets_dir, min_count=1000)
    assert 0 < len(few) < len(load_catalogue())
    assert "paypal" in few


def test_missing_datasets_raise_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is missing"):
        build_catalogue(tmp_path)


def test_file_without_brand_column_is_refused(tmp_path: Path) -> None:
    for relative in (
        "phishtank-2020-05/DataFiles_2.online-valid.csv",
        "phishtank-2021-03/verified_online.csv",
    ):
        path = tmp_path / relative
        path.parent.mkdir(parents=True)
        path.write_text("phish_id,url\n1,https://x.example/\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no 'target' column"):
        build_catalogue(tmp_path)
