from typing import ClassVar

import pytest

from trustwatch.content.store import Blob
from trustwatch.content.yara_rules import load_rule_text
from trustwatch.detectors import available, default_detectors
from trustwatch.detectors.base import Detector
from trustwatch.detectors.credential_attacks import CredentialAttackDetector
from trustwatch.enrichment.geo import GeoInfo
from trustwatch.intel.indicators import indicator_from_text
from trustwatch.intel.store import IndicatorStore
from trustwatch.testing import check_detector, synthetic_events
from trustwatch.testing.account_model import synthetic_account_model


def intel_store() -> IndicatorStore:
    store = IndicatorStore()
    store.add_many(
        indicator_from_text(text, feed="test")
        for text in ("http://198.51.100.7:8080/bin.sh", "198.51.100.66", "0" * 64)
    )
    return store


class SyntheticContent:
    """Uploaded files for the synthetic stream's hashes (``0...0`` to ``0...2``)."""

    files: ClassVar[dict[str, bytes]] = {
        f"{1:064x}": b'<html><form action="https://collect.example/p">'
        b'<input type="password"></form></html>',
        f"{2:064x}": b"%PDF-1.7 damaged",
    }

    def read(self, sha256):
        data = self.files.get(sha256)
        return None if data is None else Blob(data, len(data))


class TwoCountryGeo:
    """Places 192.0.2.x in Australia and every other address in Germany."""

    def lookup(self, ip):
        if ip.startswith("192.0.2."):
            return GeoInfo(country="AU", asn=64501, as_name="Example AU")
        return GeoInfo(country="DE", asn=64500, as_name="Example DE")


FACTORIES = {
    "credential_attacks": lambda: CredentialAttackDetector(brute_force_failures=3),
    "content_spread": lambda: available()["content_spread"](uploaders=2),
    "url_heuristics": lambda: available()["url_heuristics"](),
    "url_reputation": lambda: available()["url_reputation"](),
    "intel_match": lambda: available()["intel_match"](intel_store()),
    "brand_impersonation": lambda: available()["brand_impersonation"](),
    "file_phishing": lambda: available()["file_phishing"](
        SyntheticContent(), cache_size=1
    ),
    "malicious_file": lambda: available()["malicious_file"](
        SyntheticContent(),
        load_rule_text('rule pw { strings: $p = "type=\\"password\\"" condition: $p }'),
        cache_size=1,
    ),
    "impossible_travel": lambda: available()["impossible_travel"](geo=TwoCountryGeo()),
    "login_risk": lambda: available()["login_risk"](),
    "rings": lambda: available()["rings"](min_members=2, risk_threshold=0.3),
    "communities": lambda: available()["communities"](
        sweep_interval=600.0, risk_threshold=0.3
    ),
    "dense_blocks": lambda: available()["dense_blocks"](
        sweep_interval=600.0, risk_threshold=0.3
    ),
    "graph_scores": lambda: available()["graph_scores"](
        model_path=synthetic_account_model(), sweep_interval=600.0
    ),
    "takeover_chain": lambda: available()["takeover_chain"](failure_burst=1),
    "behaviour_baseline": lambda: available()["behaviour_baseline"](
        period=600,
        warmup=2,
        factor=2.0,
        min_counts={"shares": 5, "links": 1, "uploads": 2, "downloads": 1},
    ),
}


def test_every_registered_detector_has_a_conformance_factory():
    assert set(available()) == set(FACTORIES)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_detector_passes_conformance(name):
    check_detector(FACTORIES[name])


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_detector_raises_signals_on_synthetic_abuse(name):
    signals = FACTORIES[name]().process(synthetic_events())
    assert signals, f"{name} found nothing in the synthetic abuse"


def test_conformance_catches_a_detector_that_loses_state():
    class Forgetful(CredentialAttackDetector):
        name = "credential_attacks"

        def set_state(self, state):
            pass  # drops the checkpoint

    with pytest.raises(AssertionError, match="state did not round-trip"):
        check_detector(lambda: Forgetful(brute_force_failures=3))


def test_default_detectors_include_intel_only_with_a_store():
    assert "intel_match" not in {d.name for d in default_detectors()}
    assert "intel_match" in {d.name for d in default_detectors(intel_store())}
    assert all(isinstance(d, Detector) for d in default_detectors())


def test_intel_match_sees_indicators_added_after_a_miss():
    from datetime import UTC, datetime

    from trustwatch.events.model import Login

    store = IndicatorStore()
    detector = available()["intel_match"](store)
    event = Login(
        event_id="e",
        ts=datetime(2026, 1, 1, tzinfo=UTC),
        ip="203.0.113.50",
        success=True,
    )
    assert detector.process([event]) == []
    store.add(indicator_from_text("203.0.113.0/24", feed="late"))
    assert [s.kind for s in detector.process([event])] == ["intel_ip"]


def test_intel_indicators_expire_in_event_time():
    from datetime import UTC, datetime

    from trustwatch.events.model import Login

    store = IndicatorStore()
    store.add(
        indicator_from_text(
            "203.0.113.9", feed="f", expires_at=datetime(2026, 1, 2, tzinfo=UTC)
        )
    )
    detector = available()["intel_match"](store)
    before = Login(
        event_id="a",
        ts=datetime(2026, 1, 1, tzinfo=UTC),
        ip="203.0.113.9",
        success=True,
    )
    after = Login(
        event_id="b",
        ts=datetime(2026, 1, 3, tzinfo=UTC),
        ip="203.0.113.9",
        success=True,
    )
    assert [s.event_id for s in detector.process([before, after])] == ["a"]


def test_default_detectors_run_in_the_order_their_signals_are_read():
    names = [d.name for d in default_detectors()]
    # credential_attacks reads login_risk and impossible_travel on a success
    # after failures; takeover_chain reads all three
    assert names.index("impossible_travel") < names.index("credential_attacks")
    assert names.index("login_risk") < names.index("credential_attacks")
    assert names.index("credential_attacks") < names.index("takeover_chain")
