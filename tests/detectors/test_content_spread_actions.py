"""Spread detection and the actions a malicious file's spread leads to."""

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from trustwatch.content.fuzzy import available_algorithms, tlsh_distance
from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.model import stable_id
from trustwatch.decisions.policy import default_policy, policy_from_dict
from trustwatch.detectors.base import Signal
from trustwatch.detectors.content_spread import ContentSpreadDetector
from trustwatch.detectors.intel_match import IntelMatchDetector
from trustwatch.errors import ConfigError, PolicyError
from trustwatch.events.model import (
    EventBase,
    FileDownloaded,
    FileShared,
    FileUploaded,
    LinkAccessed,
    LinkCreated,
)
from trustwatch.features.context import EventContext
from trustwatch.intel.indicators import indicator_from_text
from trustwatch.intel.store import IndicatorStore
from trustwatch.runtime.pipeline import Pipeline

needs_tlsh = pytest.mark.skipif(
    "tlsh" not in available_algorithms(),
    reason="py-tlsh (the fuzzy extra) is not installed",
)

T0 = datetime(2026, 5, 1, tzinfo=UTC)
LISTED = "ab" * 32  # a SHA-256 the test feed lists
OTHER = "cd" * 32


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def upload(
    i: int,
    account: str,
    sha256: str | None = LISTED,
    tlsh: str | None = None,
    file_id: str | None = None,
) -> FileUploaded:
    return FileUploaded(
        event_id=f"u{i}",
        ts=at(i),
        account=account,
        file_id=file_id or f"f{i}",
        sha256=sha256,
        tlsh=tlsh,
    )


def link(i: int, link_id: str, file_id: str, public: bool = True) -> LinkCreated:
    return LinkCreated(
        event_id=f"l{i}",
        ts=at(i),
        account="alice",
        link_id=link_id,
        file_id=file_id,
        public=public,
    )


def tlsh_digest(body: bytes, length: int = 0x40) -> str:
    """Return a well-formed TLSH hex digest with the given 32-byte body."""
    assert len(body) == 32
    return "T1" + bytes([0x11, length, 0x22, *body]).hex().upper()


BASE_TLSH = tlsh_digest(bytes(32))


def near(changed_bytes: int) -> str:
    """A digest ``changed_bytes`` body bytes away from the base (1 each)."""
    return tlsh_digest(bytes([1] * changed_bytes + [0] * (32 - changed_bytes)))


FAR_TLSH = tlsh_digest(bytes([0xFF] * 32))


@needs_tlsh
def test_synthetic_digests_are_as_far_apart_as_the_tests_assume():
    assert tlsh_distance(BASE_TLSH, near(5)) == 5
    assert tlsh_distance(BASE_TLSH, FAR_TLSH) > 700


def flagged(
    event: EventBase, kind: str = "intel_hash", score: float = 0.9
) -> EventContext:
    """A context in which an earlier detector flagged ``event``'s file."""
    ctx = EventContext(event)
    ctx.raised.append(
        Signal(
            detector="earlier",
            detector_version="1",
            kind=kind,
            score=score,
            entity_type="file",
            entity="x",
            event_id=event.event_id,
        )
    )
    return ctx


def run(detector: ContentSpreadDetector, events: list[EventBase]) -> list[Signal]:
    found: list[Signal] = []
    for event in events:
        found.extend(detector.process_one(event, EventContext(event)))
    return found


def actions_of(decisions: list) -> set[tuple[str, str, str]]:
    return {
        (a.type, a.target_type, a.target) for d in decisions if d for a in d.actions
    }


def listed_upload_scenario() -> tuple[Pipeline, IndicatorStore, list]:
    """Alice uploads and links a file; the feed lists it; Bob uploads a copy."""
    store = IndicatorStore()
    pipeline = Pipeline(
        [IntelMatchDetector(store), ContentSpreadDetector()],
        DecisionEngine(default_policy()),
    )
    before = [
        upload(1, "alice"),
        link(2, "lnk-a", "f1"),
        link(3, "lnk-b", "f1"),
    ]
    decisions = [pipeline.process_one(e) for e in before]
    store.add(indicator_from_text(LISTED, feed="test-hashes", confidence=90))
    decisions.append(pipeline.process_one(upload(4, "bob")))
    return pipeline, store, decisions


