"""A small account model trained on the synthetic stream, for detector checks.

The ``graph_scores`` detector needs a trained model file; conformance checks
and tests build one here from :func:`~trustwatch.testing.conformance.synthetic_events`
instead of shipping a file that would go stale whenever the features change.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from trustwatch.graph.account_training import train_account_scorer
from trustwatch.graphmodel import NodeScorerSettings
from trustwatch.testing.conformance import synthetic_events

__all__ = ["synthetic_account_labels", "synthetic_account_model"]

#: Accounts of the synthetic stream that only ever log in from the attacking
#: address (every ``user5`` to ``user39``) are labelled abusive; ``user0`` to
#: ``user4`` also log in from their own addresses and are labelled benign.
_BENIGN = 5


def synthetic_account_labels() -> dict[str, bool]:
    """Return the labels of the synthetic stream's accounts."""
    accounts = {e.account for e in synthetic_events() if e.account}
    return {a: int(a.removeprefix("user")) >= _BENIGN for a in sorted(accounts)}


@functools.cache
def synthetic_account_model() -> str:
    """Train a small model on the synthetic stream once; return its file's path.

    The file lives in a temporary folder removed when the process exits.
    """
    folder = Path(tempfile.mkdtemp(prefix="trustwatch-account-model-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    trained = train_account_scorer(
        synthetic_events(),
        synthetic_account_labels(),
        settings=NodeScorerSettings(
            max_rounds=50, patience=10, min_child_samples=2, n_models=1
        ),
        validation_fraction=0.4,
    )
    return str(trained.model.save(folder / "accounts.model"))
