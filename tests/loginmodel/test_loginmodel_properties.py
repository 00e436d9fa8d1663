"""Whatever the logins, scores stay probabilities and the state stays bounded."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from trustwatch.loginmodel import LoginAttributes, LoginModelSettings, LoginRiskModel

text = st.one_of(st.none(), st.text(max_size=40))
login = st.tuples(
    st.sampled_from(["alice", "bob", "carol", None]),
    text,  # country
    text,  # network
    st.one_of(st.none(), st.sampled_from(["192.0.2.1", "2001:db8::1"]), st.text()),
    st.one_of(text, st.sampled_from(["curl/8.5.0", "Mozilla/5.0 (X11; Linux)"])),
    st.floats(min_value=0, max_value=1e4),  # seconds since the previous login
    st.booleans(),  # success
    st.booleans(),  # second factor
)


@settings(max_examples=150, deadline=None)
@given(st.lists(login, max_size=40))
def test_scores_stay_in_the_unit_interval(logins):
    model = LoginRiskModel(
        LoginModelSettings(
            max_accounts=8, max_values_per_account=8, max_population_keys=64
        )
    )
    t = 1.7e9
    for account, country, network, ip, ua, gap, success, mfa in logins:
        t += gap
        attrs = LoginAttributes.build(
            country=country, network=network, ip=ip, user_agent=ua
        )
        risk = model.assess_one(account, attrs, t, success=success, second_factor=mfa)
        assert 0.0 <= risk.score <= 1.0
        assert math.isfinite(risk.evidence["log_likelihood_ratio"])
        assert all(isinstance(reason, str) and reason for reason in risk.reasons)
    assert model.accounts <= 8
    assert len(model._population) <= 64
