"""FRAUDAR peeling: planted blocks, camouflage, the column weighting, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from trustwatch.errors import ConfigError
from trustwatch.graphmodel.dense import (
    column_weights,
    densest_block,
    top_dense_blocks,
)

N_ACCOUNTS, N_OBJECTS, N_POPULAR = 2000, 1000, 20


def _planted(
    seed: int,
    *,
    popular_share: float,
    camouflage: bool,
    fills: tuple[float, ...] = (0.6,),
) -> tuple[sp.csr_matrix, list[set[int]]]:
    """Random background, popular objects, and dense blocks of 40 x 20.

    Every account links to 5 random objects; each of the 20 popular objects
    (columns 0-19) links to ``popular_share`` of all accounts. Each block's
    accounts link to ``fills[b]`` of the block's objects and, with ``camouflage``, to
    15 of the popular objects each.
    """
    rng = np.random.default_rng(seed)
    rows = [np.repeat(np.arange(N_ACCOUNTS), 5)]
    cols = [rng.integers(0, N_OBJECTS, rows[0].size)]
    for obj in range(N_POPULAR):
        fans = np.flatnonzero(rng.random(N_ACCOUNTS) < popular_share)
        rows.append(fans)
        cols.append(np.full(fans.size, obj))
    accounts = rng.permutation(N_ACCOUNTS)
    objects = rng.permutation(np.arange(N_POPULAR, N_OBJECTS))
    truth = []
    for b, fill in enumerate(fills):
        members = accounts[40 * b : 40 * (b + 1)]
        targets = objects[20 * b : 20 * (b + 1)]
        a, o = np.nonzero(rng.random((40, 20)) < fill)
        rows.append(members[a])
        cols.append(targets[o])
        if camouflage:
            for member in members:
                rows.append(np.full(15, member))
                cols.append(rng.choice(N_POPULAR, 15, replace=False))
        truth.append(set(members.tolist()))
    r, c = np.concatenate(rows), np.concatenate(cols)
    matrix = sp.csr_matrix((np.ones(r.size), (r, c)), shape=(N_ACCOUNTS, N_OBJECTS))
    matrix.data[:] = 1.0
    return matrix, truth


def _precision_recall(found: np.ndarray, truth: set[int]) -> tuple[float, float]:
    hits = len(set(found.tolist()) & truth)
    return hits / max(1, found.size), hits / len(truth)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_block_is_found(seed: int) -> None:
    matrix, (truth,) = _planted(seed, popular_share=0.3, camouflage=False)
    block = densest_block(matrix)
    precision, recall = _precision_recall(block.accounts, truth)
    assert precision >= 0.9
    assert recall >= 0.9  # a member with few block links may be peeled off
    assert block.density > 0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_block_with_camouflage_is_found(seed: int) -> None:
    matrix, (truth,) = _planted(seed, popular_share=0.7, camouflage=True)
    block = densest_block(matrix)
    precision, recall = _precision_recall(block.accounts, truth)
    assert precision >= 0.9
    assert recall >= 0.95


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_without_column_weighting_popular_objects_swamp_the_block(seed: int) -> None:
    matrix, (truth,) = _planted(seed, popular_share=0.7, camouflage=True)
    weighted = densest_block(matrix, weighting="log")
    raw = densest_block(matrix, weighting="none")
    raw_precision, _ = _precision_recall(raw.accounts, truth)
    log_precision, _ = _precision_recall(weighted.accounts, truth)
    assert raw_precision < 0.5
    assert log_precision >= 0.9


def test_top_blocks_find_each_planted_block() -> None:
    # Blocks of equal density linked by stray edges peel as one block, so
    # these differ in density; popular objects they share would merge them.
    matrix, truth = _planted(
        5, popular_share=0.0, camouflage=False, fills=(0.9, 0.7, 0.5)
    )
    blocks = top_dense_blocks(matrix, k=3)
    assert len(blocks) == 3
    for members in truth:
        best = max(blocks, key=lambda b: len(set(b.accounts.tolist()) & members))
        precision, recall = _precision_recall(best.accounts, members)
        assert precision >= 0.9
        assert recall >= 0.9
    # Blocks are disjoint in accounts: each round removes the last one's rows.
    seen = np.concatenate([b.accounts for b in blocks])
    assert np.unique(seen).size == seen.size


def test_density_is_weighted_edges_over_nodes() -> None:
    matrix = np.zeros((4, 5))
    matrix[:3, :2] = 1.0  # a full 3 x 2 block
    matrix[3, 4] = 1.0
    block = densest_block(matrix, weighting="none")
    assert block.accounts.tolist() == [0, 1, 2]
    assert block.objects.tolist() == [0, 1]
    assert block.density == pytest.approx(6 / 5)
    assert block.size == 5


def test_column_weights_follow_object_degree() -> None:
    matrix = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [1, 0, 0]]))
    weights = column_weights(matrix, c=5.0)
    assert weights == pytest.approx(
        [1 / np.log(3 + 5), 1 / np.log(1 + 5), 1 / np.log(5)]
    )


@pytest.mark.parametrize(
    "matrix",
    [sp.csr_matrix((0, 0)), sp.csr_matrix((3, 4)), np.zeros((2, 2))],
)
def test_empty_graph_gives_empty_block(matrix: sp.csr_matrix | np.ndarray) -> None:
    block = densest_block(matrix)
    assert block.accounts.size == 0
    assert block.objects.size == 0
    assert block.density == 0.0
    assert top_dense_blocks(matrix, k=2) == []


def test_single_edge() -> None:
    block = densest_block(sp.csr_matrix(([2.0], ([1], [0])), shape=(3, 3)))
    assert block.accounts.tolist() == [1]
    assert block.objects.tolist() == [0]


def test_duplicate_entries_are_summed() -> None:
    matrix = sp.coo_matrix(([1.0, 1.0, 1.0], ([0, 0, 1], [0, 0, 1])), shape=(2, 2))
    block = densest_block(matrix, weighting="none")
    assert block.accounts.tolist() == [0]
    assert block.density == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("matrix", "kwargs", "message"),
    [
        (np.ones(3), {}, "2-D"),
        (np.array([[1.0, -1.0]]), {}, "negative"),
        (np.array([[1.0, np.nan]]), {}, "NaN"),
        (np.array([["a", "b"]]), {}, "numbers"),
        (np.ones((2, 2)), {"c": 0.0}, "c must be"),
        (np.ones((2, 2)), {"weighting": "sqrt"}, "unknown weighting"),
    ],
)
def test_bad_input_is_a_clear_error(
    matrix: np.ndarray, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        densest_block(matrix, **kwargs)  # type: ignore[arg-type]


def test_k_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="k must be"):
        top_dense_blocks(np.ones((2, 2)), k=0)


def test_peeling_is_deterministic() -> None:
    matrix, _ = _planted(7, popular_share=0.5, camouflage=True)
    first, second = densest_block(matrix), densest_block(matrix)
    assert first.accounts.tolist() == second.accounts.tolist()
    assert first.objects.tolist() == second.objects.tolist()
    assert first.density == second.density


def test_disjoint_blocks_of_equal_density_come_out_one_at_a_time() -> None:
    matrix = np.zeros((7, 6))
    matrix[:3, :3] = 1.0
    matrix[3:6, 3:6] = 1.0
    blocks = top_dense_blocks(matrix, k=3, weighting="none")
    assert [b.accounts.tolist() for b in blocks] == [[0, 1, 2], [3, 4, 5]]
    assert [b.objects.tolist() for b in blocks] == [[0, 1, 2], [3, 4, 5]]
    assert blocks[0].density == pytest.approx(9 / 6)
