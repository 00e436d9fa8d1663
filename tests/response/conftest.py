"""Fixtures for enforcement tests (defined in ``response_rig``)."""

from response_rig import ledger, webhook

__all__ = ["ledger", "webhook"]