def test_hash_listed_upload_quarantines_disables_every_link_and_reviews_uploaders():
    _, _, decisions = listed_upload_scenario()
    assert all(d is None or d.actions == [] for d in decisions[:3])
    hit = decisions[3]
    assert hit is not None
    assert hit.verdict.decision == "quarantine_file"
    assert actions_of([hit]) == {
        ("quarantine_file", "file", "f1"),
        ("quarantine_file", "file", "f4"),
        ("disable_link", "link", "lnk-a"),
        ("disable_link", "link", "lnk-b"),
        ("send_to_review", "account", "alice"),
        ("send_to_review", "account", "bob"),
    }
    # one action per target: the intel rules and the spread rules do not repeat
    assert len(hit.actions) == 6
    signal = next(s for s in hit.verdict.signals if s.kind == "malicious_content")
    assert signal.evidence["because"] == "intel_hash"
    assert signal.evidence["targets"] == {
        "file": ["f1", "f4"],
        "link": ["lnk-a", "lnk-b"],
        "account": ["alice", "bob"],
    }


def test_later_links_and_new_uploaders_of_known_malicious_content_are_acted_on():
    pipeline, _, _ = listed_upload_scenario()
    late_link = pipeline.process_one(link(5, "lnk-c", "f4", public=False))
    assert late_link is not None
    assert actions_of([late_link]) == {("disable_link", "link", "lnk-c")}
    newcomer = pipeline.process_one(upload(6, "carol"))
    assert actions_of([newcomer]) == {
        ("quarantine_file", "file", "f6"),
        ("send_to_review", "account", "carol"),
    }
    spread = next(s for s in newcomer.verdict.signals if s.kind == "malicious_content")
    assert spread.evidence["targets"] == {"file": ["f6"], "account": ["carol"]}


def test_known_malicious_content_is_remembered_without_a_new_intel_hit():
    detector = ContentSpreadDetector()
    first = upload(1, "alice")
    assert [s.kind for s in detector.process_one(first, flagged(first))] == [
        "malicious_content"
    ]
    # a copy by another account, with no intel detector in front this time
    found = run(detector, [upload(2, "bob"), upload(3, "bob", file_id="f3")])
    assert [s.evidence["targets"] for s in found] == [
        {"file": ["f2"], "account": ["bob"]},
        {"file": ["f3"]},  # bob is in review already
    ]


@pytest.mark.parametrize("kind", ["yara_match", "fuzzy_hash_match", "intel_hash"])
def test_content_scans_and_fuzzy_matches_mark_content_malicious(kind):
    detector = ContentSpreadDetector()
    run(detector, [link(0, "lnk", "f1")])
    event = upload(1, "alice", sha256=None)
    found = detector.process_one(event, flagged(event, kind))
    assert [s.kind for s in found] == ["malicious_content"]
    assert found[0].evidence["targets"]["link"] == ["lnk"]
    assert found[0].score == pytest.approx(0.9)


def test_a_weak_earlier_signal_does_not_mark_content_malicious():
    detector = ContentSpreadDetector(malicious_score=0.5)
    event = upload(1, "alice")
    assert detector.process_one(event, flagged(event, score=0.3)) == []
    assert run(detector, [link(2, "lnk", "f1")]) == []


def test_a_spread_far_past_its_threshold_marks_content_malicious():
    detector = ContentSpreadDetector(uploaders=2, malicious_spread=2.0)
    events: list[EventBase] = [link(0, "lnk", "f1")]
    events += [upload(i, f"acct{i}", sha256=OTHER) for i in range(1, 5)]
    found = run(detector, events)
    malicious = [s for s in found if s.kind == "malicious_content"]
    assert [s.event_id for s in malicious] == ["u4"]
    assert malicious[0].evidence["because"] == "content_spread_uploads"
    assert malicious[0].evidence["targets"]["account"] == [
        "acct1",
        "acct2",
        "acct3",
        "acct4",
    ]
    assert malicious[0].evidence["targets"]["link"] == ["lnk"]
    never = ContentSpreadDetector(uploaders=2, malicious_spread=None)
    assert "malicious_content" not in {s.kind for s in run(never, events)}


@needs_tlsh
def test_near_fuzzy_hashes_count_as_the_same_content():
    detector = ContentSpreadDetector(uploaders=3, fuzzy_distance=30)
    events = [
        upload(1, "a", sha256="01" * 32, tlsh=BASE_TLSH),
        upload(2, "b", sha256="02" * 32, tlsh=near(2)),
        upload(3, "c", sha256="03" * 32, tlsh=FAR_TLSH),  # a cluster of its own
        upload(4, "d", sha256="04" * 32, tlsh=near(5)),
    ]
    found = run(detector, events)
    assert [(s.kind, s.event_id) for s in found] == [("content_spread_uploads", "u4")]
    assert found[0].entity == f"sha256:{'01' * 32}"
    assert found[0].evidence == {
        "uploaders": 3,
        "file_id": "f4",
        "content": f"sha256:{'04' * 32}",
        "tlsh_distance": 5,
    }


@needs_tlsh
def test_fuzzy_clusters_need_a_near_and_recent_neighbour():
    detector = ContentSpreadDetector(uploaders=2, fuzzy_distance=4, window=100)
    events = [
        upload(1, "a", sha256="01" * 32, tlsh=BASE_TLSH),
        upload(2, "b", sha256="02" * 32, tlsh=near(5)),  # too far
        upload(500, "c", sha256="03" * 32, tlsh=near(1)),  # the base is stale
    ]
    assert run(detector, events) == []


