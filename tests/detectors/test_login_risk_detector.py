"""The login_risk detector: every login assessed, risky successes flagged."""

import math
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import msgspec
import pytest

from trustwatch.detectors.login_risk import LoginRiskDetector
from trustwatch.detectors.registry import available, create
from trustwatch.enrichment.geo import BundledGeo, GeoInfo
from trustwatch.events.model import AccountCreated, Login
from trustwatch.features.context import EventContext
from trustwatch.loginmodel import LoginRisk
from trustwatch.testing import check_detector, synthetic_events

T0 = datetime(2026, 5, 1, tzinfo=UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:145.0) Gecko/20100101 Firefox/145.0"


class TableGeo:
    """Documentation addresses placed by their third octet: 2 in DE, 3 in BR."""

    PLACES: ClassVar[dict[str, GeoInfo]] = {
        "192.0.2": GeoInfo("DE", 3320, None),
        "198.51.100": GeoInfo("BR", 28573, None),
        "203.0.113": GeoInfo("NL", 16276, None),
    }

    def lookup(self, ip):
        return self.PLACES.get(ip.rpartition(".")[0], GeoInfo(None, None, None))


GEO = TableGeo()


def login(i, *, user="alice", ip="192.0.2.10", ua=CHROME, ok=True, minutes=None, **kw):
    return Login(
        event_id=f"e{i}",
        ts=T0 + timedelta(minutes=i * 60 * 24 if minutes is None else minutes),
        account=user,
        username=user,
        ip=ip,
        user_agent=ua,
        success=ok,
        **kw,
    )


def run(detector, events, geo=GEO):
    signals = []
    for event in events:
        signals.extend(detector.process_one(event, EventContext(event, geo)))
    return signals


def history(days=15, user="alice"):
    """Daily logins from home, and a population around them."""
    events = []
    for day in range(days):
        events.append(login(day, user=user))
        for other in range(10):
            events.append(
                login(
                    1000 + day * 10 + other,
                    user=f"user{other}",
                    ip=f"192.0.2.{50 + other}",
                    minutes=day * 60 * 24 + other + 1,
                )
            )
    return events


def test_the_detector_is_registered_for_logins():
    assert available()["login_risk"] is LoginRiskDetector
    assert LoginRiskDetector.event_types == frozenset({Login, AccountCreated})
    assert LoginRiskDetector.signal_kinds == ("risky_login",)


def test_it_passes_the_conformance_suite():
    check_detector(LoginRiskDetector)


def test_it_flags_the_synthetic_stream_attackers_success():
    signals = LoginRiskDetector().process(synthetic_events())
    assert signals
    assert {s.kind for s in signals} == {"risky_login"}


def test_a_success_from_a_new_country_raises_risky_login_on_the_account():
    detector = LoginRiskDetector()
    assert run(detector, history()) == []
    [signal] = run(
        detector, [login(99, ip="198.51.100.7", ua=FIREFOX, minutes=15 * 1440)]
    )
    assert signal.kind == "risky_login"
    assert (signal.entity_type, signal.entity, signal.event_id) == (
        "account",
        "alice",
        "e99",
    )
    assert signal.score >= 0.5
    assert "new country for this account (BR)" in signal.reasons
    assert signal.evidence["country"] == "BR"
    assert signal.evidence["factors"]["country"] > 1


def test_failed_logins_are_assessed_but_raise_nothing():
    detector = LoginRiskDetector()
    run(detector, history())
    failure = login(99, ip="198.51.100.7", ok=False, minutes=15 * 1440)
    risk = detector.assess(failure, EventContext(failure, GEO))
    assert isinstance(risk, LoginRisk)
    assert risk.score >= 0.5
    assert risk.evidence["learned"] is False
    assert (
        run(detector, [login(100, ip="198.51.100.7", ok=False, minutes=15 * 1440)])
        == []
    )


def test_min_score_sets_the_bar():
    strict, lax = LoginRiskDetector(min_score=0.999), LoginRiskDetector(min_score=0.2)
    away = [login(99, ip="198.51.100.7", minutes=15 * 1440)]
    assert run(strict, history() + away) == []
    assert [s.event_id for s in run(lax, history() + away)] == ["e99"]


