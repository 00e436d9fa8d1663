import math
import random
from datetime import UTC, datetime, timedelta

import msgspec
import numpy as np
import pytest

from trustwatch.detectors.behaviour_baseline import (
    BehaviourBaselineDetector,
    window_quantile,
)
from trustwatch.errors import ConfigError
from trustwatch.events.model import (
    FileDownloaded,
    FileShared,
    FileUploaded,
    LinkCreated,
    Login,
)
from trustwatch.testing import check_detector, synthetic_events

T0 = datetime(2026, 5, 4, tzinfo=UTC)  # a Monday, 00:00 UTC
USUAL = [4, 5, 6, 7, 8] * 6  # 30 active hours; the 95th percentile is 8


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def download(seconds, *, account="alice", device="laptop"):
    return FileDownloaded(
        event_id=f"d-{account}-{seconds}",
        ts=at(seconds),
        account=account,
        device_id=device,
        file_id="f",
    )


def usual_hours(counts=USUAL, *, first_hour=0, account="alice", day_hours=None):
    """Downloads from minute 10 of each hour, 30 s apart, one hour per count.

    ``day_hours`` spreads the hours over these hours of the day (UTC), a day
    at a time, instead of one hour after the other.
    """
    events = []
    for i, count in enumerate(counts):
        hour = first_hour + i
        if day_hours is not None:
            hour = 24 * (i // len(day_hours)) + day_hours[i % len(day_hours)]
        start = 3600 * hour + 600
        events += [download(start + 30 * j, account=account) for j in range(count)]
    return events


def burst(hour, n, *, minute=10, spacing=1, device="laptop", account="alice"):
    start = 3600 * hour + 60 * minute
    return [
        download(start + spacing * j, device=device, account=account) for j in range(n)
    ]


def test_a_download_burst_is_flagged_against_the_account_s_own_percentile():
    detector = BehaviourBaselineDetector(warmup=16)
    found = detector.process(usual_hours() + burst(30, 60))

    assert len(found) == 1
    signal = found[0]
    assert (signal.kind, signal.entity_type, signal.entity) == (
        "behaviour_anomaly",
        "account",
        "alice",
    )
    assert signal.event_id == burst(30, 60)[49].event_id  # the 50th download
    assert signal.reasons == (
        "50 downloads in 1 h, 6x this account's usual 95th percentile "
        "(8 per active hour)",
    )
    assert signal.evidence["volumes"] == {
        "downloads": {"count": 50, "usual": 8.0, "quantile": 8.0, "threshold": 50.0}
    }
    assert signal.score == pytest.approx(0.5)


def test_the_threshold_follows_the_baseline_not_a_fixed_count():
    busy = [40, 45, 50] * 10  # a heavy user: 95th percentile 50
    detector = BehaviourBaselineDetector()
    found = detector.process(usual_hours(busy) + burst(30, 240))
    assert [s.evidence["volumes"]["downloads"]["count"] for s in found] == [250]
    quiet = BehaviourBaselineDetector().process(usual_hours() + burst(30, 240))
    assert quiet[0].evidence["volumes"]["downloads"]["count"] == 50


def test_usual_activity_and_modest_rises_raise_nothing():
    rng = random.Random(7)
    counts = [rng.randint(0, 12) for _ in range(200)]
    detector = BehaviourBaselineDetector()
    assert detector.process(usual_hours(counts)) == []
    assert detector.process(burst(200, 45)) == []  # under the least count


def test_no_alert_before_the_warm_up_is_over():
    events = usual_hours(USUAL[:10]) + burst(10, 300)
    assert BehaviourBaselineDetector(warmup=16).process(events) == []
    assert BehaviourBaselineDetector(warmup=8).process(events)


def test_alerts_repeat_only_as_the_count_doubles_and_scores_rise():
    found = BehaviourBaselineDetector().process(usual_hours() + burst(30, 420))
    counts = [s.evidence["volumes"]["downloads"]["count"] for s in found]
    assert counts == [50, 100, 200, 400]
    scores = [s.score for s in found]
    assert scores == sorted(scores) and scores[-1] > 0.99


def test_a_flagged_burst_does_not_raise_the_baseline():
    def bursty():
        events = usual_hours()
        for k in range(6):  # six bursts of 300, each followed by a usual hour
            events += burst(30 + 2 * k, 300) + usual_hours([6], first_hour=31 + 2 * k)
        return events + usual_hours([5], first_hour=50)

    flagging = BehaviourBaselineDetector()
    assert flagging.process(bursty())
    assert flagging.baseline("alice")["downloads"] == 8.0

    # the same stream, learned by a detector that flags nothing and lets its
    # baseline grow at any speed, moves its norm
    blind = BehaviourBaselineDetector(factor=1000.0, growth=1000.0)
    assert blind.process(bursty()) == []
    assert blind.baseline("alice")["downloads"] > 100


def test_a_flagged_hour_followed_by_a_quiet_spell_is_not_learned():
    detector = BehaviourBaselineDetector()
    events = usual_hours() + burst(30, 60) + usual_hours([5, 5], first_hour=40)
    assert detector.process(events)
    ((_, state),) = detector.get_state()["accounts"]
    assert state["learned"] == 30  # hour 30 was flagged; hour 40 is held
    assert 60 not in state["samples"][: detector.history]


def test_a_burst_across_the_hour_boundary_teaches_neither_hour():
    before = burst(30, 40, minute=54)  # under the least count in its hour
    after = burst(31, 40, minute=0)  # the sliding count passes 50 here
    detector = BehaviourBaselineDetector()
    events = usual_hours() + before + after + usual_hours([5, 5, 5], first_hour=32)
    found = detector.process(events)
    assert [s.evidence["volumes"]["downloads"]["count"] for s in found] == [50]

    ((_, state),) = detector.get_state()["accounts"]
    assert state["learned"] == 31  # hours 0-29 and 32 (33 is held); not 30, 31
    downloads = state["samples"][: detector.history]
    assert 40 not in downloads


def test_each_volume_has_its_own_baseline_and_words():
    def hours_with(make, hours=48):
        return [make(3600 * h + 600, h) for h in range(hours)]

    share = FileShared(
        event_id="s",
        ts=at(3600 * 48 + 60),
        account="alice",
        file_id="f",
        recipients=tuple(f"r{i}" for i in range(30)),
    )
    links = [
        LinkCreated(
            event_id=f"k{i}",
            ts=at(3600 * 48 + 120 + i),
            account="alice",
            link_id=f"k{i}",
        )
        for i in range(10)
    ]
    uploads = [
        FileUploaded(
            event_id=f"u{i}",
            ts=at(3600 * 48 + 200 + i),
            account="alice",
            file_id=f"u{i}",
        )
        for i in range(50)
    ]
    logins = hours_with(
        lambda t, h: Login(event_id=f"l{h}", ts=at(t), account="alice", success=True)
    )
    found = BehaviourBaselineDetector().process([*logins, share, *links, *uploads])
    assert [s.reasons[0] for s in found] == [
        "files shared with 30 recipients in 1 h, 30x this account's usual 95th "
        "percentile of 0 per active hour, counted as 1",
        "10 links created in 1 h, 10x this account's usual 95th percentile "
        "of 0 per active hour, counted as 1",
        "50 uploads in 1 h, 50x this account's usual 95th percentile "
        "of 0 per active hour, counted as 1",
    ]
    assert [sorted(s.evidence["volumes"]) for s in found] == [
        ["shares"],
        ["links", "shares"],
        ["links", "shares", "uploads"],
    ]
    assert found[2].reasons[1:] == (
        "files shared with 30 recipients in 1 h, 30x this account's usual 95th "
        "percentile of 0 per active hour, counted as 1",
        "10 links created in 1 h, 10x this account's usual 95th percentile "
        "of 0 per active hour, counted as 1",
    )
    assert found[0].score < found[1].score < found[2].score


def test_a_new_device_at_an_unusual_hour_raises_the_score():
    office = [9, 10, 11, 12, 13, 14, 15, 16]
    history = usual_hours(USUAL, day_hours=office)
    day = 24 * 5
    familiar = BehaviourBaselineDetector().process(history + burst(day + 11, 60))
    odd = BehaviourBaselineDetector().process(
        history + burst(day + 3, 60, device="unknown-phone")
    )
    assert familiar[0].reasons[1:] == ()
    assert odd[0].reasons[1:] == (
        "from a device this account has not used before",
        "at 03:00 UTC, an hour this account is rarely active in",
    )
    assert odd[0].evidence["new_device"] is True
    assert odd[0].score > familiar[0].score
    phone = BehaviourBaselineDetector().process(
        history + burst(day + 11, 60, device="unknown-phone")
    )
    assert phone[0].reasons[1:] == ("from a device this account has not used before",)
    assert familiar[0].score < phone[0].score < odd[0].score


def test_failed_logins_and_anonymous_events_are_not_activity():
    failures = [
        Login(event_id=f"x{h}", ts=at(3600 * h), account="alice", success=False)
        for h in range(40)
    ]
    anonymous = [
        FileDownloaded(event_id=f"a{i}", ts=at(3600 * 40 + i), file_id="f")
        for i in range(100)
    ]
    detector = BehaviourBaselineDetector(warmup=10)
    assert detector.process(failures + anonymous + burst(41, 100)) == []
    assert detector.baseline("alice") == {
        "downloads": 0.0,
        "uploads": 0.0,
        "shares": 0.0,
        "links": 0.0,
    }
    assert detector.baseline("bob") is None


def test_accounts_are_bounded_least_recently_used_first():
    detector = BehaviourBaselineDetector(max_accounts=10)
    for i in range(50):
        detector.process([download(i, account=f"user{i}")])
    state = detector.get_state()
    assert [name for name, _ in state["accounts"]] == [
        f"user{i}" for i in range(40, 50)
    ]
    assert state["evicted"] == 40
    assert detector.baseline("user0") is None


def test_a_touched_account_is_kept_and_the_order_survives_a_checkpoint():
    detector = BehaviourBaselineDetector(max_accounts=3)
    detector.process([download(i, account=f"user{i}") for i in range(3)])
    detector.process([download(10, account="user0")])  # user0 is used again
    detector.process([download(11, account="user3")])  # evicts user1, not user0
    state = msgspec.json.decode(msgspec.json.encode(detector.get_state()))
    assert [name for name, _ in state["accounts"]] == ["user2", "user0", "user3"]

    restored = BehaviourBaselineDetector(max_accounts=3)
    restored.set_state(state)
    restored.process([download(12, account="user4")])
    assert [name for name, _ in restored.get_state()["accounts"]] == [
        "user0",
        "user3",
        "user4",
    ]
    assert restored.evicted == 2


def spread(hour, count, *, account="alice"):
    """``count`` downloads spread evenly over one hour."""
    start = 3600 * hour
    return [download(start + 3599 * j // count, account=account) for j in range(count)]


def ramp(detector, hours, *, first_hour=30):
    """Each hour, download just under the account's current threshold.

    Returns the downloads made and the signals raised.
    """
    made, found = 0, []
    for hour in range(first_hour, first_hour + hours):
        usual = detector.baseline("alice")["downloads"]
        count = math.ceil(max(50.0, 5.0 * max(usual, 1.0))) - 1
        found += detector.process(spread(hour, count))
        made += count
    return made, found


def test_the_review_s_ramp_is_flagged_once_it_outgrows_the_baseline():
    # 10 downloads an hour, then each hour just under five times
    # the 95th percentile the detector had learned without a growth limit
    climb = [49, 49, 49, 49, 136, 244, 244, 244, 352, 786, 1219, 1219]
    events = usual_hours([10] * 30)
    for i, count in enumerate(climb):
        events += spread(30 + i, count)
    old = BehaviourBaselineDetector(growth=1000.0).process(events)
    assert old == []  # how it went before: about 5,000 downloads unflagged

    found = BehaviourBaselineDetector().process(events)
    assert found
    first = found[0]
    assert first.event_id in {e.event_id for e in spread(34, 136)}
    assert first.evidence["volumes"]["downloads"]["threshold"] < 136


def test_a_ramp_under_the_threshold_is_held_to_the_growth_limit():
    detector = BehaviourBaselineDetector()
    detector.process(usual_hours([10] * 30))
    made, found = ramp(detector, 12)
    assert found == []  # it stays under the threshold: never flagged...
    assert made < 900  # ...but moves 884 downloads, not about 5,000
    level = detector.baseline("alice")["downloads"]
    assert 10.0 < level <= 10.0 * 1.1**12

    unlimited = BehaviourBaselineDetector(growth=1000.0)
    unlimited.process(usual_hours([10] * 30))
    assert ramp(unlimited, 12)[0] > 4000


def test_a_rise_under_the_factor_is_learned_without_alerts():
    detector = BehaviourBaselineDetector()
    found = detector.process(usual_hours([10] * 30))
    levels = []
    for hour in range(30, 90):  # the account now downloads 40 an hour
        found += detector.process(usual_hours([40], first_hour=hour))
        levels.append(detector.baseline("alice")["downloads"])
    assert found == []
    assert levels[4] < 20.0  # held back while it rises...
    assert levels[-1] == 40.0  # ...and learned within a day
    assert levels == sorted(levels)


def test_a_held_back_level_is_said_in_the_reason():
    detector = BehaviourBaselineDetector()
    detector.process(usual_hours([10] * 30))
    ramp(detector, 8)
    before = detector.baseline("alice")["downloads"]
    (signal, *_) = detector.process(spread(38, 600))
    volume = signal.evidence["volumes"]["downloads"]
    level = volume["usual"]
    # hour 37 was learned as hour 38 began: the level grew once more at most
    assert before < level <= before * 1.1 + 1e-3
    assert volume["quantile"] > level
    assert signal.reasons[0] == (
        f"{volume['count']} downloads in 1 h, "
        f"{volume['count'] / level:.0f}x this account's usual level "
        f"({level:.3g} per active hour; its 95th percentile, "
        f"{volume['quantile']:.3g}, rose faster than the baseline may grow)"
    )


def test_a_long_unsettled_growth_allowance_does_not_overflow():
    # 130 hours between the free level and the least count are never compared
    # with a threshold: after the warm-up the allowance grows past 1000**110,
    # beyond any float
    detector = BehaviourBaselineDetector(growth=1000.0)
    assert detector.process(usual_hours([20] * 130)) == []
    found = detector.process(spread(130, 400))
    assert found[0].evidence["volumes"]["downloads"]["usual"] == 20.0


def test_a_usual_level_under_one_is_said_to_count_as_one():
    # one download every 20 active hours, then 60 in one hour
    logins = [
        Login(event_id=f"l{h}", ts=at(3600 * h), account="alice", success=True)
        for h in range(40)
    ]
    events = logins + [download(3600 * h + 5) for h in (0, 20)]
    events.sort(key=lambda e: e.ts)
    detector = BehaviourBaselineDetector()
    (signal,) = detector.process(events + burst(41, 60, minute=0))
    assert detector.baseline("alice")["downloads"] == pytest.approx(0.05)
    assert signal.reasons == (
        "50 downloads in 1 h, 50x this account's usual 95th percentile of "
        "0.05 per active hour, counted as 1",
    )


def test_asking_for_the_baseline_changes_nothing():
    def stream():
        events = usual_hours([10] * 30)
        for hour, count in enumerate([49, 49, 49, 49, 60, 66, 73, 300], start=30):
            events += spread(hour, count)
        return events

    quiet = BehaviourBaselineDetector().process(stream())
    asking = BehaviourBaselineDetector()
    watched = []
    for event in stream():
        watched += asking.process([event])
        asking.baseline("alice")
    assert watched == quiet
    assert quiet


def test_state_round_trips_through_json_mid_burst():
    events = usual_hours() + burst(30, 120) + usual_hours([5, 6], first_hour=31)
    events += burst(33, 260, device="tablet")
    whole = BehaviourBaselineDetector().process(events)
    assert len(whole) >= 4

    cut = len(usual_hours()) + 70
    before = BehaviourBaselineDetector()
    head = before.process(events[:cut])
    state = msgspec.json.decode(msgspec.json.encode(before.get_state()))
    after = BehaviourBaselineDetector()
    after.set_state(state)
    assert after.baseline("alice") == before.baseline("alice")
    assert head + after.process(events[cut:]) == whole


def test_a_state_saved_with_another_history_is_refused():
    state = BehaviourBaselineDetector(history=32).get_state()
    other = BehaviourBaselineDetector(history=32)
    other.process(usual_hours(USUAL[:3]))
    with pytest.raises(ConfigError, match="history"):
        BehaviourBaselineDetector(history=64).set_state(other.get_state())
    BehaviourBaselineDetector(history=64).set_state(state)  # empty: fine


def test_passes_the_conformance_suite():
    def sensitive():
        least = {"shares": 5, "links": 1, "uploads": 2, "downloads": 1}
        return BehaviourBaselineDetector(
            period=600, warmup=2, factor=2.0, min_counts=least
        )

    check_detector(sensitive)
    assert sensitive().process(synthetic_events())
    events = usual_hours() + burst(30, 120) + usual_hours([5], first_hour=31)
    check_detector(lambda: BehaviourBaselineDetector(max_accounts=3), events)


def test_window_quantile_matches_numpy():
    rng = random.Random(3)
    for size in (1, 2, 5, 64):
        values = [rng.randrange(500) for _ in range(size)]
        for q in (0.5, 0.9, 0.95):
            assert window_quantile(values, q) == pytest.approx(np.quantile(values, q))
    with pytest.raises(ValueError, match="no values"):
        window_quantile([], 0.95)


@pytest.mark.parametrize(
    "params",
    [
        {"period": 0},
        {"history": 0},
        {"warmup": -1},
        {"quantile": 1.0},
        {"factor": 0},
        {"min_counts": {"deletions": 5}},
        {"min_counts": {"downloads": 0}},
        {"max_accounts": 0},
        {"growth": 0.9},
        {"growth": float("nan")},
    ],
)
def test_bad_parameters_are_config_errors(params):
    with pytest.raises(ConfigError, match="behaviour_baseline"):
        BehaviourBaselineDetector(**params)
