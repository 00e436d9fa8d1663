"""Test helpers users can import: the detector conformance suite."""

from trustwatch.testing.conformance import check_detector, synthetic_events

__all__ = ["check_detector", "synthetic_events"]