def test_stuffing_from_a_network_raises_the_risk_of_its_next_success():
    def stuffed():
        events = history()
        for i in range(40):
            events.append(
                login(
                    2000 + i,
                    user=f"victim{i}",
                    ip=f"203.0.113.{i}",
                    ok=False,
                    minutes=15 * 1440 + i,
                )
            )
        return events

    calm, attacked = LoginRiskDetector(), LoginRiskDetector()
    run(calm, history())
    run(attacked, stuffed())
    success = login(99, user="user3", ip="203.0.113.99", minutes=15 * 1440 + 60)
    before = calm.assess(success, EventContext(success, GEO))
    after = attacked.assess(success, EventContext(success, GEO))
    assert after.score > before.score
    assert (
        "ASN AS16276 seen failing against 40 accounts in the last 24 h" in after.reasons
    )


def test_a_confirmed_login_joins_the_history():
    detector = LoginRiskDetector()
    run(detector, history())
    away = login(99, ip="198.51.100.7", minutes=15 * 1440)
    assert run(detector, [away])
    detector.confirm(away, EventContext(away, GEO))
    again = login(100, ip="198.51.100.7", minutes=15 * 1440 + 60)
    assert run(detector, [again]) == []


def test_a_login_past_a_second_factor_is_learned():
    detector = LoginRiskDetector()
    run(detector, history())
    away = login(99, ip="198.51.100.7", minutes=15 * 1440, mfa=True)
    assert detector.assess(away, EventContext(away, GEO)).evidence["learned"] is True


def test_labelled_attacks_teach_the_attacker_side():
    plain, taught = LoginRiskDetector(), LoginRiskDetector()
    run(plain, history())
    run(taught, history())
    tool = "python-httpx/0.28.1"
    for i in range(20):
        bot = login(
            3000 + i, user=f"v{i}", ip=f"203.0.113.{i}", ua=tool, minutes=15 * 1440
        )
        taught.label_attack(bot, EventContext(bot, GEO))
    new_user = login(99, user="dave", ip="203.0.113.50", ua=tool, minutes=15 * 1440)
    lr = "log_likelihood_ratio"
    taught_lr = taught.assess(new_user, EventContext(new_user, GEO)).evidence[lr]
    plain_lr = plain.assess(new_user, EventContext(new_user, GEO)).evidence[lr]
    assert taught_lr > plain_lr + math.log(5)


@pytest.mark.parametrize(
    "fields",
    [
        {"ip": None, "user_agent": None},
        {"ip": "2001:db8::7"},
        {"ip": "::ffff:192.0.2.10"},
        {"ip": "not an address"},
        {"ip": "10.0.0.1"},
        {"user_agent": "\x00\uffff" * 600},
        {"user_agent": ""},
        {"account": None, "username": None},
    ],
)
def test_bad_or_missing_fields_do_not_crash(fields):
    detector = LoginRiskDetector()
    run(detector, history(3))
    event = msgspec.structs.replace(login(99, minutes=4 * 1440), **fields)
    risk = detector.assess(event, EventContext(event, GEO))
    assert 0.0 <= risk.score <= 1.0
    assert not any("None" in reason for reason in risk.reasons)
    run(detector, [msgspec.structs.replace(event, event_id="e100")], geo=None)


def test_params_rebuild_the_detector_and_state_round_trips():
    detector = LoginRiskDetector(min_score=0.7, max_accounts=500)
    rebuilt = create("login_risk", **detector.get_params())
    assert rebuilt.get_params() == detector.get_params()
    events = history(4)
    run(detector, events)
    state = msgspec.json.decode(msgspec.json.encode(detector.get_state()))
    rebuilt.set_state(state)
    away = login(99, ip="198.51.100.7", minutes=5 * 1440)
    assert run(rebuilt, [away]) == run(detector, [away])


def test_the_default_detector_flags_simulated_stuffing_takeovers_with_real_geo():
    from trustwatch.simulation import SimulationConfig, simulate

    sim = simulate(SimulationConfig(accounts=300, days=3, seed=4))
    attack_ids = sim.truth.malicious_event_ids()
    detector = LoginRiskDetector()
    geo = BundledGeo()
    benign, attacks = [], []
    for event in sim.events:
        if type(event) is Login:
            risk = detector.assess(event, EventContext(event, geo))
            if event.success and risk.evidence["account_logins"] >= 1:
                (attacks if event.event_id in attack_ids else benign).append(risk.score)
    assert attacks, "the simulation took over no account with a history"
    benign.sort()
    # every takeover of an account with a history outranks 99% of owners' logins
    assert min(attacks) > benign[int(0.99 * len(benign))]


