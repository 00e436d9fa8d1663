"""Pin the names the CLI imports from devdata, and the size checks."""

from __future__ import annotations

from pathlib import Path

import pytest

import trustwatch.devdata as devdata
from trustwatch.devdata import DevStreamSizes, build_dev_stream
from trustwatch.errors import ConfigError


def test_package_exports() -> None:
    assert sorted(devdata.__all__) == [
        "DEV_START",
        "DevStream",
        "DevStreamSizes",
        "DevTruth",
        "EvaluationRow",
        "HashLabel",
        "INTEL_FEEDS",
        "IpLabel",
        "UrlLabel",
        "build_dev_stream",
        "evaluate_dev_run",
    ]


@pytest.mark.parametrize(
    ("sizes", "field"),
    [
        (DevStreamSizes(sessions=-1), "sessions"),
        (DevStreamSizes(accounts=10, abusive_accounts=10), "abusive_accounts"),
    ],
)
def test_bad_sizes_are_refused(
    sizes: DevStreamSizes, field: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=field):
        build_dev_stream(tmp_path, tmp_path / "out", sizes=sizes)


def test_missing_datasets_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="shared/datasets"):
        build_dev_stream(tmp_path / "nowhere", tmp_path / "out")
