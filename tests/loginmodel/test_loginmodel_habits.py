"""The login risk model weighs each account's habits: gaps, roaming, activity."""

import pytest

from trustwatch.loginmodel import LoginAttributes, LoginModelSettings, LoginRiskModel

DAY = 86_400.0
HOUR = 3_600.0
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
)


def home(ip="192.0.2.10", network="AS3320"):
    return LoginAttributes.build(
        country="DE", network=network, ip=ip, user_agent=CHROME
    )


def monthly_model():
    """A model whose clock takes the monthly bursts below as in line."""
    return LoginRiskModel(LoginModelSettings(max_clock_skew_hours=24 * 31))


def drifting_population(model, *, accounts=100, months=4):
    """Accounts whose address is renewed monthly: back within the hour, they
    keep it; back after a month, they bring a new one."""
    for month in range(months):
        for i in range(accounts):
            t = month * 30 * DAY + i * 60
            address = home(ip=f"198.51.{month}.{i}")
            model.assess_one(f"user{i}", address, t, success=True)
            model.assess_one(f"user{i}", address, t + 0.5 * HOUR, success=True)


def ip_factor(model, account, ip, t):
    return model.score(account, home(ip=ip), t).evidence["factors"]["ip"]


def test_a_new_address_after_a_long_absence_is_less_surprising():
    model = monthly_model()
    drifting_population(model)
    t = 91 * DAY
    model.assess_one("away", home(), t - 30 * DAY, success=True)
    model.assess_one("back", home(), t - 0.5 * HOUR, success=True)
    month_later = ip_factor(model, "away", "192.0.2.77", t)
    soon = ip_factor(model, "back", "192.0.2.77", t)
    assert soon > 4 * month_later
    # the familiar address stays owner evidence after either gap
    assert ip_factor(model, "away", "192.0.2.10", t) < 1


def test_an_account_that_roams_more_than_others_is_less_surprised():
    model = monthly_model()
    drifting_population(model)
    t = 90 * DAY
    for hour in range(12):
        model.assess_one("stayer", home(), t + hour * HOUR, success=True)
        roaming = home(ip=f"192.0.2.{100 + hour}")
        model.assess_one("roamer", roaming, t + hour * HOUR, success=True)
    later = t + 12.5 * HOUR
    stayer = ip_factor(model, "stayer", "192.0.2.250", later)
    roamer = ip_factor(model, "roamer", "192.0.2.250", later)
    assert stayer > 3 * roamer
    # the smoothing keeps a roamer's new address a little surprising
    assert roamer > 1


def test_a_login_into_a_seldom_used_account_weighs_more():
    model = LoginRiskModel()
    for day in range(30):
        for i in range(20):
            address = home(ip=f"198.51.100.{i}")
            model.assess_one(f"daily{i}", address, day * DAY + i, success=True)
        if day == 0:
            model.assess_one("rare", home(ip="198.51.100.200"), 60.0, success=True)
    t = 30 * DAY
    daily = model.score("daily3", home(ip="198.51.100.3"), t)
    rare = model.score("rare", home(ip="198.51.100.200"), t)
    assert daily.evidence["activity_factor"] < 1 < rare.evidence["activity_factor"]
    assert rare.evidence["activity_factor"] > 10 * daily.evidence["activity_factor"]
    # the same attacker login into each: the seldom used account is likelier his
    attacker = LoginAttributes.build(country="BR", ip="203.0.113.9", user_agent=CHROME)
    assert (
        model.score("rare", attacker, t).score
        > model.score("daily3", attacker, t).score
    )
    assert any(reason.startswith("account seldom logs in") for reason in rare.reasons)
    assert not any("seldom" in reason for reason in daily.reasons)


def test_a_new_accounts_first_login_is_not_taken_for_a_long_absence():
    model = LoginRiskModel()
    for day in range(30):
        for i in range(20):
            address = home(ip=f"198.51.100.{i}")
            model.assess_one(f"daily{i}", address, day * DAY + i, success=True)
    t = 30 * DAY
    model.learn_created("newcomer", t)
    newcomer = model.score("newcomer", home(ip="203.0.113.5"), t + 120)
    stranger = model.score("stranger", home(ip="203.0.113.6"), t + 120)
    assert newcomer.evidence["first_login"] and stranger.evidence["first_login"]
    assert newcomer.evidence["activity_factor"] == pytest.approx(1.0, abs=0.05)
    assert stranger.evidence["activity_factor"] > 10
    assert stranger.score > 5 * newcomer.score
    # an account created again keeps its first record
    model.learn_created("newcomer", t + 5 * DAY)
    again = model.score("newcomer", home(ip="203.0.113.5"), t + 5 * DAY + 120)
    assert again.evidence["activity_factor"] > 2


def test_the_activity_term_grows_with_the_time_watched():
    model = LoginRiskModel()
    first = model.assess_one("daily0", home(ip="198.51.100.0"), 0.0, success=True)
    assert first.evidence["activity_factor"] == 1.0
    factors = []
    for day in range(30):
        for i in range(20):
            address = home(ip=f"198.51.100.{i}")
            model.assess_one(f"daily{i}", address, day * DAY + i, success=True)
        if day in (1, 10, 29):
            stranger = model.score("stranger", home(ip="203.0.113.6"), day * DAY + 60)
            factors.append(stranger.evidence["activity_factor"])
    assert 1 < factors[0] < factors[1] < factors[2]
