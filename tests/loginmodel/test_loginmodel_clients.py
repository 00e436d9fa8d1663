"""Missing, unrecognised and scripted clients, and unplaced addresses, are evidence."""

import math

import pytest

from trustwatch.loginmodel import LoginAttributes, LoginModelSettings, LoginRiskModel

HOUR = 3_600.0
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0"
GB = {"country": "GB", "network": "AS20712", "ip": "81.2.69.160"}
BR = {"country": "BR", "network": "AS22548", "ip": "200.160.0.8"}
VAGUE_AGENTS = [None, "", "-", "garbage", "Mozilla/5.0", "A" * 600]
TOOLS = ["python-requests/2.31", "curl/8.5.0", "okhttp/4.12.0", "Go-http-client/1.1"]


def login(place=GB, ua=CHROME):
    return LoginAttributes.build(**place, user_agent=ua)


def owner_model(ua=CHROME, place=GB, logins=60, settings=None):
    """The review's account: 60 hourly logins from one place with one client,
    among a population of a hundred others doing the same from their homes."""
    model = LoginRiskModel(settings)
    for i in range(logins):
        model.assess_one("alice", login(place, ua), i * HOUR, success=True)
        for other in range(100):
            home = {"country": "GB", "network": f"AS{5000 + other}",
                    "ip": f"198.51.100.{other}"}  # fmt: skip
            model.assess_one(f"u{other}", login(home), i * HOUR + other, success=True)
    return model, logins * HOUR


@pytest.fixture(scope="module")
def trained():
    return owner_model()


def lr(risk):
    return risk.evidence["log_likelihood_ratio"]


@pytest.mark.parametrize("ua", VAGUE_AGENTS + TOOLS)
def test_a_vague_or_scripted_client_from_abroad_is_riskier_than_the_owners_own(
    trained, ua
):
    model, t = trained
    own = model.score("alice", login(BR), t)
    other = model.score("alice", login(BR, ua), t)
    # before, these scored exactly like the owner's own browser from abroad
    assert lr(other) > lr(own) + math.log(20)
    assert other.score > 0.999
    assert other.evidence["factors"]["os"] > 20
    assert not any("None" in r or "?" in r for r in other.reasons)


@pytest.mark.parametrize(
    ("ua", "reason"),
    [
        (None, "no user agent, this account always sends one"),
        ("", "no user agent, this account always sends one"),
        ("garbage", "unrecognised user agent, new for this account"),
        (
            "python-requests/2.31",
            "client without a known operating system (Python Requests), "
            "new for this account",
        ),
    ],
)
def test_the_reasons_say_what_the_client_lacks(trained, ua, reason):
    model, t = trained
    assert reason in model.score("alice", login(GB, ua), t).reasons


@pytest.mark.parametrize(
    ("ua", "name"),
    [
        ("python-requests/2.31", "Python Requests"),
        ("curl/8.5.0", "curl"),
        ("okhttp/4.12.0", "okhttp"),
        ("python-httpx/0.28.1", "python-httpx"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/120.0.0.0 Safari/537.36",
            "HeadlessChrome",
        ),
    ],
)
def test_an_automation_client_carries_attacker_evidence(trained, ua, name):
    model, t = trained
    risk = model.score("bob", login(GB, ua), t)  # no history: nothing to be new to
    assert risk.evidence["automation_client"] is True
    assert risk.evidence["automation_factor"] == 20.0
    assert f"automation client ({name})" in risk.reasons
    browser = model.score("bob", login(GB), t)
    assert lr(risk) >= lr(browser) + math.log(20) - 1e-3


@pytest.mark.parametrize("ua", [*VAGUE_AGENTS, *TOOLS])
def test_a_vague_client_new_to_the_account_is_not_learned_whatever_its_risk(ua):
    # a model that would learn any login by its risk alone
    model, t = owner_model(logins=20, settings=LoginModelSettings(learn_below=1.0))
    before = model.score("alice", login(BR, ua), t + 60)
    first = model.assess_one("alice", login(GB, ua), t, success=True)
    assert first.evidence["learned"] is False
    assert first.evidence["not_learned_reason"].endswith(
        ", new to an account whose logins had a known client"
    )
    # so it does not vouch for the next one
    again = model.assess_one("alice", login(BR, ua), t + 60, success=True)
    assert again.score == pytest.approx(before.score)
    assert again.evidence["learned"] is False
    # the owner's own browser is learned as ever
    own = model.assess_one("alice", login(BR), t + 120, success=True)
    assert own.evidence["learned"] is True


