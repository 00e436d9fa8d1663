"""Evaluations shipped as product features (``trustwatch evaluate ...``)."""
