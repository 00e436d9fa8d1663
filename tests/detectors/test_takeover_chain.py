from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from trustwatch.detectors.base import Signal
from trustwatch.detectors.takeover_chain import TakeoverChainDetector
from trustwatch.enrichment.geo import GeoInfo
from trustwatch.errors import ConfigError
from trustwatch.events.model import (
    ApiTokenCreated,
    EmailChanged,
    FileDownloaded,
    FileShared,
    LinkCreated,
    Login,
    MfaChanged,
    PasswordChanged,
)
from trustwatch.features.context import EventContext
from trustwatch.testing import check_detector, synthetic_events

T0 = datetime(2026, 5, 1, 8, tzinfo=UTC)
ATTACKER_IP = "198.51.100.7"
HOME_IP = "203.0.113.20"


class CountryByAddress:
    """A geo resolver for tests: 198.51.100.x is in BR, everything else in DE."""

    def lookup(self, ip):
        return GeoInfo("BR" if ip.startswith("198.51.100.") else "DE", None, None)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def login(eid, seconds, *, ok=True, ip=ATTACKER_IP, account="alice", **fields):
    return Login(
        event_id=eid, ts=at(seconds), account=account, ip=ip, success=ok, **fields
    )


def risky(score=0.7, kind="risky_login", reason="new country for this account (BR)"):
    return Signal(
        detector="login_risk",
        detector_version="1",
        kind=kind,
        score=score,
        entity_type="account",
        entity="alice",
        event_id="l1",
        reasons=(reason,),
    )


def downloads(start, n, *, spacing=10, ip=ATTACKER_IP, account="alice"):
    return [
        FileDownloaded(
            event_id=f"d{start + i * spacing}",
            ts=at(start + i * spacing),
            account=account,
            ip=ip,
            file_id=f"f{i}",
        )
        for i in range(n)
    ]


def run(detector, items, geo=None):
    """Run (event, raised signals) pairs, or bare events, through the detector."""
    found = []
    for item in items:
        event, raised = item if isinstance(item, tuple) else (item, [])
        ctx = EventContext(event, geo)
        ctx.raised.extend(raised)
        found.extend(detector.process_one(event, ctx))
    return found


def test_chain_fires_with_each_step_in_its_reasons():
    detector = TakeoverChainDetector()
    events = [
        (login("l1", 0), [risky()]),
        EmailChanged(event_id="em", ts=at(7200), account="alice", ip=ATTACKER_IP),
        *downloads(10_800, 40, spacing=15),
    ]
    found = run(detector, events, geo=CountryByAddress())

    assert [s.event_id for s in found] == ["em", "d11085", "d11385"]
    assert {(s.kind, s.entity_type, s.entity) for s in found} == {
        ("takeover_chain", "account", "alice")
    }
    last = found[-1]
    assert last.reasons == (
        "risky login 3 h ago from BR: new country for this account (BR)",
        "then email changed 2 h after the login",
        "then 40 downloads in 10 min",
    )
    assert [step["step"] for step in last.evidence["steps"]] == [
        "email_changed",
        "downloads",
    ]
    assert last.evidence["login_kinds"] == ["risky_login"]


def test_each_credential_and_persistence_step_is_named():
    detector = TakeoverChainDetector()
    events = [
        (login("l1", 0), [risky()]),
        PasswordChanged(event_id="pw", ts=at(60), account="alice", via_recovery=True),
        MfaChanged(event_id="mfa", ts=at(120), account="alice", change="disabled"),
        ApiTokenCreated(event_id="tok", ts=at(180), account="alice"),
    ]
    found = run(detector, events)
    assert found[-1].reasons[1:] == (
        "then password reset through account recovery 1 min after the login",
        "then MFA disabled 2 min after the login",
        "then an API token created 3 min after the login",
    )


