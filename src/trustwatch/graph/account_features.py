"""Per-account features of the entity graph, with neighbourhood aggregates.

A supervised account scorer (:mod:`trustwatch.graph.account_training`, the
``graph_scores`` detector) sees each account as one row:

- what it holds: attributes per kind, and how many of them it shares with
  other live accounts (per kind), or has seen grow into hubs;
- how it is linked: distinct lockstep partners, and its degree, summed link
  weight and strongest link in the account projection
  (:func:`~trustwatch.graph.communities.account_projection`);
- when: hours since the graph first saw it, since its last use of an
  attribute, between the two, and whether its sign-up was seen;

then the same values aggregated over its neighbours in the projection (mean,
max and sum over one or more hops, :func:`~trustwatch.graphmodel.node_features`),
so the model sees each account's neighbourhood: a ring member's neighbours
are young, hold few attributes and share them all.

Rows are the graph's accounts sorted by id; the work is bounded the way the
sweeps' is (hubs and attributes of more than ``max_attribute_members``
accounts left out, at most ``max_edges`` pair incidences in the projection).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from trustwatch.errors import ConfigError
from trustwatch.graph.communities import account_projection, shared_attributes
from trustwatch.graph.entity_graph import ATTRIBUTE_KINDS, EntityGraph, attribute_kind
from trustwatch.graphmodel import LabelledGraph, build_adjacency, node_features

__all__ = [
    "ACCOUNT_FEATURES",
    "AccountFeatureTable",
    "account_feature_names",
    "account_feature_table",
    "describe_feature",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_KINDS = tuple(ATTRIBUTE_KINDS)

#: Each account's own features, in column order, with what they mean.
_OWN_FEATURES: dict[str, str] = {
    **{f"held_{kind}": f"{kind} attributes held" for kind in _KINDS},
    **{
        f"shared_{kind}": f"{kind} attributes shared with other accounts"
        for kind in _KINDS
    },
    "attributes": "attributes held",
    "shared_share": "share of its attributes shared with other accounts",
    "hub_share": "share of its attributes that are hubs",
    "largest_shared": "accounts sharing its most shared attribute",
    "mean_shared": "accounts sharing each of its shared attributes, on average",
    "lockstep_partners": "accounts acting in lockstep with it",
    "projection_degree": "accounts it shares attributes with",
    "projection_weight": "summed weight of what it shares",
    "projection_max_weight": "weight of its strongest link",
    "age_hours": "hours since first seen",
    "idle_hours": "hours since last active",
    "active_hours": "hours between first and last activity",
    "signup_seen": "sign-up seen",
}

#: Names of the own features, in column order.
ACCOUNT_FEATURES: tuple[str, ...] = tuple(_OWN_FEATURES)

_AGGREGATE = re.compile(r"^(dev_mean|hop(\d+)_(mean|max|sum))_x(\d+)$")
_RAW = re.compile(r"^x(\d+)$")


@dataclass(frozen=True)
class AccountFeatureTable:
    """One row of features per account, and the projection linking them.

    Attributes
    ----------
    accounts
        The graph's accounts, sorted; row ``i`` describes ``accounts[i]``.
    matrix
        ``(n_accounts, n_features)`` float64 values.
    names
        One name per column (:func:`account_feature_names`).
    sources, targets, weights
        The account projection's links, as row indices (``sources < targets``)
        and weights.
    truncated
        Whether the projection stopped at ``max_edges``.
    """

    accounts: tuple[str, ...]
    matrix: FloatArray
    names: tuple[str, ...]
    sources: IntArray
    targets: IntArray
    weights: FloatArray
    truncated: bool = False

    def row(self, account: str) -> int | None:
        """Return the row of ``account``, or ``None`` when it has none."""
        i = bisect_left(self.accounts, account)
        return i if i < len(self.accounts) and self.accounts[i] == account else None


def _rename(name: str) -> str:
    """Name an aggregate column after the own feature it aggregates."""
    raw = _RAW.match(name)
    if raw:
        return ACCOUNT_FEATURES[int(raw.group(1))]
    found = _AGGREGATE.match(name)
    if found:
        return f"{found.group(1)}_{ACCOUNT_FEATURES[int(found.group(4))]}"
    return name


def account_feature_names(hops: int = 2) -> tuple[str, ...]:
    """Return the column names :func:`account_feature_table` builds for ``hops``.

    Raises
    ------
    ConfigError
        When ``hops`` is outside 1 to 4.
    """
    empty = LabelledGraph(
        name="accounts",
        features=np.zeros((0, len(ACCOUNT_FEATURES)), dtype=np.float64),
        adjacency=build_adjacency(np.zeros((2, 0), dtype=np.int64), 0),
        labels=np.zeros(0, dtype=np.bool_),
    )
    return tuple(_rename(n) for n in node_features(empty, hops=hops).names)


def describe_feature(name: str) -> str:
    """Return a column name in words (``"hop1_mean_age_hours"`` and the like).

    Unknown names come back unchanged.
    """
    if name in _OWN_FEATURES:
        return _OWN_FEATURES[name]
    if name == "degree":
        return "accounts it shares attributes with"
    if name == "neighbour_degree_sum":
        return "links of the accounts it shares attributes with"
    head, _, base = name.partition("_")
    if head == "dev" and base.startswith("mean_"):
        own = base[len("mean_") :]
        if own in _OWN_FEATURES:
            return f"{_OWN_FEATURES[own]}, minus its neighbours' mean"
    hop = re.match(r"^hop(\d+)_(mean|max|sum)_(.+)$", name)
    if hop and hop.group(3) in _OWN_FEATURES:
        reach = "neighbours'" if hop.group(1) == "1" else f"{hop.group(1)}-hop"
        return f"{_OWN_FEATURES[hop.group(3)]} ({reach} {hop.group(2)})"
    return name


def account_feature_table(
    graph: EntityGraph,
    now: float,
    *,
    hops: int = 2,
    max_attribute_members: int | None = None,
    max_edges: int = 4_000_000,
) -> AccountFeatureTable:
    """Describe every account of ``graph`` at stream time ``now``.

    Parameters
    ----------
    graph
        The entity graph.
    now
        Current stream time (epoch seconds): ages count to it, and attribute
        members not seen within the graph's retention before it are not
        shared.
    hops
        Hops of neighbour aggregation, 1 to 4.
    max_attribute_members, max_edges
        Bounds of :func:`~trustwatch.graph.communities.shared_attributes` and
        :func:`~trustwatch.graph.communities.account_projection`.

    Returns
    -------
    AccountFeatureTable
        Rows in account order; the same graph and time give the same table.

    Raises
    ------
    ConfigError
        When ``hops`` or a bound is out of range.
    """
    if not 1 <= hops <= 4:
        raise ConfigError(f"hops={hops}; hint: use 1 to 4")
    accounts = tuple(sorted(graph._accounts))
    row_of = {account: i for i, account in enumerate(accounts)}
    n = len(accounts)
    column = {name: j for j, name in enumerate(ACCOUNT_FEATURES)}
    raw = np.zeros((n, len(ACCOUNT_FEATURES)), dtype=np.float64)

    shared = shared_attributes(graph, now, max_attribute_members=max_attribute_members)
    shared_size = {
        attribute: len(members)
        for attribute, members in zip(shared.attributes, shared.members, strict=True)
    }
    hour = 3600.0
    for i, account in enumerate(accounts):
        held = graph._accounts.get(account) or {}
        sizes: list[int] = []
        hubs = 0
        for attribute in held:
            kind = attribute_kind(attribute)
            if kind in ATTRIBUTE_KINDS:
                raw[i, column[f"held_{kind}"]] += 1
            size = shared_size.get(attribute)
            if size is not None:
                raw[i, column[f"shared_{kind}"]] += 1
                sizes.append(size)
            elif graph.is_hub(attribute):
                hubs += 1
        count = len(held)
        raw[i, column["attributes"]] = count
        if count:
            raw[i, column["shared_share"]] = len(sizes) / count
            raw[i, column["hub_share"]] = hubs / count
        if sizes:
            raw[i, column["largest_shared"]] = max(sizes)
            raw[i, column["mean_shared"]] = sum(sizes) / len(sizes)
        first = graph.first_seen(account)
        last = max(held.values()) if held else first
        if first is not None:
            raw[i, column["age_hours"]] = max(0.0, now - first) / hour
        if last is not None:
            raw[i, column["idle_hours"]] = max(0.0, now - last) / hour
        if first is not None and last is not None:
            raw[i, column["active_hours"]] = max(0.0, last - first) / hour
        raw[i, column["signup_seen"]] = float(raw[i, column["held_signup"]] > 0)

    partners = np.zeros(n, dtype=np.float64)
    for a, b in graph._pairs:
        for account in (a, b):
            row = row_of.get(account)
            if row is not None:
                partners[row] += 1
    raw[:, column["lockstep_partners"]] = partners

    projection = account_projection(shared, max_edges=max_edges)
    remap = np.asarray([row_of[a] for a in projection.accounts], dtype=np.int64)
    sources = remap[np.asarray(projection.sources, dtype=np.int64)]
    targets = remap[np.asarray(projection.targets, dtype=np.int64)]
    weights = np.asarray(projection.weights, dtype=np.float64)
    ends = np.concatenate([sources, targets])
    both = np.concatenate([weights, weights])
    raw[:, column["projection_degree"]] = np.bincount(ends, minlength=n)
    raw[:, column["projection_weight"]] = np.bincount(ends, weights=both, minlength=n)
    strongest = np.zeros(n, dtype=np.float64)
    if ends.size:
        np.maximum.at(strongest, ends, both)
    raw[:, column["projection_max_weight"]] = strongest

    labelled = LabelledGraph(
        name="accounts",
        features=raw,
        adjacency=build_adjacency(np.vstack([sources, targets]), n),
        labels=np.zeros(n, dtype=np.bool_),
    )
    described = node_features(labelled, hops=hops)
    return AccountFeatureTable(
        accounts=accounts,
        matrix=described.matrix,
        names=tuple(_rename(name) for name in described.names),
        sources=sources,
        targets=targets,
        weights=weights,
        truncated=projection.truncated,
    )
