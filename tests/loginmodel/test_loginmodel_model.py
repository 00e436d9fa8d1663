"""The login risk model: Freeman-style scores, reasons, learning and state."""

import math

import msgspec
import pytest

from trustwatch.errors import ConfigError
from trustwatch.loginmodel import LoginAttributes, LoginModelSettings, LoginRiskModel

DAY = 86_400.0
CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
)
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/26.1 Safari/605.1.15"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0"


def attrs(country="DE", network="AS3320", ip="192.0.2.10", ua=CHROME_WIN):
    return LoginAttributes.build(country=country, network=network, ip=ip, user_agent=ua)


HOME = attrs()


def trained(model=None, *, account="alice", logins=21, population=30):
    """A model where ``account`` logged in daily from home, among a population.

    The population logs in from many networks and countries, each account
    from its own, so the model knows what new values are like. The last
    logins are on day ``logins - 1``: a login on day ``logins`` is in line
    with the model's clock.
    """
    model = model or LoginRiskModel()
    countries = ("DE", "FR", "US", "GB", "BR", "JP")
    for day in range(logins):
        t = day * DAY
        model.assess_one(account, HOME, t, success=True)
        for other in range(population):
            home = attrs(
                country=countries[other % len(countries)],
                network=f"AS{64500 + other}",
                ip=f"198.51.100.{other}",
                ua=(CHROME_WIN, SAFARI_MAC)[other % 2],
            )
            model.assess_one(f"user{other}", home, t + other, success=True)
    return model


def test_a_familiar_login_is_low_risk():
    model = trained()
    risk = model.score("alice", HOME, 21 * DAY)
    assert risk.score < 0.001
    assert risk.reasons == ()
    assert risk.evidence["log_likelihood_ratio"] < 0
    assert all(factor < 1 for factor in risk.evidence["factors"].values())


def test_a_new_country_is_high_risk_and_named():
    model = trained()
    risk = model.score("alice", attrs(country="BR", network="AS28573"), 21 * DAY)
    assert risk.score > 0.5
    assert risk.reasons[0] == "new country for this account (BR)"
    assert risk.evidence["factors"]["country"] > 20
    # under a country the account never used, the network and address add
    # nothing: a new country is not counted three times
    assert risk.evidence["factors"]["network"] == pytest.approx(1.0)
    assert risk.evidence["factors"]["ip"] == pytest.approx(1.0)


def test_a_new_address_in_a_familiar_network_scores_far_below_a_new_country():
    model = trained()
    new_ip = model.score("alice", attrs(ip="192.0.2.77"), 21 * DAY)
    new_country = model.score("alice", attrs(country="BR", ip="192.0.2.77"), 21 * DAY)
    assert new_ip.score < 0.05
    assert new_country.score > 10 * new_ip.score
    lr_gap = (
        new_country.evidence["log_likelihood_ratio"]
        - new_ip.evidence["log_likelihood_ratio"]
    )
    assert lr_gap > math.log(20)
    assert not any("country" in reason for reason in new_ip.reasons)


def test_a_new_network_in_a_familiar_country_lies_between():
    model = trained()
    t = 21 * DAY
    new_ip = model.score("alice", attrs(ip="192.0.2.77"), t).score
    new_network = model.score("alice", attrs(network="AS680", ip="192.0.2.77"), t)
    new_country = model.score("alice", attrs(country="BR", ip="192.0.2.77"), t).score
    assert new_ip < new_network.score < new_country
    assert "new network for this account (AS680)" in new_network.reasons


def test_a_new_browser_and_os_are_named():
    model = trained()
    risk = model.score("alice", attrs(ua=FIREFOX_LINUX), 21 * DAY)
    assert "new operating system for this account (Linux)" in risk.reasons
    assert risk.score > model.score("alice", HOME, 21 * DAY).score


def client_factor(risk):
    factors = risk.evidence["factors"]
    return math.prod(
        factors.get(k, 1.0) for k in ("os", "device", "browser", "user_agent")
    )


