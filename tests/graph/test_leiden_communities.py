"""Whole-graph views: shared attributes, the account projection, Leiden, the matrix."""

from __future__ import annotations

import pytest

from trustwatch.errors import ConfigError
from trustwatch.graph import EntityGraph
from trustwatch.graph.communities import (
    account_attribute_matrix,
    account_projection,
    leiden_communities,
    shared_attributes,
)

T0 = 1_767_225_600.0  # 2026-01-01


def _planted_graph() -> EntityGraph:
    """Two rings of 8 sharing addresses and files, a weak bridge, loners."""
    graph = EntityGraph(hub_size=20)
    for ring, net in (("a", "198.18.1"), ("b", "198.18.2")):
        for m in range(8):
            graph.add(
                f"{ring}{m}",
                [
                    f"ip:{net}.{10 + m % 2}",
                    f"net:{net}.0/24",
                    f"file:{ring * 64}",
                    f"url:https://{ring}.example/x",
                    f"signup:{ring}",
                ],
                T0 + m,
            )
    # one account of each ring opened the same popular file: a weak bridge
    graph.add("a0", ["target:popular"], T0 + 100)
    graph.add("b0", ["target:popular"], T0 + 101)
    for n in range(6):
        graph.add(f"loner{n}", [f"ip:203.0.113.{n}", "target:popular"], T0 + 200 + n)
    return graph


def test_shared_attributes_skip_singletons_and_sort_by_size() -> None:
    graph = _planted_graph()
    graph.add("solo", ["device:only-mine"], T0 + 300)
    shared = shared_attributes(graph, T0 + 400)
    assert "device:only-mine" not in shared.attributes
    assert "solo" not in shared.accounts
    sizes = [len(m) for m in shared.members]
    assert sizes == sorted(sizes)
    assert list(shared.accounts) == sorted(shared.accounts)
    assert all(w > 0 for w in shared.weights)


def test_hubs_and_large_attributes_are_left_out() -> None:
    graph = EntityGraph(hub_size=5)
    for n in range(9):
        graph.add(f"acct{n}", ["ip:192.0.2.1", f"file:{n // 3}"], T0 + n)
    assert graph.is_hub("ip:192.0.2.1")
    shared = shared_attributes(graph, T0 + 10)
    assert "ip:192.0.2.1" not in shared.attributes
    assert set(shared.attributes) == {"file:0", "file:1", "file:2"}
    assert shared_attributes(graph, T0 + 10, max_attribute_members=2).attributes == ()
    with pytest.raises(ConfigError, match="max_attribute_members"):
        shared_attributes(graph, T0, max_attribute_members=1)


def test_members_past_retention_are_left_out() -> None:
    graph = EntityGraph(retention=100.0, lockstep_window=10.0)
    graph.add("old", ["file:x"], T0)
    graph.add("new", ["file:x"], T0 + 50)
    assert shared_attributes(graph, T0 + 60).attributes == ("file:x",)
    assert shared_attributes(graph, T0 + 120).attributes == ()


def test_projection_weights_sum_the_shared_attribute_weights() -> None:
    graph = _planted_graph()
    shared = shared_attributes(graph, T0 + 400)
    projection = account_projection(shared)
    index = {a: i for i, a in enumerate(projection.accounts)}
    edges = {
        (s, t): w
        for s, t, w in zip(
            projection.sources, projection.targets, projection.weights, strict=True
        )
    }
    a0, a2 = index["a0"], index["a2"]  # same proxy, net, file, url, signup
    held = (
        "ip:198.18.1.10",
        "net:198.18.1.0/24",
        "file:" + "a" * 64,
        "url:https://a.example/x",
        "signup:a",
    )
    expected = sum(graph.attribute_weight(a) for a in held)
    assert edges[(min(a0, a2), max(a0, a2))] == pytest.approx(expected)
    assert all(s < t for s, t in edges)
    assert not projection.truncated
    small = account_projection(shared, max_edges=10)
    assert small.truncated and small.edge_count <= 10
    with pytest.raises(ConfigError, match="max_edges"):
        account_projection(shared, max_edges=0)


@pytest.mark.parametrize("engine", ["igraph", "leidenalg"])
def test_leiden_finds_the_two_planted_communities(engine: str) -> None:
    graph = _planted_graph()
    projection = account_projection(shared_attributes(graph, T0 + 400))
    communities = leiden_communities(projection, min_size=4, engine=engine)
    found = [{projection.accounts[i] for i in c} for c in communities]
    assert found == [{f"a{m}" for m in range(8)}, {f"b{m}" for m in range(8)}]
    again = leiden_communities(projection, min_size=4, engine=engine)
    assert again == communities


def test_leiden_resolution_decides_how_much_a_pair_must_share() -> None:
    projection = account_projection(shared_attributes(_planted_graph(), T0 + 400))
    # the rings' pairs share about 5 in weight; at 20 nobody groups
    assert leiden_communities(projection, resolution=20.0, min_size=2) == []
    loose = leiden_communities(projection, resolution=0.01, min_size=2)
    assert len(loose[0]) > 8  # the popular file's loners join in


def test_leiden_rejects_bad_settings() -> None:
    projection = account_projection(shared_attributes(_planted_graph(), T0 + 400))
    with pytest.raises(ConfigError, match="resolution"):
        leiden_communities(projection, resolution=0.0)
    with pytest.raises(ConfigError, match="min_size"):
        leiden_communities(projection, min_size=1)
    with pytest.raises(ConfigError, match="engine"):
        leiden_communities(projection, engine="louvain")
    empty = account_projection(shared_attributes(EntityGraph(), T0))
    assert leiden_communities(empty) == []


def test_account_attribute_matrix_holds_kind_weights() -> None:
    shared = shared_attributes(_planted_graph(), T0 + 400)
    matrix = account_attribute_matrix(shared)
    assert matrix.shape == (len(shared.accounts), len(shared.attributes))
    column = shared.attributes.index("file:" + "a" * 64)
    held = matrix[:, column].toarray().ravel()
    assert sorted(held[held > 0].tolist()) == [1.5] * 8
    assert matrix.nnz == sum(len(m) for m in shared.members)
