"""Score URLs from the string alone: a trained model, training and evaluation.

- :mod:`~trustwatch.urlmodel.features`: hashed n-grams and named lexical features;
- :mod:`~trustwatch.urlmodel.model`: :class:`UrlModel`, calibrated scores and reasons;
- :mod:`~trustwatch.urlmodel.heuristic`: the rule-weighted baseline;
- :mod:`~trustwatch.urlmodel.corpus`, :mod:`~trustwatch.urlmodel.training`,
  :mod:`~trustwatch.urlmodel.evaluation`: labelled data, fitting, and the
  time and domain splits (these need the ``ml`` extra).
"""

from trustwatch.urlmodel.heuristic import url_risk
from trustwatch.urlmodel.model import Reason, UrlModel, load_default_model

__all__ = ["Reason", "UrlModel", "load_default_model", "url_risk"]
