"""The public YARA sets beside the checkout load rule by rule (slow: ~20 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustwatch.content.yara_rules import load_rules

pytestmark = [pytest.mark.datasets, pytest.mark.slow]

#: Lower bounds a little under what loads today, so a regression shows.
SETS = {
    "yara-signature-base/yara": 5800,
    "yara-rules-community": 12700,
}


@pytest.mark.parametrize(("folder", "at_least"), sorted(SETS.items()))
def test_public_rule_sets_load_rule_by_rule(
    datasets_dir: Path, folder: str, at_least: int
) -> None:
    load = load_rules([datasets_dir / folder])
    assert len(load.accepted) >= at_least
    assert len(load.rejected) < len(load.accepted) / 50
    assert all(r.reason and r.message and r.line >= 0 for r in load.rejected)
    assert load.compiled is not None
    counts = load.sources.values()
    assert sum(c.accepted for c in counts) == len(load.accepted)
    assert sum(c.rejected for c in counts) == sum(1 for r in load.rejected if r.name)
    assert load.scan(b"\x00" * 64, timeout=10, max_bytes=1024) == []
