"""Per-login risk: how likely a login's attributes are for its account.

A statistical model of each account's normal logins after Freeman et al.,
"Who Are You? A Statistical Approach to Measuring User Authenticity" (NDSS
2016): the login's country, network and address, and its operating system,
device, browser and user agent, weighed under the account's history against
the population and the day's attacker evidence, smoothed up the
hierarchies, scored and learned in stream order with bounded state. The
formula is in :mod:`trustwatch.loginmodel.model`.
"""

from trustwatch.loginmodel.attributes import (
    LEVELS,
    AttributeExtractor,
    LoginAttributes,
)
from trustwatch.loginmodel.model import LoginRisk, LoginRiskModel
from trustwatch.loginmodel.settings import LoginModelSettings

__all__ = [
    "LEVELS",
    "AttributeExtractor",
    "LoginAttributes",
    "LoginModelSettings",
    "LoginRisk",
    "LoginRiskModel",
]