def test_a_familiar_value_rare_in_the_population_is_strong_evidence_of_the_owner():
    model = trained()
    rare_ua = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/145.0 Rare/1.0"
    for hour in range(10):
        model.assess_one("bob", attrs(ua=rare_ua), 20 * DAY + hour * 3600, success=True)
    bob = model.score("bob", attrs(ua=rare_ua), 21 * DAY)
    alice = model.score("alice", HOME, 21 * DAY)
    assert client_factor(bob) < 0.1
    assert client_factor(bob) < client_factor(alice) / 5


def test_the_first_login_of_an_account_says_so():
    model = trained()
    risk = model.score("carol", attrs(country="US"), 21 * DAY)
    assert risk.reasons == ("first login of this account",)
    assert risk.evidence["first_login"] is True
    # no attribute says anything: the account's silence is the only evidence
    assert all(f == pytest.approx(1.0) for f in risk.evidence["factors"].values())
    assert risk.evidence["log_likelihood_ratio"] == pytest.approx(
        math.log(risk.evidence["activity_factor"]), abs=1e-3
    )
    assert risk.score < 0.5
    assert model.score(None, HOME, 21 * DAY).reasons == ()


def stuffing(model, t, *, network="AS16276", accounts=57, country="FR"):
    """Failed logins against many accounts from one network's addresses."""
    for i in range(accounts):
        bot = attrs(country=country, network=network, ip=f"203.0.113.{i % 250}")
        model.assess_one(f"victim{i}", bot, t + i, success=False)


def test_a_network_failing_against_many_accounts_raises_the_risk():
    t = 21 * DAY
    calm, attacked = trained(), trained()
    stuffing(attacked, t)
    login = attrs(country="FR", network="AS16276", ip="203.0.113.251")
    before = calm.score("alice", login, t + 100)
    after = attacked.score("alice", login, t + 100)
    assert after.score > before.score
    assert after.evidence["attacker_factors"]["network"] > 5
    assert after.evidence["factors"]["network"] > 5
    assert after.evidence["failing_accounts"]["network"] == 57
    assert "ASN AS16276 seen failing against 57 accounts in the last 24 h" in (
        after.reasons
    )


def test_an_address_failing_against_many_accounts_is_named():
    model = trained()
    bot = attrs(country="FR", network="AS16276", ip="203.0.113.9")
    for i in range(12):
        model.assess_one(f"victim{i}", bot, 21 * DAY + i, success=False)
    risk = model.score("alice", bot, 21 * DAY + 60)
    assert (
        "IP address 203.0.113.9 seen failing against 12 accounts in the last 24 h"
        in (risk.reasons)
    )


def test_failure_evidence_fades_after_the_window():
    model = trained()
    stuffing(model, 21 * DAY)
    login = attrs(country="FR", network="AS16276", ip="203.0.113.251")
    soon = model.score("alice", login, 21 * DAY + 3600)
    later = model.score("alice", login, 23 * DAY)
    assert "failing_accounts" in soon.evidence
    assert "failing_accounts" not in later.evidence
    assert later.score < soon.score


def test_a_busy_network_with_honest_mistakes_is_not_an_attacker():
    model = trained()
    t = 21 * DAY
    # 300 successes and 20 accounts mistyping from one ISP network
    for i in range(300):
        isp = attrs(country="DE", network="AS3209", ip=f"192.0.2.{i % 200}")
        model.assess_one(f"isp{i}", isp, t + i, success=True)
    for i in range(20):
        isp = attrs(country="DE", network="AS3209", ip=f"192.0.2.{i}")
        model.assess_one(f"isp{i}", isp, t + 400 + i, success=False)
    risk = model.score("alice", attrs(network="AS3209"), t + 500)
    assert risk.evidence["failing_accounts"]["network"] == 20
    assert risk.evidence["succeeding_accounts"]["network"] == 200  # saturated
    assert risk.evidence["attacker_factors"]["network"] < 1.1
    assert not any("failing" in reason for reason in risk.reasons)