@needs_tlsh
def test_an_unreadable_tlsh_falls_back_to_the_exact_hash():
    detector = ContentSpreadDetector(uploaders=2)
    events = [
        upload(1, "a", sha256="01" * 32, tlsh="not-a-digest"),
        upload(2, "b", sha256="02" * 32, tlsh=BASE_TLSH),
        upload(3, "c", sha256="02" * 32, tlsh="T1" + "0" * 69),
        upload(4, "d", sha256="03" * 32, tlsh=near(1)),
    ]
    found = run(detector, events)
    # the unreadable digests neither crash nor poison the cluster of the base
    assert [s.event_id for s in found] == ["u3", "u4"]
    assert found[-1].evidence["uploaders"] == 3
    assert detector.unreadable_tlsh == 2


def test_public_link_opened_from_many_addresses():
    detector = ContentSpreadDetector(public_link_ips=10, link_sources=1_000)
    events: list[EventBase] = [
        link(0, "pub", "f1", public=True),
        link(1, "priv", "f1", public=False),
    ]
    for i in range(12):
        for link_id in ("pub", "priv", "unknown"):
            events.append(
                LinkAccessed(
                    event_id=f"{link_id}{i}",
                    ts=at(10 + i),
                    link_id=link_id,
                    ip=f"198.51.100.{i}",
                )
            )
    # the same addresses again, written another way, and from accounts
    events += [
        LinkAccessed(
            event_id=f"again{i}",
            ts=at(30 + i),
            link_id="pub",
            account=f"acct{i}",
            ip=f"::ffff:198.51.100.{i}",
        )
        for i in range(12)
    ]
    found = run(detector, events)
    assert {s.entity for s in found} == {"pub"}
    assert {s.kind for s in found} == {"public_link_fanout"}
    assert [s.event_id for s in found][:3] == ["pub9", "pub10", "pub11"]
    assert max(s.evidence["addresses"] for s in found) == 12
    assert found[0].evidence["file_id"] == "f1"


def test_public_link_downloads_count_as_hits():
    detector = ContentSpreadDetector(public_link_ips=3, link_sources=1_000)
    events: list[EventBase] = [link(0, "pub", "f1")]
    events += [
        FileDownloaded(
            event_id=f"d{i}",
            ts=at(i + 1),
            file_id="f1",
            link_id="pub",
            ip=f"203.0.113.{i}",
        )
        for i in range(3)
    ]
    found = [s for s in run(detector, events) if s.kind == "public_link_fanout"]
    assert [s.event_id for s in found] == ["d2"]


def download(i: float, who: str, file_id: str = "f1") -> FileDownloaded:
    return FileDownloaded(event_id=f"d{who}{i}", ts=at(i), account=who, file_id=file_id)


def test_download_fan_out_after_a_share_against_the_downloads_before():
    detector = ContentSpreadDetector(downloaders=10, download_growth=5.0)
    events: list[EventBase] = [upload(0, "owner", sha256=OTHER)]
    events += [download(i, f"early{i}") for i in range(1, 4)]  # 3 before the share
    events.append(
        FileShared(
            event_id="share",
            ts=at(100),
            account="owner",
            file_id="f1",
            recipients=("x",),
        )
    )
    events += [download(200 + i, f"late{i}") for i in range(20)]
    found = [s for s in run(detector, events) if s.kind == "download_fanout"]
    # ten would do, but three before the share ask for five times as many
    assert found[0].evidence == {
        "downloaders": 15,
        "downloaders_before": 3,
        "seconds_since_share": 114.0,
        "file_id": "f1",
    }
    assert len(found) == 6


def test_downloads_without_a_recent_share_are_no_fan_out():
    detector = ContentSpreadDetector(downloaders=5, window=1_000)
    never_shared = [download(i, f"u{i}") for i in range(20)]
    assert run(detector, never_shared) == []
    late = ContentSpreadDetector(downloaders=5, window=1_000)
    events: list[EventBase] = [link(0, "lnk", "f1")]
    events += [download(5_000 + i, f"u{i}") for i in range(20)]  # window over
    assert run(late, events) == []
    linked = ContentSpreadDetector(downloaders=5, window=1_000)
    events = [link(0, "lnk", "f1")] + [download(10 + i, f"u{i}") for i in range(5)]
    assert [s.kind for s in run(linked, events)] == ["download_fanout"]


