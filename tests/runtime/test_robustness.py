"""Hostile and unlucky inputs: the run goes on, records stay distinct."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy, policy_from_dict
from trustwatch.detectors import default_detectors
from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.credential_attacks import CredentialAttackDetector
from trustwatch.enrichment.geo import BundledGeo
from trustwatch.events.model import EventBase, Login, UrlPosted
from trustwatch.features.context import EventContext
from trustwatch.runtime.embedded import load_intel, run_embedded
from trustwatch.runtime.pipeline import Pipeline
from trustwatch.storage.sqlite import SqliteStore

T0 = datetime(2026, 4, 1, tzinfo=UTC)


def failures(n: int, ip: str = "203.0.113.9", start: int = 0) -> list[Login]:
    return [
        Login(
            event_id=f"f{start + i}",
            ts=T0 + timedelta(seconds=start + i),
            account="bob",
            username="bob",
            ip=ip,
            success=False,
        )
        for i in range(n)
    ]


def write(path: Path, events: Sequence[EventBase]) -> Path:
    path.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in events))
    return path


class Exploding(Detector):
    name = "exploding"
    signal_kinds = ()

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        raise RuntimeError("boom")

    def get_state(self) -> dict[str, object]:
        return {}

    def set_state(self, state: dict[str, object]) -> None:
        pass


def test_a_failing_detector_is_a_dead_letter_and_the_others_still_decide(tmp_path):
    detectors = [Exploding(), CredentialAttackDetector(brute_force_failures=3)]
    path = write(tmp_path / "e.jsonl", failures(4))
    with SqliteStore(tmp_path / "s.sqlite") as store:
        summary = run_embedded([path], store, detectors=detectors)
        letters = store.dead_letters()
    assert summary.signal_kinds["brute_force"] == 2
    assert summary.dead_letters == 4
    assert {d.reason for d in letters} == {"detector_failed"}
    assert "exploding v1 raised RuntimeError" in letters[0].message


@pytest.mark.parametrize(
    "bad", ["localhost", "999.1.1.1", "1.2.3.4/24", "1.2.3.4:5555"]
)
def test_an_invalid_source_address_does_not_stop_a_geolocated_run(tmp_path, bad):
    events = [*failures(2, ip=bad), *failures(12, start=10)]
    path = write(tmp_path / "e.jsonl", events)
    with SqliteStore(tmp_path / "s.sqlite") as store:
        summary = run_embedded([path], store, geo=BundledGeo())
        letters = store.dead_letters()
    # the two events with a bad address are dead letters, saying why; the
    # run goes on over the rest
    assert summary.events == 12
    assert [d.reason for d in letters] == ["invalid_ip", "invalid_ip"]
    assert "not an IPv4 or IPv6 address" in letters[0].message
    assert summary.signal_kinds["brute_force"] == 3


def test_ipv4_mapped_spelling_is_the_same_source():
    events = [
        *failures(6, ip="203.0.113.9"),
        *failures(6, ip="::ffff:203.0.113.9", start=6),
    ]
    found = CredentialAttackDetector(brute_force_failures=10).process(events)
    assert [s.kind for s in found] == ["brute_force"] * 3
    assert {s.entity for s in found} == {"203.0.113.9"}


def test_enforcing_after_a_dry_run_records_the_enforced_actions(tmp_path):
    path = write(tmp_path / "e.jsonl", failures(12))
    with SqliteStore(tmp_path / "s.sqlite") as store:
        dry = run_embedded([path], store)
        enforced = run_embedded([path], store, mode="enforce")
        modes = {a.mode for a in store.iter_actions()}
    assert dry.new_actions == enforced.new_actions == 1
    assert modes == {"dry_run", "enforce"}


def test_a_reused_event_id_with_other_content_gets_its_own_verdict():
    engine = DecisionEngine(default_policy())
    first, second = failures(2)
    second = msgspec.structs.replace(second, event_id=first.event_id)
    signal = Signal(
        detector="d",
        detector_version="1",
        kind="brute_force",
        score=0.9,
        entity_type="ip",
        entity="203.0.113.9",
        event_id=first.event_id,
    )
    a, _ = engine.decide(first, [signal])
    b, _ = engine.decide(second, [signal])
    assert a.verdict_id != b.verdict_id


def test_a_policy_changed_without_a_version_bump_gets_new_verdicts():
    base = {
        "name": "p",
        "version": "1",
        "rules": [{"id": "r", "signals": ["brute_force"], "action": "challenge"}],
    }
    changed = {**base, "rules": [{**base["rules"][0], "action": "lock_account"}]}
    event = failures(1)[0]
    signal = Signal(
        detector="d",
        detector_version="1",
        kind="brute_force",
        score=0.9,
        entity_type="ip",
        entity="x",
        event_id=event.event_id,
    )
    one, _ = DecisionEngine(policy_from_dict(base, "a")).decide(event, [signal])
    two, _ = DecisionEngine(policy_from_dict(changed, "b")).decide(event, [signal])
    assert one.verdict_id != two.verdict_id
    assert one.policy_digest != two.policy_digest


def test_resume_carries_windows_across_runs_and_fresh_runs_stay_idempotent(tmp_path):
    first = write(tmp_path / "a.jsonl", failures(6))
    second = write(tmp_path / "b.jsonl", failures(6, start=6))
    with SqliteStore(tmp_path / "fresh.sqlite") as store:
        apart = [run_embedded([p], store).verdicts for p in (first, second)]
    with SqliteStore(tmp_path / "resumed.sqlite") as store:
        resumed = [
            run_embedded([p], store, resume=True).verdicts for p in (first, second)
        ]
    assert apart == [0, 0]
    assert resumed == [0, 3]


def test_late_events_are_counted(tmp_path):
    events = failures(3, start=3600) + failures(2, start=0)
    path = write(tmp_path / "e.jsonl", events)
    with SqliteStore(tmp_path / "s.sqlite") as store:
        assert run_embedded([path], store).late_events == 2


def test_one_event_dated_far_ahead_makes_no_later_event_late(tmp_path):
    ahead = Login(
        event_id="year-2199",
        ts=datetime(2199, 1, 1, tzinfo=UTC),
        account="a",
        ip="198.51.100.9",
        success=False,
    )
    first = write(tmp_path / "a.jsonl", [*failures(4), ahead, *failures(4, start=60)])
    second = write(tmp_path / "b.jsonl", failures(6, start=600))
    with SqliteStore(tmp_path / "s.sqlite") as store:
        one = run_embedded([first], store, resume=True)
        two = run_embedded([second], store, resume=True)
    assert (one.late_events, one.out_of_line, one.first_out_of_line) == (
        0,
        1,
        "year-2199",
    )
    assert (two.events, two.late_events, two.out_of_line) == (6, 0, 0)


def test_a_listed_address_in_a_url_is_a_host_match(tmp_path):
    intel = tmp_path / "intel.txt"
    intel.write_text("192.0.2.66\n")
    event = UrlPosted(event_id="u", ts=T0, account="a", url="http://192.0.2.66/x")
    pipeline = Pipeline(
        default_detectors(load_intel([intel]).store), DecisionEngine(default_policy())
    )
    decision = pipeline.process_one(event)
    assert decision is not None
    assert "intel_host" in {s.kind for s in decision.verdict.signals}
    assert decision.verdict.decision == "disable_link"


def test_long_urls_are_scored_not_dead_lettered(tmp_path):
    url = "http://203.0.113.7/" + "a" * 3000 + "/payload.exe"
    intel = tmp_path / "intel.txt"
    intel.write_text(url + "\n")
    path = write(tmp_path / "e.jsonl", [UrlPosted(event_id="u", ts=T0, url=url)])
    with SqliteStore(tmp_path / "s.sqlite") as store:
        summary = run_embedded([path], store, intel=load_intel([intel]))
    assert summary.dead_letters == 0
    assert summary.signal_kinds["intel_url"] == 1


def test_resuming_over_an_earlier_file_warns_as_late_events(tmp_path):
    first = write(tmp_path / "a.jsonl", failures(6))
    second = write(tmp_path / "b.jsonl", failures(6, start=3600))
    between = write(tmp_path / "c.jsonl", failures(6, start=60))
    with SqliteStore(tmp_path / "s.sqlite") as store:
        run_embedded([first], store, resume=True)
        run_embedded([second], store, resume=True)
        earlier = run_embedded([between], store, resume=True)
        again = run_embedded([first], store, resume=True)
    assert (earlier.events, earlier.late_events) == (6, 6)
    # the same events again are repeats, skipped before they could be late
    assert (again.events, again.repeats, again.late_events) == (0, 6, 0)