def test_failed_logins_never_teach_the_account_history():
    model = trained()
    away = attrs(country="BR", network="AS28573", ip="192.0.2.200")
    for i in range(20):
        model.assess_one("alice", away, 21 * DAY + i, success=False)
    risk = model.score("alice", away, 22 * DAY)
    assert "new country for this account (BR)" in risk.reasons


def test_a_risky_success_is_not_learned_unless_a_second_factor_passed():
    t = 21 * DAY
    away = attrs(country="BR", network="AS28573", ip="192.0.2.200")
    model = trained()
    first = model.assess_one("alice", away, t, success=True)
    assert first.score >= 0.5 and first.evidence["learned"] is False
    again = model.score("alice", away, t + 60)
    assert again.score == pytest.approx(first.score, rel=0.05)

    with_mfa = trained()
    first = with_mfa.assess_one("alice", away, t, success=True, second_factor=True)
    assert first.evidence["learned"] is True
    assert with_mfa.score("alice", away, t + 60).score < first.score / 5


def test_a_confirmed_login_is_learned():
    model = trained()
    away = attrs(country="BR", network="AS28573", ip="192.0.2.200")
    before = model.score("alice", away, 21 * DAY)
    model.learn_legitimate("alice", away, 21 * DAY)
    after = model.score("alice", away, 21 * DAY + 60)
    assert after.score < before.score / 5
    assert "new country for this account (BR)" not in after.reasons


def test_labelled_attacks_make_their_attributes_attacker_like():
    t = 21 * DAY
    plain, labelled = trained(), trained()
    bot_ua = "python-httpx/0.28.1"
    for i in range(30):
        labelled.learn_attack(attrs(country="US", network="AS14061", ua=bot_ua), t + i)
    login = attrs(country="US", network="AS14061", ua=bot_ua)
    lr = "log_likelihood_ratio"
    assert (
        labelled.score("bob", login, t + 60).evidence[lr]
        > math.log(5) + (plain.score("bob", login, t + 60).evidence[lr])
    )
    reasons = labelled.score("bob", login, t + 60).reasons
    assert "network AS14061 seen in confirmed attacks" in reasons


def test_unknown_and_missing_top_values_are_new_to_an_account_that_had_them():
    model = trained()
    t = 21 * DAY
    unplaced = LoginAttributes.build(network="10.0.0.0/24", ip="10.0.0.7")
    risk = model.score("alice", unplaced, t)
    # the unknown country is a value the account never showed, not a skip
    assert risk.evidence["factors"]["country"] > 20
    assert "address could not be placed, new for this account" in risk.reasons
    garbage = LoginAttributes.build(
        country="DE", network="AS3320", ip="192.0.2.10", user_agent="\x00\x01 zzz"
    )
    risk = model.score("alice", garbage, t)
    assert risk.evidence["factors"]["os"] > 20
    assert "unrecognised user agent, new for this account" in risk.reasons
    empty = LoginAttributes.build()
    risk = model.score("alice", empty, t)
    assert risk.evidence["factors"]["country"] > 20
    assert risk.evidence["factors"]["os"] > 20
    assert risk.score > 0.9
    assert {
        "no valid source address, this account's logins had one",
        "no user agent, this account always sends one",
    } <= set(risk.reasons)
    for login in (unplaced, garbage, empty):
        reasons = model.score("alice", login, t).reasons
        assert not any("None" in r or "?" in r for r in reasons)
    # without an account there is nothing to be new to: the prior alone
    prior = LoginModelSettings().attack_prior
    assert model.score(None, empty, t).score == pytest.approx(prior)


