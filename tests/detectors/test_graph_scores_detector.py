"""The graph_scores detector: its model file, and rings of another seed found."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np
import pytest

from trustwatch.detectors import AccountScoreDetector, available
from trustwatch.errors import ConfigError
from trustwatch.evaluation.rings import default_ring_specs
from trustwatch.graph import EntityGraph
from trustwatch.graph.account_features import (
    account_feature_names,
    account_feature_table,
)
from trustwatch.graph.account_training import train_account_scorer
from trustwatch.graph.inject import inject_rings
from trustwatch.graphmodel import NodeScorerSettings
from trustwatch.graphmodel.saved import load_scorer
from trustwatch.simulation import SimulationConfig, simulate
from trustwatch.testing import synthetic_events
from trustwatch.testing.account_model import (
    synthetic_account_labels,
    synthetic_account_model,
)

_SMALL = NodeScorerSettings(max_rounds=50, patience=10, min_child_samples=2, n_models=2)


def _telemetry(seed: int, sizes: tuple[int, ...]):
    simulation = simulate(SimulationConfig(accounts=600, days=2.0, seed=seed))
    benign = simulation.events
    events, key = inject_rings(benign, default_ring_specs(sizes), seed=seed)
    return benign, events, key, simulation.truth.bad_accounts()


@pytest.fixture(scope="module")
def cross_seed(tmp_path_factory):
    """A model trained on seed 8's rings, and seed 5's telemetry to score.

    Benign accounts of seed 8 share source addresses (as those of seed 5
    do), so sharing an address alone does not make a ring member there; a
    model trained where no benign account shares one learns that it does.
    """
    _, train_events, train_key, _ = _telemetry(8, (6, 10, 16, 25))
    labels = {e.account: False for e in train_events if e.account}
    labels.update((m, True) for ring in train_key for m in ring.members)
    graph = EntityGraph()
    for event in train_events:
        graph.add_event(event)
    table = account_feature_table(graph, train_events[-1].ts.timestamp())
    shares_ip = table.matrix[:, table.names.index("shared_ip")] > 0
    benign = np.array([not labels[a] for a in table.accounts])
    assert (shares_ip & benign).sum() >= 100
    trained = train_account_scorer(train_events, labels, seed=3)
    path = trained.model.save(tmp_path_factory.mktemp("model") / "accounts.model")
    benign, events, key, attackers = _telemetry(5, (8, 12, 20, 30))
    return trained, path, benign, events, key, attackers


def _run(path: Path, events) -> AccountScoreDetector:
    detector = AccountScoreDetector(str(path), sweep_interval=86_400.0)
    signals = detector.process(events)
    detector.sweep(events[-1].ts.timestamp())
    detector.signals_seen = signals  # type: ignore[attr-defined]
    return detector


@pytest.mark.slow
def test_a_model_of_one_seed_flags_another_seeds_rings(cross_seed) -> None:
    trained, path, _, events, key, attackers = cross_seed
    assert trained.figures["validation"]["auroc"] >= 0.99
    members = {m for ring in key for m in ring.members}
    detector = _run(path, events)
    flagged = set(detector.flagged())
    hits = len(flagged & members)
    assert hits / len(flagged) >= 0.9
    assert hits / len(members) >= 0.9
    # the others are the simulator's own attackers, but one at most
    assert len(flagged - members - attackers) <= 1
    for ring in key:  # every ring is found, not only the large ones
        assert len(set(ring.members) & flagged) >= 0.8 * len(ring.members)


@pytest.mark.slow
def test_the_model_flags_nobody_in_ring_free_telemetry(cross_seed) -> None:
    _, path, benign, _, _, attackers = cross_seed
    flagged = set(_run(path, benign).flagged())
    accounts = {e.account for e in benign if e.account}
    # rings labelled the training; the simulator's attackers may look alike
    assert len(flagged) <= 0.01 * len(accounts)
    assert len(flagged - attackers) <= 1


@pytest.mark.slow
def test_flagged_accounts_come_with_reasons_and_groups(cross_seed) -> None:
    _, path, _, events, key, _ = cross_seed
    detector = _run(path, events)
    signals = detector.signals_seen  # type: ignore[attr-defined]
    assert signals and {s.kind for s in signals} == {"graph_risky_account"}
    first = signals[0]
    assert first.score >= detector.threshold
    assert first.reasons[0] == "newly flagged by the account model"
    assert len(first.reasons) >= 3  # the score, then the features in words
    assert first.evidence["top_features"][0]["contribution"] > 0
    snapshots = detector.ring_snapshots()
    assert snapshots and all(s.method == "graph_scores" for s in snapshots)
    largest = snapshots[0]
    owners = {m: ring.name for ring in key for m in ring.members}
    assert {owners.get(m) for m in largest.members} == {owners[largest.members[0]]}
    assert largest.evidence and largest.evidence[0][1] >= 2
    json.dumps(detector.get_state())


@pytest.mark.slow
def test_groups_keep_their_ids_from_sweep_to_sweep(cross_seed) -> None:
    _, path, _, events, _, _ = cross_seed
    detector = _run(path, events)
    before = dict(detector.groups())
    detector.sweep(events[-1].ts.timestamp() + 60)
    assert dict(detector.groups()) == before


def test_the_saved_model_scores_as_before_after_loading(tmp_path) -> None:
    trained = train_account_scorer(
        synthetic_events(), synthetic_account_labels(), settings=_SMALL
    )
    path = trained.model.save(tmp_path / "m.model")
    header = json.loads(path.read_text().splitlines()[0])
    assert header["format"] == "trustwatch-node-scorer"
    assert header["feature_names"] == list(account_feature_names())
    loaded = load_scorer(path, account_feature_names())
    assert loaded.threshold == trained.model.threshold
    assert loaded.settings["graph"]["hub_size"] == 100
    assert loaded.metrics["validation"] == trained.figures["validation"]
    graph = EntityGraph()
    for event in synthetic_events():
        graph.add_event(event)
    table = account_feature_table(graph, 1_767_600_000.0)
    np.testing.assert_allclose(
        loaded.score(table.matrix), trained.model.score(table.matrix)
    )


def _edited(path: Path, edit) -> Path:
    header, _, body = path.read_text().partition("\n")
    changed = json.loads(header)
    edit(changed)
    target = path.with_name("edited.model")
    target.write_text(json.dumps(changed) + "\n" + body)
    return target


def test_a_model_of_other_features_is_refused_with_a_hint(tmp_path) -> None:
    path = Path(synthetic_account_model())

    def rename(header: dict) -> None:
        header["feature_names"][0] = "held_something_else"

    renamed = _edited(path, rename)
    with pytest.raises(ConfigError, match="retrain"):
        load_scorer(renamed, account_feature_names())
    with pytest.raises(ConfigError, match="held_something_else"):
        AccountScoreDetector(str(renamed))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: "not a model\n" + text, "not a trustwatch-node-scorer"),
        (lambda text: text[: len(text) // 2], "truncated"),
        (lambda text: text.replace('"version": 1', '"version": 9', 1), "version"),
    ],
)
def test_damaged_model_files_are_refused(tmp_path, damage, message) -> None:
    text = Path(synthetic_account_model()).read_text()
    path = tmp_path / "damaged.model"
    path.write_text(damage(text))
    with pytest.raises(ConfigError, match=message):
        load_scorer(path)


def test_a_missing_model_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="rings train"):
        available()["graph_scores"]()
    with pytest.raises(ConfigError, match="cannot read model"):
        AccountScoreDetector(str(tmp_path / "absent.model"))


def test_state_restores_flagged_accounts_and_groups() -> None:
    path = synthetic_account_model()
    detector = AccountScoreDetector(path, sweep_interval=600.0)
    detector.process(synthetic_events())
    assert detector.flagged()
    state = msgspec.json.decode(msgspec.json.encode(detector.get_state()))
    restored = AccountScoreDetector(path, sweep_interval=600.0)
    restored.set_state(state)
    assert restored.flagged() == detector.flagged()
    assert restored.groups() == detector.groups()
    assert restored.ring_snapshots() == detector.ring_snapshots()