def test_share_and_public_link_bursts_are_steps():
    detector = TakeoverChainDetector(share_burst=10, link_burst=5)
    shares = [
        FileShared(
            event_id=f"s{i}",
            ts=at(100 + i),
            account="alice",
            file_id="f1",
            recipients=("a", "b", "c", "d"),
        )
        for i in range(3)
    ]
    links = [
        LinkCreated(event_id=f"k{i}", ts=at(200 + i), account="alice", link_id=f"k{i}")
        for i in range(5)
    ]
    private = LinkCreated(
        event_id="p", ts=at(300), account="alice", link_id="p", public=False
    )
    found = run(detector, [(login("l1", 0), [risky()]), *shares, *links, private])
    assert [s.event_id for s in found] == ["s2", "k4"]
    assert found[-1].reasons[1:] == (
        "then files shared with 12 recipients in 10 min",
        "then 5 public links created in 10 min",
    )


def test_same_actions_after_a_normal_login_raise_nothing():
    detector = TakeoverChainDetector()
    events = [
        login("l0", 0, ip=HOME_IP),
        login("l1", 3600, ip=HOME_IP),
        EmailChanged(event_id="em", ts=at(7200), account="alice"),
        MfaChanged(event_id="mfa", ts=at(7300), account="alice", change="disabled"),
        *downloads(10_800, 60),
    ]
    assert run(detector, events, geo=CountryByAddress()) == []


def test_steps_before_the_risky_login_are_no_chain():
    detector = TakeoverChainDetector()
    events = [
        EmailChanged(event_id="em", ts=at(0), account="alice"),
        (login("l1", 60), [risky()]),
    ]
    assert run(detector, events) == []


def test_a_step_dated_before_the_login_but_arriving_after_it_is_no_chain():
    # a settings log delivered late: the change happened hours before the login
    detector = TakeoverChainDetector()
    events = [
        (login("l1", 5 * 3600), [risky()]),
        EmailChanged(event_id="em", ts=at(0), account="alice"),
    ]
    assert run(detector, events) == []
    on_time = [(login("l1", 5 * 3600), [risky()])]
    on_time.append(EmailChanged(event_id="em", ts=at(5 * 3600 + 60), account="alice"))
    assert len(run(TakeoverChainDetector(), on_time)) == 1


def test_a_step_after_the_window_has_closed_is_no_chain():
    window = 86_400
    inside = TakeoverChainDetector(window=window)
    outside = TakeoverChainDetector(window=window)
    opened = (login("l1", 0), [risky()])

    def change(seconds):
        return EmailChanged(event_id="em", ts=at(seconds), account="alice")

    assert len(run(inside, [opened, change(window - 60)])) == 1
    assert run(outside, [opened, change(window + 60)]) == []


def test_a_new_risky_login_extends_the_window():
    detector = TakeoverChainDetector(window=3600)
    events = [
        (login("l1", 0), [risky()]),
        (login("l2", 3000), [risky(0.6)]),
        EmailChanged(event_id="em", ts=at(6000), account="alice"),
    ]
    found = run(detector, events)
    assert [s.event_id for s in found] == ["em"]
    assert found[0].reasons == (
        "risky login 2 h ago: new country for this account (BR) "
        "(and 1 more risky login)",
        "then email changed 50 min after the login",
    )
    assert found[0].evidence["risky_logins"] == 2


def test_chain_scores_above_its_login_and_grows_with_steps():
    detector = TakeoverChainDetector()
    events = [
        (login("l1", 0), [risky(0.6)]),
        ApiTokenCreated(event_id="tok", ts=at(60), account="alice", ip=ATTACKER_IP),
        EmailChanged(event_id="em", ts=at(120), account="alice", ip=ATTACKER_IP),
        MfaChanged(event_id="mfa", ts=at(180), account="alice", ip=ATTACKER_IP),
    ]
    scores = [s.score for s in run(detector, events)]
    assert len(scores) == 3
    assert 0.6 < scores[0] < scores[1] < scores[2] < 1.0


