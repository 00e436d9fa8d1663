"""A labelled development event stream built from the real shared datasets.

:func:`build_dev_stream` reads ``shared/datasets`` in place (nothing is
copied into the repository) and writes ``events.jsonl`` and ``truth.json``
for ``trustwatch devdata build``.
"""

from trustwatch.devdata.build import (
    DEV_START,
    DevStream,
    DevStreamSizes,
    build_dev_stream,
)
from trustwatch.devdata.evaluate import EvaluationRow, evaluate_dev_run
from trustwatch.devdata.truth import DevTruth, HashLabel, IpLabel, UrlLabel
from trustwatch.devdata.urls import INTEL_FEEDS

__all__ = [
    "DEV_START",
    "INTEL_FEEDS",
    "DevStream",
    "DevStreamSizes",
    "DevTruth",
    "EvaluationRow",
    "HashLabel",
    "IpLabel",
    "UrlLabel",
    "build_dev_stream",
    "evaluate_dev_run",
]
