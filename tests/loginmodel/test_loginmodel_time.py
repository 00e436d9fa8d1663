"""One login dated far ahead or behind neither breaks nor wipes the login model."""

import math
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustwatch.loginmodel import LoginAttributes, LoginModelSettings, LoginRiskModel
from trustwatch.loginmodel.clock import StreamClock
from trustwatch.loginmodel.counts import DecayedCounts
from trustwatch.loginmodel.history import AccountHistory

DAY = 86_400.0
START = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
#: The latest time the event decoders accept (just before 2200).
LATEST = datetime(2199, 12, 31, 23, 59, tzinfo=UTC).timestamp()
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC).timestamp()
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
)


def home(i=0):
    return LoginAttributes.build(
        country="GB", network="AS20712", ip=f"81.2.69.{160 + i % 50}", user_agent=CHROME
    )


def away():
    return LoginAttributes.build(
        country="BR", network="AS22548", ip="200.160.0.8", user_agent=CHROME
    )


def busy_day(model, start, *, accounts=100, logins=2_000):
    """``logins`` logins of ``accounts`` accounts from home over a day."""
    step = DAY / logins
    for i in range(logins):
        model.assess_one(f"user{i % accounts}", home(i % accounts), start + i * step,
                         success=True)  # fmt: skip
    return start + logins * step


# ------------------------------------------------------------------ the clock


def test_one_outlier_never_moves_the_clock():
    clock = StreamClock(max_skew=DAY, confirmations=3)
    assert [clock.place(START + i) for i in range(3)] == [False, False, True]
    assert clock.place(LATEST) is False
    assert clock.now == START + 2
    assert clock.place(START + 60) is True
    assert clock.now == START + 60
    # behind by more than the skew: out of line too
    assert clock.place(EARLIEST) is False
    assert clock.now == START + 60


def test_a_run_of_agreeing_logins_moves_the_clock_either_way():
    clock = StreamClock(max_skew=DAY, confirmations=3)
    for i in range(3):
        clock.place(START + i)
    later = START + 3 * DAY  # the stream comes back after three quiet days
    assert [clock.place(later + i) for i in range(3)] == [False, False, True]
    assert clock.now == later + 2
    # a stream replayed from a year before follows the same way
    earlier = START - 365 * DAY
    assert [clock.place(earlier + i) for i in range(3)] == [False, False, True]
    assert clock.now == earlier + 2


def test_an_outlier_inside_a_run_restarts_it():
    clock = StreamClock(max_skew=DAY, confirmations=3)
    for i in range(3):
        clock.place(START + i)
    later = START + 3 * DAY
    assert not clock.place(later)
    assert not clock.place(EARLIEST)  # disagrees: the run starts again here
    assert not clock.place(later + 1)
    assert not clock.place(later + 2)
    assert clock.place(later + 3)


def test_the_clock_round_trips_and_refuses_bad_settings():
    clock = StreamClock(max_skew=DAY, confirmations=2)
    clock.place(START)
    restored = StreamClock(max_skew=DAY, confirmations=2)
    restored.set_state(msgspec.json.decode(msgspec.json.encode(clock.get_state())))
    assert restored.place(START + 1) and restored.now == START + 1
    with pytest.raises(ValueError, match="positive"):
        StreamClock(max_skew=0.0)


# ------------------------------------------------------------------ the arithmetic


@pytest.mark.parametrize("t", [EARLIEST, START, LATEST, -1e12, 1e15])
def test_fading_counts_stay_finite_for_any_time(t):
    counts = DecayedCounts(half_life=14 * DAY, max_keys=100, pinned=1)
    counts.add((1, 2), START)
    counts.pinned[0] += counts.weight(START)
    for when in (t, START, t):
        scale = counts.scale(when)
        assert 0.0 <= scale <= 1.0
        assert math.isfinite(counts.weight(when))
        counts.add((3,), when)
        assert all(math.isfinite(v) for v in counts.table.values())
    history = AccountHistory(START)
    for when in (t, START, t):
        assert 0.0 <= history.scale(when, 90 * DAY) <= 1.0
        assert math.isfinite(history.weight(when, 90 * DAY))


def test_a_count_far_behind_its_reference_moves_the_reference_back():
    counts = DecayedCounts(half_life=DAY, max_keys=100)
    counts.add((1,), LATEST)
    counts.add((1,), START)  # centuries before: counted, not weighed as zero
    assert counts.t0 == START
    assert counts.get(1) * counts.scale(START) == pytest.approx(2.0)


# ------------------------------------------------------------------ the model


@pytest.mark.parametrize("ahead", [LATEST, START + 15 * 365 * DAY, START + 3 * DAY])
def test_a_login_far_ahead_is_scored_not_learned_and_wipes_nothing(ahead):
    model = LoginRiskModel()
    t = busy_day(model, START)
    population = len(model._population)
    t0 = model._population.t0
    before = model.score("user1", home(1), t).score

    risk = model.assess_one("user1", home(1), ahead, success=True)

    assert 0.0 <= risk.score <= 1.0
    assert risk.evidence["learned"] is False
    assert "ahead of the stream's clock" in risk.evidence["not_learned_reason"]
    assert risk.evidence["clock_offset_s"] > 0
    # nothing moved: the population, its clock, the account's last login
    assert len(model._population) == population
    assert model._population.t0 == t0
    history = model.history("user1")
    assert history is not None and history.last < t
    # the stream goes on as before, learned and scored the same
    after = model.assess_one("user1", home(1), t + 60, success=True)
    assert after.evidence["learned"] is True
    assert after.score == pytest.approx(before, rel=0.05)