def test_severe_steps_score_above_mild_ones():
    def score_after(step):
        detector = TakeoverChainDetector()
        return run(detector, [(login("l1", 0), [risky(0.5)]), step])[0].score

    email = EmailChanged(event_id="em", ts=at(60), account="alice")
    token = ApiTokenCreated(event_id="tok", ts=at(60), account="alice")
    assert score_after(email) > score_after(token)


def test_a_late_step_weighs_less_than_an_early_one():
    def score_at(seconds):
        detector = TakeoverChainDetector(window=86_400)
        step = EmailChanged(event_id="em", ts=at(seconds), account="alice")
        return run(detector, [(login("l1", 0), [risky()]), step])[0].score

    assert score_at(600) > score_at(80_000)


def test_a_step_from_another_address_and_session_weighs_less():
    def chain(ip, session):
        detector = TakeoverChainDetector()
        step = EmailChanged(
            event_id="em", ts=at(60), account="alice", ip=ip, session_id=session
        )
        opened = (login("l1", 0, session_id="s-attacker"), [risky()])
        return run(detector, [opened, step])[0]

    same = chain(ATTACKER_IP, "s-attacker")
    other = chain(HOME_IP, "s-owner")
    assert other.score < same.score
    assert other.reasons[1].endswith("from another address")
    assert not same.reasons[1].endswith("from another address")


def test_login_signal_kinds_and_scores_decide_what_is_risky():
    def found(*raised):
        detector = TakeoverChainDetector(fallback=False)
        step = EmailChanged(event_id="em", ts=at(60), account="alice")
        return run(detector, [(login("l1", 0), list(raised)), step])

    assert found(risky(0.8, kind="login_after_failures"))
    assert found(risky(0.8, kind="impossible_travel"))
    assert not found(risky(0.8, kind="risky_url"))
    assert not found(risky(0.3))
    assert not found()
    both = found(risky(0.55), risky(0.9, kind="impossible_travel", reason="far"))
    assert both[0].evidence["login_kinds"] == ["impossible_travel", "risky_login"]
    assert both[0].reasons[0] == "risky login 1 min ago: far"


def test_a_failed_login_with_a_risky_signal_opens_no_chain():
    detector = TakeoverChainDetector()
    events = [
        (login("l1", 0, ok=False), [risky(0.9)]),
        EmailChanged(event_id="em", ts=at(60), account="alice"),
    ]
    assert run(detector, events) == []


def test_fallback_success_after_a_failure_burst_opens_a_chain():
    detector = TakeoverChainDetector(failure_burst=5)
    failures = [login(f"x{i}", i, ok=False) for i in range(6)]
    events = [
        *failures,
        login("l1", 30),
        PasswordChanged(event_id="pw", ts=at(90), account="alice", ip=ATTACKER_IP),
    ]
    found = run(detector, events)
    assert [s.event_id for s in found] == ["pw"]
    assert found[0].reasons[0] == (
        "risky login 1 min ago: success after 6 failed logins in 10 min"
    )
    assert found[0].evidence["login_kinds"] == ["failure_burst"]


def test_fallback_needs_the_burst_and_is_off_when_disabled():
    few = [login(f"x{i}", i, ok=False) for i in range(3)]
    many = [login(f"x{i}", i, ok=False) for i in range(8)]
    step = EmailChanged(event_id="em", ts=at(90), account="alice")
    assert run(TakeoverChainDetector(), [*few, login("l1", 30), step]) == []
    quiet = TakeoverChainDetector(fallback=False)
    assert run(quiet, [*many, login("l1", 30), step]) == []


def test_fallback_new_country_opens_a_chain_but_a_new_device_alone_does_not():
    geo = CountryByAddress()
    home = login("l0", 0, ip=HOME_IP, device_id="laptop")
    step = EmailChanged(event_id="em", ts=at(4000), account="alice")

    abroad = TakeoverChainDetector()
    found = run(abroad, [home, login("l1", 3600, device_id="laptop"), step], geo)
    assert found[0].reasons[0].endswith("from BR: new country for this account (BR)")

    phone = login("l1", 3600, ip=HOME_IP, device_id="phone")
    assert run(TakeoverChainDetector(), [home, phone, step], geo) == []


