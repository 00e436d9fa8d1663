"""Whole-graph views of the entity graph: the account projection and its matrix.

Lockstep rings (:mod:`trustwatch.graph.rings`) are found one link at a time.
The views here look at the whole current graph at once, for sweeps that run
every so often:

- :func:`account_projection`: accounts linked when they share attributes that
  are not hubs, each link weighing the sum of the shared attributes' current
  weights (:meth:`~trustwatch.graph.EntityGraph.attribute_weight`: the
  kind's weight with its IDF factor, so a file shared by 5 accounts weighs
  more than one shared by 90);
- :func:`leiden_communities`: communities of that projection found by the
  Leiden algorithm (Traag, Waltman and van Eck, Scientific Reports 2019)
  with the Constant Potts Model;
- :func:`account_attribute_matrix`: the same accounts and attributes as a
  sparse accounts x attributes matrix, for dense-block search (FRAUDAR,
  :mod:`trustwatch.graphmodel.dense`).

Work is bounded: hubs are left out (they have forgotten their members), as
are attributes whose last member use is older than the graph's retention, and
attributes of more than ``max_attribute_members`` accounts; the projection
stops adding new pairs at ``max_edges``, most specific attributes first.

Everything is ordered by account and attribute key, never by the order the
graph happens to hold them in, so a graph restored from a checkpoint gives the
same projection, and a fixed seed the same communities.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from trustwatch.errors import ConfigError
from trustwatch.graph.entity_graph import ATTRIBUTE_KINDS, EntityGraph, attribute_kind

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = [
    "LEIDEN_ENGINES",
    "AccountProjection",
    "SharedAttributes",
    "account_attribute_matrix",
    "account_projection",
    "leiden_communities",
    "shared_attributes",
]


@dataclass(frozen=True, slots=True)
class SharedAttributes:
    """The attributes of the graph that link two or more accounts.

    Attributes
    ----------
    accounts
        Accounts holding at least one of them, sorted.
    attributes
        The attributes, sorted by number of members, then key.
    members
        For each attribute, the indices (into ``accounts``) of its members,
        sorted.
    weights
        Each attribute's current weight
        (:meth:`~trustwatch.graph.EntityGraph.attribute_weight`).
    """

    accounts: tuple[str, ...]
    attributes: tuple[str, ...]
    members: tuple[tuple[int, ...], ...]
    weights: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class AccountProjection:
    """Accounts linked through the attributes they share, weighted.

    Attributes
    ----------
    accounts
        The projection's accounts (those sharing at least one attribute),
        sorted; edges refer to them by index.
    sources, targets
        Edge ends, ``sources[i] < targets[i]``, in sorted order.
    weights
        Each edge's weight: the sum of its shared attributes' weights.
    truncated
        Whether ``max_edges`` stopped new pairs from being added.
    """

    accounts: tuple[str, ...]
    sources: tuple[int, ...]
    targets: tuple[int, ...]
    weights: tuple[float, ...]
    truncated: bool = False

    @property
    def edge_count(self) -> int:
        """Number of linked account pairs."""
        return len(self.sources)


def _live_members(graph: EntityGraph, now: float) -> Iterator[tuple[str, list[str]]]:
    """Yield each non-hub attribute with its members used since the retention.

    Reads the graph's attribute index directly: hubs are not in it, and it is
    the only place members are listed by attribute.
    """
    horizon = now - graph.retention
    for attribute, members in graph._members.items():
        if len(members) < 2:
            continue
        live = [account for account, seen in members.items() if seen >= horizon]
        if len(live) >= 2:
            yield attribute, live


def shared_attributes(
    graph: EntityGraph,
    now: float,
    *,
    max_attribute_members: int | None = None,
) -> SharedAttributes:
    """Return the graph's attributes that link two or more live accounts.

    Parameters
    ----------
    graph
        The entity graph.
    now
        Current stream time (epoch seconds); members not seen within the
        graph's retention before it are left out.
    max_attribute_members
        Attributes of more accounts than this are left out; the graph's
        ``hub_size`` when omitted (hubs are always left out).

    Raises
    ------
    ConfigError
        When ``max_attribute_members`` is below 2.
    """
    limit = graph.hub_size if max_attribute_members is None else max_attribute_members
    if limit < 2:
        raise ConfigError(
            f"max_attribute_members={limit}; hint: use at least 2 (a shared "
            "attribute has two members)"
        )
    found: list[tuple[int, str, list[str], float]] = []
    for attribute, live in _live_members(graph, now):
        if len(live) > limit or attribute_kind(attribute) not in ATTRIBUTE_KINDS:
            continue
        weight = graph.attribute_weight(attribute)
        if weight > 0:
            found.append((len(live), attribute, live, weight))
    found.sort(key=lambda item: (item[0], item[1]))
    accounts = sorted({account for _, _, live, _ in found for account in live})
    index = {account: i for i, account in enumerate(accounts)}
    return SharedAttributes(
        accounts=tuple(accounts),
        attributes=tuple(attribute for _, attribute, _, _ in found),
        members=tuple(tuple(sorted(index[a] for a in live)) for _, _, live, _ in found),
        weights=tuple(weight for _, _, _, weight in found),
    )


def account_projection(
    shared: SharedAttributes, max_edges: int = 4_000_000
) -> AccountProjection:
    """Link the accounts that share attributes; weigh each link by what they share.

    The weight of a pair is the sum of the weights of the attributes both
    hold, the same sum a lockstep pair's score is (without the time window:
    a sweep looks at everything the graph still remembers).

    Parameters
    ----------
    shared
        From :func:`shared_attributes`.
    max_edges
        Most pair incidences (an attribute of ``n`` members has ``n (n - 1) /
        2``) summed into the projection. Attributes are taken most specific
        (fewest members) first; the first that would pass the bound, and all
        after it, are left out.

    Raises
    ------
    ConfigError
        When ``max_edges`` is below 1.
    """
    if max_edges < 1:
        raise ConfigError(f"max_edges={max_edges}; hint: use at least 1")
    firsts: list[npt.NDArray[np.int64]] = []
    seconds: list[npt.NDArray[np.int64]] = []
    weights: list[npt.NDArray[np.float64]] = []
    incidences = 0
    truncated = False
    for members, weight in zip(shared.members, shared.weights, strict=True):
        size = len(members)
        pairs = size * (size - 1) // 2
        if incidences + pairs > max_edges:
            truncated = True
            break
        incidences += pairs
        held = np.asarray(members, dtype=np.int64)
        upper, lower = np.triu_indices(size, k=1)
        firsts.append(held[upper])
        seconds.append(held[lower])
        weights.append(np.full(pairs, weight, dtype=np.float64))
    if not firsts:
        return AccountProjection(shared.accounts, (), (), (), truncated)
    n = max(1, len(shared.accounts))
    keys = np.concatenate(firsts) * n + np.concatenate(seconds)
    unique, inverse = np.unique(keys, return_inverse=True)
    summed = np.bincount(inverse, weights=np.concatenate(weights))
    return AccountProjection(
        accounts=shared.accounts,
        sources=tuple((unique // n).tolist()),
        targets=tuple((unique % n).tolist()),
        weights=tuple(summed.tolist()),
        truncated=truncated,
    )


#: Leiden implementations: igraph's own (C, fast) and leidenalg (the reference).
LEIDEN_ENGINES = ("igraph", "leidenalg")

# igraph draws from one process-wide random generator; seeded runs swap it in.
_IGRAPH_RANDOM = threading.Lock()


def leiden_communities(
    projection: AccountProjection,
    *,
    resolution: float = 1.0,
    seed: int = 7,
    iterations: int = 2,
    min_size: int = 2,
    engine: str = "igraph",
) -> list[list[int]]:
    """Find communities of the account projection with the Leiden algorithm.

    The quality optimised is the Constant Potts Model (CPM): a community of
    ``n`` accounts and internal link weight ``W`` adds ``W - resolution *
    n (n - 1) / 2``, so a group forms only where its accounts' average pair
    weight exceeds ``resolution``. That is the reading a ring needs: "these
    accounts share, pair by pair, at least this much". Modularity (and its
    ``RBConfiguration`` generalisation) instead compares a community with what
    the rest of the graph would predict: it has a resolution limit (small
    rings merge in a large graph), and it puts every account in some
    community, weakly linked ones included.

    Parameters
    ----------
    projection
        From :func:`account_projection`.
    resolution
        CPM's resolution: the least average pair weight inside a community.
        At 1.0 a community needs, on average per pair, one shared address or
        file of a few accounts; a /24 network alone (0.5) does not do.
    seed
        Seed of the algorithm's random choices; fixed, the same projection
        gives the same communities.
    iterations
        Leiden iterations; negative runs until an iteration changes nothing.
    min_size
        Communities of fewer accounts are left out.
    engine
        ``"igraph"``: igraph's ``community_leiden`` (C; seeded by swapping a
        seeded generator in for igraph's process-wide one, under a lock);
        ``"leidenalg"``: ``leidenalg.find_partition`` with
        ``CPMVertexPartition``, the reference implementation, an order of
        magnitude slower on projections of a few hundred thousand links.

    Returns
    -------
    list of list of int
        Each community's account indices, sorted; largest community first,
        ties by first member.

    Raises
    ------
    ConfigError
        When ``resolution`` is not positive, ``min_size`` is below 2 or the
        engine is unknown.
    """
    if not resolution > 0:
        raise ConfigError(f"resolution={resolution}; hint: use a positive weight")
    if min_size < 2:
        raise ConfigError(f"min_size={min_size}; hint: use at least 2")
    if engine not in LEIDEN_ENGINES:
        raise ConfigError(
            f"engine={engine!r}; hint: use one of {', '.join(LEIDEN_ENGINES)}"
        )
    if not projection.sources:
        return []
    import igraph  # type: ignore[import-untyped,unused-ignore]

    graph = igraph.Graph(
        n=len(projection.accounts),
        edges=list(zip(projection.sources, projection.targets, strict=True)),
        directed=False,
    )
    weights = list(projection.weights)
    membership: list[int]
    if engine == "igraph":
        with _IGRAPH_RANDOM:
            igraph.set_random_number_generator(random.Random(seed))
            try:
                clustering = graph.community_leiden(
                    objective_function="CPM",
                    weights=weights,
                    resolution=resolution,
                    n_iterations=iterations,
                )
            finally:
                igraph.set_random_number_generator(random)
        membership = list(clustering.membership)
    else:
        import leidenalg  # type: ignore[import-untyped,unused-ignore]

        partition = leidenalg.find_partition(
            graph,
            leidenalg.CPMVertexPartition,
            weights=weights,
            n_iterations=iterations,
            seed=seed,
            resolution_parameter=resolution,
        )
        membership = list(partition.membership)
    by_community: dict[int, list[int]] = {}
    for account, community in enumerate(membership):
        by_community.setdefault(community, []).append(account)
    communities = [m for m in by_community.values() if len(m) >= min_size]
    communities.sort(key=lambda members: (-len(members), members[0]))
    return communities


def account_attribute_matrix(shared: SharedAttributes) -> sp.csr_matrix:
    """Return the accounts x attributes matrix of shared attributes.

    Row ``i`` is ``shared.accounts[i]``, column ``j`` is
    ``shared.attributes[j]``; an entry is the attribute kind's weight
    (:data:`~trustwatch.graph.ATTRIBUTE_KINDS`: a device counts more than a
    /24). Popularity is left to the dense-block search's own column weights,
    ``1 / log(degree + c)``, which resist camouflage.
    """
    import scipy.sparse as sparse

    rows: list[int] = []
    columns: list[int] = []
    values: list[float] = []
    for column, (attribute, members) in enumerate(
        zip(shared.attributes, shared.members, strict=True)
    ):
        base = ATTRIBUTE_KINDS[attribute_kind(attribute)][0]
        rows.extend(members)
        columns.extend([column] * len(members))
        values.extend([base] * len(members))
    return sparse.csr_matrix(
        (np.asarray(values, dtype=np.float64), (rows, columns)),
        shape=(len(shared.accounts), len(shared.attributes)),
    )
