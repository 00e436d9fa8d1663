from datetime import UTC, datetime

from trustwatch.decisions.engine import DecisionEngine
from trustwatch.decisions.policy import default_policy
from trustwatch.detectors.base import Signal
from trustwatch.events.deadletter import DeadLetter
from trustwatch.events.model import Login
from trustwatch.storage.sqlite import SqliteStore, VerdictQuery

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def decided(i: int, kind: str = "brute_force", account: str = "alice"):
    event = Login(
        event_id=f"e{i}",
        ts=T0.replace(minute=i),
        account=account,
        ip="198.51.100.7",
        success=False,
    )
    signal = Signal(
        detector="d",
        detector_version="1",
        kind=kind,
        score=0.9,
        entity_type="ip",
        entity="198.51.100.7",
        event_id=event.event_id,
    )
    return DecisionEngine(default_policy()).decide(event, [signal])


def test_writes_are_idempotent(tmp_path):
    verdict, actions = decided(1)
    with SqliteStore(tmp_path / "s.sqlite") as store:
        assert store.write_verdicts([verdict]) == 1
        assert store.write_actions(actions) == len(actions) == 1
        assert store.write_verdicts([verdict]) == 0
        assert store.write_actions(actions) == 0
        assert store.counts()["verdicts"] == 1


def test_verdicts_round_trip_and_filter(tmp_path):
    store = SqliteStore(tmp_path / "s.sqlite")
    rows = [decided(1), decided(2, "risky_url", "bob"), decided(3, "nothing", "carol")]
    store.write_verdicts(v for v, _ in rows)
    assert store.verdict(rows[0][0].verdict_id) == rows[0][0]
    assert store.verdict("e2") == rows[1][0]  # by event id too
    newest_first = [v.event_id for v in store.verdicts()]
    assert newest_first == ["e3", "e2", "e1"]
    assert [v.event_id for v in store.verdicts(VerdictQuery(account="bob"))] == ["e2"]
    assert [v.event_id for v in store.verdicts(VerdictQuery(kind="brute_force"))] == [
        "e1"
    ]
    acted = store.verdicts(VerdictQuery(min_decision=True))
    assert "e3" not in {v.event_id for v in acted}
    since = store.verdicts(VerdictQuery(since=T0.replace(minute=2)))
    assert {v.event_id for v in since} == {"e2", "e3"}


def test_dead_letters_are_kept_with_reason(tmp_path):
    letter = DeadLetter.build("in.jsonl", "line 3", "malformed_json", "cut short", b"{")
    with SqliteStore(tmp_path / "s.sqlite") as store:
        assert store.write_dead_letters([letter, letter]) == 1
        [kept] = store.dead_letters()
    assert (kept.reason, kept.location, kept.raw) == ("malformed_json", "line 3", "{")


def test_a_store_on_read_only_media_opens_as_immutable(tmp_path, monkeypatch):
    """Where SQLite cannot make the WAL's shared-memory file, reading still works."""
    import sqlite3

    path = tmp_path / "ro.sqlite"
    with SqliteStore(path) as store:
        store.save_state("k", {"v": 1})
    real_connect = sqlite3.connect
    opened: list[str] = []

    class NoSharedMemory:
        def __init__(self, target: str) -> None:
            self._db = real_connect(target, uri=True)

        def execute(self, *args: object) -> object:
            raise sqlite3.OperationalError("unable to open database file")

        def close(self) -> None:
            self._db.close()

    def connect(target: str, *args: object, **kwargs: object) -> object:
        opened.append(target)
        if target.endswith("?mode=ro"):
            return NoSharedMemory(target)
        return real_connect(target, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", connect)
    with SqliteStore(path, readonly=True) as store:
        assert store.load_state("k") == {"v": 1}
    assert [t.rsplit("?", 1)[1] for t in opened] == ["mode=ro", "immutable=1"]
