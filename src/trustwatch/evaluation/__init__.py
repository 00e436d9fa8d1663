"""Evaluations shipped as product features (``trustwatch evaluate ...``).

- :mod:`trustwatch.evaluation.ato`: account takeover, the login risk model
  against a country-history rule on the shipped login simulator or on data
  in the RBA dataset's layout, at fixed challenge budgets;
- :mod:`trustwatch.evaluation.ssh`: precision and recall of the
  credential-attack detector on real SSH logs, with openly derived labels;
- :mod:`trustwatch.evaluation.gad`: supervised node scoring on labelled
  graphs under GADBench's protocol (``trustwatch evaluate rings``).
"""

from trustwatch.evaluation.ato import (
    CountryHistoryRule,
    evaluate_rba,
    evaluate_simulation,
)
from trustwatch.evaluation.gad import GadEvaluation, evaluate_gad
from trustwatch.evaluation.ssh import SshEvaluation, evaluate_ssh

__all__ = [
    "CountryHistoryRule",
    "GadEvaluation",
    "SshEvaluation",
    "evaluate_gad",
    "evaluate_rba",
    "evaluate_simulation",
    "evaluate_ssh",
]