def test_a_login_dated_far_ahead_is_scored_against_the_history_it_would_fade():
    model = LoginRiskModel()
    t = busy_day(model, START)
    now = model.score("user1", away(), t)
    forged = model.assess_one("user1", away(), LATEST, success=True)
    # not a faded account's first login: the new country counts as now
    assert forged.reasons[0] == "new country for this account (BR)"
    assert forged.score == pytest.approx(now.score, rel=0.05)


def test_a_login_dated_far_behind_is_not_read_against_an_inflated_history():
    model = LoginRiskModel()
    t = busy_day(model, START)
    now = model.score("user1", away(), t)
    back = model.assess_one("user1", away(), EARLIEST, success=True)
    assert back.evidence["learned"] is False
    assert "behind the stream's clock" in back.evidence["not_learned_reason"]
    assert back.score == pytest.approx(now.score, rel=0.05)


def test_a_stream_that_starts_with_a_future_login_is_not_ruled_by_it():
    model = LoginRiskModel()
    model.assess_one("alice", home(), LATEST, success=True)
    t = busy_day(model, START)
    assert model._clock.now == pytest.approx(t, abs=DAY)
    history = model.history("user1")
    assert history is not None and history.total * history.scale(t, 90 * DAY) > 10
    # the population's counts weigh as learned, not as 2 ** -4500
    risk = model.score("user1", home(1), t)
    assert risk.score < 0.01
    assert model.score("user1", away(), t).reasons[0].startswith("new country")


def test_a_failed_login_far_ahead_is_not_counted_in_the_days_evidence():
    model = LoginRiskModel()
    t = busy_day(model, START)
    bot = LoginAttributes.build(
        country="NL", network="AS16276", ip="203.0.113.9", user_agent=CHROME
    )
    for i in range(12):
        model.assess_one(f"victim{i}", bot, LATEST - i, success=False)
        model.assess_one("user1", home(1), t + i, success=True)
    # the tries would otherwise stay "in the last 24 h" for 175 years
    risk = model.score("user1", bot, t + 2 * DAY)
    assert "failing_accounts" not in risk.evidence


def test_a_real_gap_in_the_stream_is_followed_after_a_few_logins():
    model = LoginRiskModel()
    t = busy_day(model, START, logins=500)
    back = t + 5 * DAY  # five quiet days, then the stream resumes
    learned = [
        model.assess_one(f"user{i}", home(i), back + i, success=True).evidence[
            "learned"
        ]
        for i in range(6)
    ]
    assert learned == [False, False, True, True, True, True]
    assert model._clock.now == back + 5


def test_direct_learning_out_of_line_with_the_clock_is_refused():
    model = LoginRiskModel()
    t = busy_day(model, START, logins=500)
    assert model.learn_legitimate("user1", away(), LATEST) is False
    assert model.learn_attack(away(), LATEST) is False
    assert model.learn_created("newbie", LATEST) is False
    assert model.learn_attempt("x", away(), LATEST, success=False) is False
    assert (
        "new country for this account (BR)" in model.score("user1", away(), t).reasons
    )
    assert model.learn_legitimate("user1", away(), t) is True


def test_the_clock_is_saved_with_the_state():
    model = LoginRiskModel()
    t = busy_day(model, START, logins=200)
    state = msgspec.json.decode(msgspec.json.encode(model.get_state()))
    restored = LoginRiskModel()
    restored.set_state(state)
    a = model.assess_one("user1", home(1), LATEST, success=True)
    b = restored.assess_one("user1", home(1), LATEST, success=True)
    assert a == b and a.evidence["learned"] is False
    assert restored.assess_one("user1", home(1), t + 1, success=True).evidence[
        "learned"
    ]


when = st.one_of(
    st.floats(min_value=EARLIEST, max_value=LATEST),
    st.floats(min_value=START, max_value=START + 3 * DAY),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["alice", "bob", None]),
            when,
            st.booleans(),
            st.sampled_from([home(), away(), LoginAttributes.build()]),
        ),
        max_size=30,
    )
)
def test_any_accepted_times_in_any_order_never_break_the_model(logins):
    model = LoginRiskModel(LoginModelSettings(clock_confirmations=2))
    for account, t, success, attrs in logins:
        risk = model.assess_one(account, attrs, t, success=success)
        assert 0.0 <= risk.score <= 1.0
        assert math.isfinite(risk.evidence["log_likelihood_ratio"])
        model.learn_legitimate("alice", attrs, t)
        model.score("bob", attrs, t)
    state = msgspec.json.decode(msgspec.json.encode(model.get_state()))
    LoginRiskModel(LoginModelSettings(clock_confirmations=2)).set_state(state)