def test_history_fades_with_its_half_life():
    model = LoginRiskModel(LoginModelSettings(account_half_life_days=10))
    for day in range(5):
        model.assess_one("alice", HOME, day * DAY, success=True)
    fresh = model.score("alice", HOME, 5 * DAY).evidence["account_logins"]
    faded = model.score("alice", HOME, 25 * DAY).evidence["account_logins"]
    assert faded == pytest.approx(fresh / 4, rel=0.01)


def test_weights_are_rescaled_over_long_gaps_without_overflow():
    model = LoginRiskModel(
        LoginModelSettings(
            account_half_life_days=1,
            population_half_life_days=1,
            max_clock_skew_hours=24 * 101,  # the gaps below are in line
        )
    )
    for day in (0, 0.5, 1, 100, 200, 300):
        risk = model.assess_one("alice", HOME, day * DAY, success=True)
        assert 0.0 <= risk.score <= 1.0
    history = model.history("alice")
    assert history is not None and max(history.counts.values()) < 2**61
    assert model.score("alice", HOME, 300 * DAY + 1).score < 0.5


def test_accounts_are_bounded_least_recently_learned_first():
    model = LoginRiskModel(LoginModelSettings(max_accounts=10))
    for i in range(100):
        model.assess_one(f"user{i}", HOME, i, success=True)
    model.assess_one("user91", HOME, 200, success=True)
    for i in range(5):
        model.assess_one(f"late{i}", HOME, 300 + i, success=True)
    assert model.accounts == 10
    assert model.history("user91") is not None
    assert model.history("user90") is None


def test_an_account_keeps_a_bounded_history_and_its_strongest_values():
    model = LoginRiskModel(LoginModelSettings(max_values_per_account=16))
    for day in range(30):
        model.assess_one("alice", HOME, day * DAY, success=True, second_factor=True)
        roaming = attrs(country="DE", network="AS3320", ip=f"192.0.2.{100 + day}")
        model.assess_one("alice", roaming, day * DAY + 1, success=True)
    history = model.history("alice")
    assert history is not None
    assert len(history.counts) <= 16
    assert model.score("alice", HOME, 31 * DAY).score < 0.01


def test_population_counts_are_bounded():
    model = LoginRiskModel(LoginModelSettings(max_population_keys=50))
    for i in range(200):
        model.assess_one(f"u{i}", attrs(ip=f"192.0.2.{i}"), i, success=True)
    assert len(model._population) <= 50


def test_state_round_trips_through_json_and_continues_identically():
    model = trained(logins=5, population=5)
    stuffing(model, 5 * DAY, accounts=8)
    model.learn_attack(attrs(country="US", network="AS14061"), 5 * DAY)
    model.learn_created("newbie", 5 * DAY)
    state = msgspec.json.decode(msgspec.json.encode(model.get_state()))
    restored = LoginRiskModel()
    restored.set_state(state)
    encode = msgspec.json.encode
    assert encode(restored.get_state()) == encode(state)
    logins = (
        ("alice", HOME),
        ("alice", attrs(country="BR")),
        ("newbie", attrs(network="AS16276")),
    )
    for i, (account, login) in enumerate(logins):
        t = 5 * DAY + 100 + i
        a = model.assess_one(account, login, t, success=True)
        b = restored.assess_one(account, login, t, success=True)
        assert a == b


def test_a_state_from_elsewhere_is_refused_with_a_hint():
    with pytest.raises(ConfigError, match="version"):
        LoginRiskModel().set_state({"version": 99})
    state = LoginRiskModel().get_state()
    state["population"] = {"t0": None}
    with pytest.raises(ConfigError, match="damaged"):
        LoginRiskModel().set_state(state)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("attack_prior", 0.0),
        ("attack_prior", 1.0),
        ("learn_below", 1.5),
        ("account_half_life_days", 0),
        ("novelty_priors", (0.1, 0.2)),
        ("max_accounts", 0),
        ("legit_failure_share", -1.0),
        ("stuffing_success_rate", 0.0),
        ("activity_prior_logins", 0.0),
    ],
)
def test_settings_reject_unusable_values(field, value):
    with pytest.raises(ConfigError, match=field):
        LoginModelSettings(**{field: value})