def test_fallback_learns_a_country_only_after_its_chain_passes_quietly():
    geo = CountryByAddress()
    detector = TakeoverChainDetector(window=3600)
    home = login("l0", 0, ip=HOME_IP)
    trip = [login("l1", 100), login("l2", 200)]  # risky: nothing learned yet
    later = [
        login("l3", 10_000),  # the chain passed with no step: BR is now known
        EmailChanged(event_id="em", ts=at(10_100), account="alice"),
    ]
    assert run(detector, [home, *trip, *later], geo) == []
    state = detector.get_state()
    assert sorted(state["history"][0][1][0]) == ["BR", "DE"]


def test_a_chain_that_alerted_does_not_teach_its_login():
    geo = CountryByAddress()
    detector = TakeoverChainDetector(window=3600)
    events = [
        login("l0", 0, ip=HOME_IP),
        login("l1", 100),
        EmailChanged(event_id="em", ts=at(200), account="alice"),
        login("l2", 10_000),
        EmailChanged(event_id="em2", ts=at(10_100), account="alice"),
    ]
    assert [s.event_id for s in run(detector, events, geo)] == ["em", "em2"]


def test_repeated_steps_and_events_without_account_add_nothing():
    detector = TakeoverChainDetector()
    events = [
        (login("l1", 0), [risky()]),
        EmailChanged(event_id="em1", ts=at(60), account="alice"),
        EmailChanged(event_id="em2", ts=at(120), account="alice"),
        EmailChanged(event_id="em3", ts=at(180)),
        login("x", 200, account=None, username=None),
    ]
    assert [s.event_id for s in run(detector, events)] == ["em1"]


def test_chains_are_bounded_and_evict_the_least_recently_used():
    detector = TakeoverChainDetector(max_accounts=10, fallback=False)
    accounts = [f"user{i}" for i in range(50)]
    for i, account in enumerate(accounts):
        run(detector, [(login(f"l{i}", i, account=account), [risky()])])
    state = detector.get_state()
    assert [k for k, _ in state["chains"]] == accounts[-10:]

    def step(account):
        return EmailChanged(event_id=f"em-{account}", ts=at(100), account=account)

    assert run(detector, [step("user0")]) == []
    assert len(run(detector, [step("user49")])) == 1


def test_account_history_is_bounded():
    detector = TakeoverChainDetector(max_accounts=5)
    run(detector, [login(f"l{i}", i, account=f"user{i}") for i in range(20)])
    assert len(detector.get_state()["history"]) == 5


def test_state_round_trips_through_json_mid_chain():
    events = [
        (login("l1", 0), [risky()]),
        *downloads(100, 25, spacing=5),
        EmailChanged(event_id="em", ts=at(400), account="alice", ip=HOME_IP),
        *downloads(500, 30, spacing=5),
    ]
    whole = run(TakeoverChainDetector(), events)
    assert len(whole) >= 3

    before = TakeoverChainDetector()
    head = run(before, events[:15])
    state = msgspec.json.decode(msgspec.json.encode(before.get_state()))
    after = TakeoverChainDetector()
    after.set_state(state)
    assert head + run(after, events[15:]) == whole


def test_passes_the_conformance_suite_and_finds_the_synthetic_takeover():
    def factory():
        return TakeoverChainDetector(failure_burst=1)

    check_detector(factory)
    found = factory().process(synthetic_events())
    assert found and all(s.entity == "user2" for s in found)


@pytest.mark.parametrize(
    "params",
    [
        {"window": 0},
        {"burst_window": -1},
        {"min_login_score": 0},
        {"min_login_score": 1.5},
        {"download_burst": 0},
        {"max_accounts": 0},
    ],
)
def test_bad_parameters_are_config_errors(params):
    with pytest.raises(ConfigError, match="takeover_chain"):
        TakeoverChainDetector(**params)