def test_a_vague_client_from_home_stays_under_the_bar_and_says_why_not_learned():
    model, t = owner_model(logins=20)
    risk = model.assess_one("alice", login(GB, None), t, success=True)
    assert risk.score < 0.5
    assert "no user agent, this account always sends one" in risk.reasons
    assert risk.evidence["not_learned_reason"] == (
        "no user agent, new to an account whose logins had a known client"
    )


def test_the_reviews_scripted_login_is_not_learned_and_the_next_stays_risky():
    model, t = owner_model()
    tool = "python-requests/2.31"
    first = model.assess_one("alice", login(BR, tool), t, success=True)
    nearby = {**BR, "ip": "200.160.0.9"}
    second = model.assess_one("alice", login(nearby, tool), t + 60, success=True)
    assert first.evidence["learned"] is second.evidence["learned"] is False
    assert second.score > 0.99  # was 0.078 once the first had been learned


def test_a_second_factor_vouches_for_a_vague_client():
    model, t = owner_model(logins=20)
    risk = model.assess_one("alice", login(GB, None), t, second_factor=True,
                            success=True)  # fmt: skip
    assert risk.evidence["learned"] is True
    later = model.score("alice", login(GB, None), t + 60)
    assert later.score < risk.score


@pytest.mark.parametrize("ua", [None, "curl/8.5.0", "garbage"])
def test_an_account_that_always_logs_in_so_finds_its_client_familiar(ua):
    model, t = owner_model(ua=ua, logins=20)
    risk = model.assess_one("alice", login(GB, ua), t, success=True)
    assert risk.evidence["learned"] is True
    assert risk.evidence["factors"]["os"] < 1
    assert not any("new" in r for r in risk.reasons)
    # and a browser is new to it
    assert model.score("alice", login(GB), t).evidence["factors"]["os"] > 20


# ---------------------------------------------------------------- addresses

UNPLACED = ["2001:db8::1", "10.1.2.3", "fc00::1", "2c0f:ffff::1"]


def unplaced(ip):
    network = ip.rsplit(".", 1)[0] + ".0/24" if "." in ip else ip + "/64"
    return {"country": None, "network": network, "ip": ip}


@pytest.mark.parametrize("ip", UNPLACED)
def test_an_unplaced_address_does_not_look_like_the_owners_place(trained, ip):
    model, t = trained
    familiar = model.score("alice", login(GB), t)
    risk = model.score("alice", login(unplaced(ip)), t)
    # before, exactly the familiar level, with no reason at all
    assert risk.score > 30 * familiar.score
    assert risk.evidence["factors"]["country"] > 20
    assert "address could not be placed, new for this account" in risk.reasons


@pytest.mark.parametrize("place", [{}, {"country": "GB", "network": "AS20712"}])
def test_a_login_without_an_address_is_new_to_an_account_that_had_one(trained, place):
    model, t = trained
    risk = model.score("alice", LoginAttributes.build(**place, user_agent=CHROME), t)
    assert risk.evidence["factors"]["country"] > 20
    assert "no valid source address, this account's logins had one" in risk.reasons


def test_an_account_often_unplaced_still_scores_its_networks_and_addresses():
    model, t = owner_model(place=unplaced("10.1.2.3"), logins=20)
    familiar = model.score("alice", login(unplaced("10.1.2.3")), t)
    assert familiar.evidence["factors"]["country"] < 1
    assert "address could not be placed" in familiar.reasons
    new_network = model.score("alice", login(unplaced("10.9.9.9")), t)
    assert "new network for this account (10.9.9.0/24)" in new_network.reasons
    assert new_network.score > 10 * familiar.score