# ---------------------------------------------------------------- failures
# evidence from failed logins is weighed against the value's successful use

HOSTING = "AS14061"
TOOL_UA = "python-requests/2.32.3"


def wave(model, t, *, ua, accounts=30):
    """A stuffing wave from rented servers, failing against many accounts."""
    for i in range(accounts):
        bot = attrs(country="US", network=HOSTING, ip=f"203.0.113.{i}", ua=ua)
        model.assess_one(f"victim{i}", bot, t + i, success=False)


def ordinary_day(model, t, *, ua, accounts=60):
    """Owners logging in successfully with ``ua`` from their own networks."""
    for i in range(accounts):
        home = attrs(country="DE", network=f"AS{3000 + i}", ip=f"192.0.2.{i}", ua=ua)
        model.assess_one(f"owner{i}", home, t + i, success=True)


def test_a_stuffing_wave_copying_a_common_user_agent_spares_its_owners():
    t = 21 * DAY
    calm, attacked = trained(), trained()
    for model in (calm, attacked):
        ordinary_day(model, t, ua=CHROME_WIN)
    wave(attacked, t + 100, ua=CHROME_WIN)
    before = calm.score("alice", HOME, t + 200)
    after = attacked.score("alice", HOME, t + 200)
    assert not any("failing" in reason for reason in after.reasons)
    assert after.score < 1.5 * before.score
    assert after.evidence["attacker_factors"]["user_agent"] < 1.5
    assert after.evidence["failing_accounts"]["user_agent"] == 30
    assert after.evidence["succeeding_accounts"]["user_agent"] == 60


def test_a_user_agent_nobody_logs_in_with_is_strong_evidence():
    t = 21 * DAY
    model = trained()
    ordinary_day(model, t, ua=CHROME_WIN)
    wave(model, t + 100, ua=TOOL_UA)
    risk = model.score("bob", attrs(country="DE", ua=TOOL_UA), t + 200)
    assert risk.evidence["attacker_factors"]["user_agent"] > 20
    assert (
        "user agent (Python Requests) seen failing against 30 accounts in the "
        "last 24 h" in risk.reasons
    )


def test_the_more_accounts_use_a_value_successfully_the_weaker_its_failures():
    t = 21 * DAY
    factors = []
    for owners in (0, 10, 40, 160):
        model = trained()
        for i in range(owners):
            shared = attrs(country="US", network=HOSTING, ip=f"198.51.100.{i}")
            model.assess_one(f"vpn{i}", shared, t + i, success=True)
        wave(model, t + 200, ua=TOOL_UA)
        risk = model.score("alice", attrs(country="US", network=HOSTING), t + 300)
        factors.append(risk.evidence["attacker_factors"]["network"])
    assert factors == sorted(factors, reverse=True)
    assert factors[0] > 20 > 2 > factors[-1]


def test_one_account_logging_in_again_and_again_does_not_whitewash_a_source():
    t = 21 * DAY
    model = trained()
    bot = attrs(country="US", network=HOSTING, ip="203.0.113.7", ua=TOOL_UA)
    for i in range(30):
        model.assess_one(f"victim{i}", bot, t + i, success=False)
    for i in range(100):
        model.assess_one("mule", bot, t + 100 + i, success=True)
    risk = model.score("alice", bot, t + 300)
    assert risk.evidence["attacker_factors"]["ip"] > 10
    assert risk.evidence["succeeding_accounts"]["ip"] == 1


def test_an_accounts_own_mistyped_passwords_are_no_evidence_against_it():
    model = trained()
    t = 21 * DAY
    new_address = attrs(ip="192.0.2.99")
    for i in range(3):
        model.assess_one("alice", new_address, t + i, success=False)
    risk = model.assess_one("alice", new_address, t + 10, success=True)
    assert "failing_accounts" not in risk.evidence
    assert risk.evidence["learned"] is True
