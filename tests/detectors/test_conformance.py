import pytest

from trustwatch.detectors import available, default_detectors
from trustwatch.detectors.base import Detector
from trustwatch.detectors.credential_attacks import CredentialAttackDetector
from trustwatch.intel.indicators import indicator_from_text
from trustwatch.intel.store import IndicatorStore
from trustwatch.testing import check_detector, synthetic_events


def intel_store() -> IndicatorStore:
    store = IndicatorStore()
    store.add_many(
        indicator_from_text(text, feed="test")
        for text in ("http://198.51.100.7:8080/bin.sh", "198.51.100.66", "0" * 64)
    )
    return store


FACTORIES = {
    "credential_attacks": lambda: CredentialAttackDetector(brute_force_failures=3),
    "content_spread": lambda: available()["content_spread"](uploaders=2),
    "url_heuristics": lambda: available()["url_heuristics"](),
    "intel_match": lambda: available()["intel_match"](intel_store()),
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