@needs_tlsh
def test_state_round_trip_keeps_the_file_to_links_map():
    events: list[EventBase] = [
        upload(1, "alice"),
        link(2, "lnk-a", "f1"),
        link(3, "lnk-b", "f1"),
        upload(4, "bob", sha256=OTHER, tlsh=BASE_TLSH),
    ]
    before = ContentSpreadDetector()
    run(before, events)
    state = msgspec.json.decode(msgspec.json.encode(before.get_state()))
    after = ContentSpreadDetector()
    after.set_state(state)
    assert after.get_state() == before.get_state()
    hit = upload(5, "carol")
    found = after.process_one(hit, flagged(hit))
    assert found[0].evidence["targets"] == {
        "file": ["f1", "f5"],
        "link": ["lnk-a", "lnk-b"],
        "account": ["alice", "carol"],
    }
    # the fuzzy cluster survives too
    near_copy = upload(6, "dave", sha256="05" * 32, tlsh=near(1))
    assert after.process_one(near_copy, EventContext(near_copy)) == []
    assert dict(after.get_state()["content_cluster"])[f"sha256:{'05' * 32}"] == (
        f"sha256:{OTHER}"
    )


def test_remembered_targets_are_bounded():
    detector = ContentSpreadDetector(max_targets=3)
    events: list[EventBase] = [upload(0, "alice", file_id="f")]
    events += [link(i, f"lnk{i}", "f") for i in range(1, 10)]
    run(detector, events)
    hit = upload(20, "bob")
    targets = detector.process_one(hit, flagged(hit))[0].evidence["targets"]
    assert targets["link"] == ["lnk1", "lnk2", "lnk3"]


def test_action_ids_are_deterministic_and_replays_issue_the_same_ids():
    first = listed_upload_scenario()[2][3]
    second = listed_upload_scenario()[2][3]
    assert [a.action_id for a in first.actions] == [a.action_id for a in second.actions]
    verdict_id = first.verdict.verdict_id
    for action in first.actions:
        rule = action.actor.split("#")[-1]
        assert action.action_id == stable_id(
            "act", verdict_id, rule, action.target_type, action.target, action.mode
        )
    assert len({a.action_id for a in first.actions}) == len(first.actions)


def test_evidence_targets_in_a_policy_rule():
    policy = policy_from_dict(
        {
            "name": "p",
            "version": "1",
            "rules": [
                {
                    "id": "links",
                    "signals": ["k"],
                    "action": "disable_link",
                    "target": "evidence:link",
                }
            ],
        },
        "test",
    )
    event = upload(1, "alice")

    def with_targets(targets: object) -> Signal:
        return Signal(
            detector="d",
            detector_version="1",
            kind="k",
            score=0.9,
            entity_type="file",
            entity="x",
            event_id=event.event_id,
            evidence={"targets": targets},
        )

    engine = DecisionEngine(policy)
    _, actions = engine.decide(event, [with_targets({"link": ["l1", "l2", "l1", ""]})])
    assert [(a.target_type, a.target) for a in actions] == [
        ("link", "l1"),
        ("link", "l2"),
    ]
    for damaged in ({"link": "l1"}, ["l1"], {"link": [3]}, {"file": ["f"]}):
        verdict, actions = DecisionEngine(policy).decide(event, [with_targets(damaged)])
        assert actions == [] and verdict.rules == ()


def test_an_unknown_evidence_target_type_is_refused():
    rule = {"id": "r", "signals": ["k"], "action": "disable_link"}
    for target in ("evidence:links", "evidence:", 3):
        with pytest.raises(PolicyError, match="evidence:link"):
            policy_from_dict(
                {"name": "p", "version": "1", "rules": [{**rule, "target": target}]},
                "test",
            )


def test_the_default_policy_acts_on_every_new_signal_kind():
    kinds = {k for rule in default_policy().rules for k in rule.signals}
    assert set(ContentSpreadDetector.signal_kinds) <= kinds
    by_target = {
        rule.target
        for rule in default_policy().rules
        if "malicious_content" in rule.signals
    }
    assert by_target == {"evidence:file", "evidence:link", "evidence:account"}


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"uploaders": 0}, "uploaders=0"),
        ({"max_targets": 0}, "max_targets=0"),
        ({"fuzzy_distance": -1}, "fuzzy_distance=-1"),
        ({"malicious_score": 1.5}, "malicious_score=1.5"),
        ({"malicious_spread": 0.5}, "malicious_spread=0.5"),
        ({"download_growth": -2.0}, "download_growth=-2.0"),
    ],
)
def test_meaningless_parameters_are_refused_with_a_hint(params, named):
    with pytest.raises(ConfigError, match=f"{named}.*hint:"):
        ContentSpreadDetector(**params)


def test_intel_runs_before_the_spread_detector_by_default():
    from trustwatch.detectors import default_detectors

    names = [d.name for d in default_detectors(IndicatorStore())]
    # content_spread reads the intel_hash signals of the same upload
    assert names.index("intel_match") < names.index("content_spread")
