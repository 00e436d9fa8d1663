"""Score URLs from the string alone.

- :mod:`~trustwatch.urlmodel.heuristic`: the rule-weighted baseline.
"""

from trustwatch.urlmodel.heuristic import url_risk

__all__ = ["url_risk"]