def test_failures_for_names_that_match_no_account_count_as_distinct_accounts():
    detector = LoginRiskDetector()
    run(detector, history(2))
    for i in range(30):
        tried = msgspec.structs.replace(
            login(4000 + i, ip="203.0.113.5", ok=False, minutes=2 * 1440 + i),
            account=None,
            username=f"nobody{i}@example.org",
        )
        run(detector, [tried])
    success = login(99, user="user1", ip="203.0.113.5", minutes=2 * 1440 + 40)
    risk = detector.assess(success, EventContext(success, GEO))
    assert risk.evidence["failing_accounts"]["ip"] == 30
    assert "first login of this account" not in risk.reasons


def test_an_account_creation_tells_when_its_logins_start_to_count():
    detector = LoginRiskDetector()
    run(detector, history())
    created = AccountCreated(event_id="c1", ts=T0 + timedelta(days=15), account="new")
    assert run(detector, [created]) == []
    first = login(99, user="new", ip="192.0.2.80", minutes=15 * 1440 + 5)
    stranger = login(98, user="stranger", ip="192.0.2.81", minutes=15 * 1440 + 5)
    new_risk = detector.assess(first, EventContext(first, GEO))
    stranger_risk = detector.assess(stranger, EventContext(stranger, GEO))
    assert new_risk.evidence["first_login"] and stranger_risk.evidence["first_login"]
    assert new_risk.evidence["activity_factor"] < 1.1
    assert stranger_risk.evidence["activity_factor"] > 5
    # a creation without an account changes nothing
    nameless = AccountCreated(event_id="c2", ts=T0 + timedelta(days=15))
    assert run(detector, [nameless]) == []


# ---------------------------------------------------------------- hostile input
# mistimed logins, missing or tool user agents, unplaced addresses, with the
# bundled geo data

HOME_IP = "81.2.69.160"  # GB in the bundled data
WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


def review_login(i, *, ts, user="alice", ip=HOME_IP, ua=WINDOWS_CHROME):
    return Login(
        event_id=f"r{i}",
        ts=ts,
        account=user,
        username=user,
        ip=ip,
        user_agent=ua,
        success=True,
    )


def owners_history(detector, geo, hours=60):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(hours):
        event = review_login(i, ts=start + timedelta(hours=i))
        detector.assess(event, EventContext(event, geo))
    return start + timedelta(hours=hours)


def test_a_login_dated_2199_neither_stops_the_detector_nor_is_learned():
    geo = BundledGeo()
    detector = LoginRiskDetector()
    now = owners_history(detector, geo)
    future = review_login(100, ts=datetime(2199, 1, 1, 10, tzinfo=UTC))
    [risk_of_future] = [detector.assess(future, EventContext(future, geo))]
    assert risk_of_future.evidence["learned"] is False
    assert (
        "ahead of the stream's clock" in (risk_of_future.evidence["not_learned_reason"])
    )
    # the next logins, of this account and of another, are scored and learned
    state = msgspec.json.decode(msgspec.json.encode(detector.get_state()))
    restored = LoginRiskDetector()
    restored.set_state(state)
    for d in (detector, restored):
        for i, user in enumerate(("alice", "bob")):
            event = review_login(101 + i, ts=now + timedelta(minutes=i), user=user)
            risk = d.assess(event, EventContext(event, geo))
            assert risk.evidence["learned"] is True
            assert risk.score < 0.5


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("user_agent", None, "no user agent, this account always sends one"),
        ("user_agent", "", "no user agent, this account always sends one"),
        ("user_agent", "garbage", "unrecognised user agent, new for this account"),
        ("user_agent", "python-requests/2.31", "automation client (Python Requests)"),
        ("ip", "2001:db8::1", "address could not be placed, new for this account"),
        ("ip", "10.1.2.3", "address could not be placed, new for this account"),
        ("ip", "2c0f:ffff::1", "address could not be placed, new for this account"),
        ("ip", "not-an-ip", "no valid source address, this account's logins had one"),
        ("ip", None, "no valid source address, this account's logins had one"),
    ],
)
def test_what_a_login_lacks_is_evidence_against_it(field, value, reason):
    geo = BundledGeo()
    detector = LoginRiskDetector()
    now = owners_history(detector, geo)
    familiar = review_login(200, ts=now)
    lacking = msgspec.structs.replace(familiar, event_id="r201", **{field: value})
    familiar_risk = detector.model.score(
        "alice", detector._extractor.extract(familiar, EventContext(familiar, geo)),
        EventContext(familiar, geo).t,
    )  # fmt: skip
    risk = detector.assess(lacking, EventContext(lacking, geo))
    assert reason in risk.reasons
    assert risk.evidence["log_likelihood_ratio"] > (
        familiar_risk.evidence["log_likelihood_ratio"] + math.log(10)
    )
