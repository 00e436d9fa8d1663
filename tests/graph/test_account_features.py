"""Per-account features of the entity graph, and the threshold choice."""

from __future__ import annotations

import numpy as np
import pytest

from trustwatch.errors import ConfigError
from trustwatch.graph import EntityGraph
from trustwatch.graph.account_features import (
    ACCOUNT_FEATURES,
    account_feature_names,
    account_feature_table,
    describe_feature,
)
from trustwatch.graph.account_training import choose_threshold, read_labels

T0 = 1_767_225_600.0  # 2026-01-01


def _graph() -> EntityGraph:
    graph = EntityGraph(hub_size=3)
    graph.add("carol", ["ip:198.51.100.9", "signup:1"], T0)
    graph.add("alice", ["file:aa", "ip:192.0.2.1"], T0 + 10)
    graph.add("bob", ["file:aa", "ip:192.0.2.2", "signup:2"], T0 + 20)
    graph.add("dave", ["file:aa", "device:d1"], T0 + 7200)
    # url:popular grows into a hub (more than 3 accounts)
    for account in ("alice", "bob", "carol", "dave", "erin"):
        graph.add(account, ["url:popular"], T0 + 7300)
    return graph


def _column(table, account: str, name: str) -> float:
    row = table.row(account)
    assert row is not None
    return float(table.matrix[row, table.names.index(name)])


def test_table_rows_are_sorted_accounts_with_the_built_names() -> None:
    table = account_feature_table(_graph(), T0 + 7300, hops=1)
    assert table.accounts == ("alice", "bob", "carol", "dave", "erin")
    assert table.names == account_feature_names(1)
    assert table.matrix.shape == (5, len(table.names))
    assert table.names[: len(ACCOUNT_FEATURES)] == ACCOUNT_FEATURES
    assert table.row("zoe") is None


def test_own_features_count_what_accounts_hold_and_share() -> None:
    table = account_feature_table(_graph(), T0 + 7300, hops=1)
    assert _column(table, "alice", "held_file") == 1
    assert _column(table, "alice", "shared_file") == 1
    assert _column(table, "alice", "largest_shared") == 3
    assert _column(table, "carol", "shared_file") == 0
    assert _column(table, "carol", "signup_seen") == 1
    assert _column(table, "alice", "signup_seen") == 0
    # the hub is one of alice's three attributes, and links nobody
    assert _column(table, "alice", "hub_share") == pytest.approx(1 / 3)
    assert _column(table, "erin", "projection_degree") == 0
    assert _column(table, "alice", "projection_degree") == 2
    assert _column(table, "carol", "age_hours") == pytest.approx(7300 / 3600)
    assert _column(table, "dave", "age_hours") == pytest.approx(100 / 3600)
    # alice used the file with bob within the lockstep window, and the URL
    # with carol before it grew into a hub; dave came later, erin after
    assert _column(table, "alice", "lockstep_partners") == 2
    assert _column(table, "dave", "lockstep_partners") == 0
    assert _column(table, "erin", "lockstep_partners") == 0


def test_neighbour_aggregates_see_the_neighbourhood() -> None:
    table = account_feature_table(_graph(), T0 + 7300, hops=2)
    # alice's neighbours are bob (sign-up seen) and dave (not)
    assert _column(table, "alice", "hop1_mean_signup_seen") == pytest.approx(0.5)
    assert _column(table, "alice", "hop1_max_signup_seen") == 1
    assert _column(table, "erin", "hop1_sum_attributes") == 0


def test_table_is_the_same_for_a_restored_graph() -> None:
    graph = _graph()
    restored = EntityGraph(hub_size=3)
    restored.set_state(graph.get_state())
    first = account_feature_table(graph, T0 + 7300)
    second = account_feature_table(restored, T0 + 7300)
    assert first.accounts == second.accounts
    np.testing.assert_array_equal(first.matrix, second.matrix)
    np.testing.assert_array_equal(first.sources, second.sources)


def test_an_empty_graph_gives_an_empty_table() -> None:
    table = account_feature_table(EntityGraph(), T0)
    assert table.accounts == ()
    assert table.matrix.shape == (0, len(account_feature_names()))


def test_every_column_has_words() -> None:
    for name in account_feature_names(2):
        assert describe_feature(name) != name, name
    assert "neighbours' mean" in describe_feature("hop1_mean_age_hours")


def test_hops_out_of_range_are_refused() -> None:
    with pytest.raises(ConfigError, match="hops"):
        account_feature_table(EntityGraph(), T0, hops=0)


def test_threshold_reaches_the_target_precision_halfway_to_the_next_score() -> None:
    labels = np.array([True, True, False, True, False, False])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    threshold, rule = choose_threshold(labels, scores, target_precision=0.99)
    assert rule == "precision"
    assert threshold == pytest.approx(0.75)
    threshold, rule = choose_threshold(labels, scores, target_precision=0.7)
    assert rule == "precision"
    assert threshold == pytest.approx(0.4)


def test_threshold_falls_back_to_best_f1() -> None:
    labels = np.array([False, True, True, False])
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    threshold, rule = choose_threshold(labels, scores, target_precision=0.99)
    assert rule == "f1"
    assert threshold == pytest.approx(0.4)


def test_labels_read_from_csv_and_json_lines_with_bad_rows_counted(tmp_path) -> None:
    csv_file = tmp_path / "labels.csv"
    csv_file.write_text("account,label\na1,1\na2,0\na3,maybe\na4,1,extra\na1,1\n")
    read = read_labels(csv_file)
    assert read.labels == {"a1": True, "a2": False}
    assert read.rejected == {"bad_label": 1, "duplicate": 1, "wrong_columns": 1}
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text(
        '{"account": "a1", "label": 1}\n{"account": "a2", "label": 0}\n'
        '{"account": "a2", "label": 1}\n[1]\n{"label": 1}\n{bad\n'
        '{"account": "a3", "label": 2}\n'
    )
    read = read_labels(jsonl)
    assert read.labels == {"a1": True}
    assert read.rejected == {
        "bad_label": 1,
        "conflicting_label": 1,
        "malformed_json": 1,
        "no_account": 1,
        "not_an_object": 1,
    }
    assert read.rejected_rows == 5
