"""Runtimes that drive the pipeline: embedded (files) now, streams later."""

from trustwatch.runtime.embedded import IntelLoad, RunSummary, load_intel, run_embedded
from trustwatch.runtime.pipeline import Decision, Pipeline

__all__ = [
    "Decision",
    "IntelLoad",
    "Pipeline",
    "RunSummary",
    "load_intel",
    "run_embedded",
]
