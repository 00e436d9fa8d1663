"""Score every account of the entity graph with a trained model, by sweeps.

:class:`AccountScoreDetector` (``graph_scores``) keeps its own bounded
:class:`~trustwatch.graph.EntityGraph` and, every ``sweep_interval`` seconds
of stream time, describes every account
(:func:`~trustwatch.graph.account_features.account_feature_table`: what it
holds and shares, how it is linked, how young it is, and the same of its
neighbours in the account projection) and scores it with a model trained on
labelled accounts (``trustwatch rings train``,
:mod:`trustwatch.graph.account_training`). Accounts scoring at or above the
model's threshold are flagged.

Signals, kind ``graph_risky_account`` on entity ``account``: one for each
account a sweep newly flags, on the event that triggered the sweep, and, with
``every_event``, one on each later event of a flagged account. The score is
the model's; the reasons name the features that pushed the account's score up
most (SHAP contributions, LightGBM's ``pred_contrib``).

For analysts, flagged accounts linked in the projection form groups (the
connected components of the strong links among flagged accounts), reported
as ring snapshots of method ``graph_scores``; a group keeps its id while
later sweeps find mostly the same members.

The model file is required, so the detector is never among the defaults:
``trustwatch run --graph-model FILE`` turns it on. The entity graph is built
with the graph parameters the model was trained with.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from hashlib import blake2b
from pathlib import Path
from typing import Any

import numpy as np

from trustwatch.detectors.base import Detector, Signal
from trustwatch.detectors.registry import register
from trustwatch.errors import ConfigError
from trustwatch.events.model import EventBase
from trustwatch.features.context import EventContext
from trustwatch.graph import EntityGraph, RingSnapshot
from trustwatch.graph.account_features import (
    AccountFeatureTable,
    account_feature_names,
    account_feature_table,
    describe_feature,
)
from trustwatch.graph.account_training import GRAPH_SETTINGS
from trustwatch.graphmodel.saved import SavedScorer, load_scorer

__all__ = ["AccountScoreDetector", "FlaggedAccount"]

_SNAPSHOT_MEMBERS = 1000
_SNAPSHOT_EVIDENCE = 16
_SNAPSHOT_HOLDINGS = 60


class FlaggedAccount:
    """An account a sweep scored at or above the threshold, with its reasons."""

    __slots__ = ("account", "reasons", "score", "top")

    def __init__(
        self,
        account: str,
        score: float,
        reasons: tuple[str, ...],
        top: tuple[tuple[str, float, float], ...],
    ) -> None:
        self.account = account
        self.score = score
        self.reasons = reasons
        self.top = top

    def to_json(self) -> list[Any]:
        """Return ``[account, score, reasons, top features]`` as plain values."""
        return [
            self.account,
            self.score,
            list(self.reasons),
            [[name, value, contribution] for name, value, contribution in self.top],
        ]

    @classmethod
    def from_json(cls, value: list[Any]) -> FlaggedAccount:
        """Rebuild from :meth:`to_json`."""
        account, score, reasons, top = value
        return cls(
            str(account),
            float(score),
            tuple(str(r) for r in reasons),
            tuple((str(n), float(v), float(c)) for n, v, c in top),
        )


@register
class AccountScoreDetector(Detector):
    """Flag accounts a trained model scores as risky, from the whole graph.

    Parameters
    ----------
    model_path
        The model file (``trustwatch rings train --out``); required.
    sweep_interval
        Seconds of stream time between sweeps.
    every_event
        Raise a signal on each event of a flagged account.
    threshold
        Score at which an account is flagged; the model's own threshold
        (chosen on validation accounts) when omitted.
    top_reasons
        Features named in each flagged account's reasons.
    min_group_size
        Groups of flagged accounts of fewer members are not reported as
        ring snapshots.
    min_link_weight
        Least projection link weight that puts two flagged accounts in one
        group (2.5: what a lockstep link needs, see
        :class:`~trustwatch.graph.RingTracker`); weaker links, such as a few
        popular files both downloaded, leave separate rings apart.
    match_jaccard
        Least Jaccard similarity of members for a group to keep the id of a
        group of the previous sweep.
    max_attribute_members, max_edges
        Bounds of the sweep (see
        :func:`~trustwatch.graph.account_features.account_feature_table`).
    max_accounts, max_attributes, max_pairs
        Bounds on the entity graph.

    Raises
    ------
    ConfigError
        When the model is missing, unreadable or trained on other features,
        or a parameter is out of range.
    """

    name = "graph_scores"
    version = "1"
    signal_kinds = ("graph_risky_account",)
    signal_kind = "graph_risky_account"
    group_prefix = "scored-"

    def __init__(
        self,
        model_path: str | None = None,
        sweep_interval: float = 3600.0,
        every_event: bool = True,
        threshold: float | None = None,
        top_reasons: int = 3,
        min_group_size: int = 2,
        min_link_weight: float = 2.5,
        match_jaccard: float = 0.5,
        max_attribute_members: int | None = None,
        max_edges: int = 4_000_000,
        max_accounts: int = 200_000,
        max_attributes: int = 500_000,
        max_pairs: int = 500_000,
    ) -> None:
        if not model_path:
            raise ConfigError(
                "the graph_scores detector needs model_path; hint: train a model "
                "with `trustwatch rings train EVENTS --labels FILE --out MODEL` "
                "and run with `--graph-model MODEL`"
            )
        if not sweep_interval > 0:
            raise ConfigError(
                f"sweep_interval={sweep_interval}; hint: use a positive duration"
            )
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"threshold={threshold}; hint: use a value in [0, 1]")
        if top_reasons < 0 or min_group_size < 2:
            raise ConfigError(
                f"top_reasons={top_reasons}, min_group_size={min_group_size}; "
                "hint: top_reasons >= 0, min_group_size >= 2"
            )
        if not min_link_weight >= 0:
            raise ConfigError(f"min_link_weight={min_link_weight}; hint: use >= 0")
        if not 0.0 < match_jaccard <= 1.0:
            raise ConfigError(f"match_jaccard={match_jaccard}; hint: use (0, 1]")
        model = load_scorer(Path(model_path))
        hops = int(model.settings.get("features", {}).get("hops", 2))
        model.check_features(account_feature_names(hops), source=str(model_path))
        graph_settings = model.settings.get("graph", {})
        unknown = sorted(set(graph_settings) - set(GRAPH_SETTINGS))
        if unknown:
            raise ConfigError(
                f"{model_path} records unknown graph settings {unknown}; hint: "
                "retrain the model with this version"
            )
        self._params: dict[str, Any] = {
            "model_path": str(model_path),
            "sweep_interval": sweep_interval,
            "every_event": every_event,
            "threshold": threshold,
            "top_reasons": top_reasons,
            "min_group_size": min_group_size,
            "min_link_weight": min_link_weight,
            "match_jaccard": match_jaccard,
            "max_attribute_members": max_attribute_members,
            "max_edges": max_edges,
            "max_accounts": max_accounts,
            "max_attributes": max_attributes,
            "max_pairs": max_pairs,
        }
        self.model: SavedScorer = model
        self.hops = hops
        self.threshold = model.threshold if threshold is None else float(threshold)
        self.sweep_interval = float(sweep_interval)
        self.every_event = every_event
        self.top_reasons = top_reasons
        self.min_group_size = min_group_size
        self.min_link_weight = float(min_link_weight)
        self.match_jaccard = match_jaccard
        self.max_attribute_members = max_attribute_members
        self.max_edges = max_edges
        try:
            self.graph = EntityGraph(
                **graph_settings,
                max_accounts=max_accounts,
                max_attributes=max_attributes,
                max_pairs=max_pairs,
            )
        except TypeError as error:
            raise ConfigError(
                f"{model_path} records unusable graph settings ({error}); hint: "
                "retrain the model with this version"
            ) from error
        self._flagged: dict[str, FlaggedAccount] = {}
        # group id -> (found, members)
        self._groups: dict[str, tuple[float, tuple[str, ...]]] = {}
        self._group_of: dict[str, str] = {}
        self._scored = 0
        self._last_sweep: float | None = None

    # ------------------------------------------------------------ stream

    def process_one(self, event: EventBase, ctx: EventContext) -> Sequence[Signal]:
        """Add the event to the graph, sweep when due, flag risky accounts."""
        account = event.account
        if not account:
            return ()
        t = ctx.t
        self.graph.add_event(event, t)
        signals: list[Signal] = []
        raised: set[str] = set()
        if self._last_sweep is None:
            self._last_sweep = t
        elif t - self._last_sweep >= self.sweep_interval:
            for flagged in self.sweep(t):
                raised.add(flagged.account)
                signals.append(self._signal(event, flagged, joined=True))
        if self.every_event and account not in raised:
            current = self._flagged.get(account)
            if current is not None:
                signals.append(self._signal(event, current, joined=False))
        return signals

    def sweep(self, t: float) -> list[FlaggedAccount]:
        """Score every account now; return the accounts newly flagged, by id."""
        self._last_sweep = t
        table = account_feature_table(
            self.graph,
            t,
            hops=self.hops,
            max_attribute_members=self.max_attribute_members,
            max_edges=self.max_edges,
        )
        self._scored = len(table.accounts)
        flagged: dict[str, FlaggedAccount] = {}
        if table.accounts:
            scores = self.model.score(table.matrix)
            rows = np.flatnonzero(scores >= self.threshold)
            explained = self._explain(table, rows, scores)
            flagged = {f.account: f for f in explained}
        before = self._flagged
        self._flagged = flagged
        self._groups = self._match_groups(self._components(table, flagged), t)
        self._group_of = {m: g for g, (_, ms) in self._groups.items() for m in ms}
        return [f for a, f in sorted(flagged.items()) if a not in before]

    def _explain(
        self, table: AccountFeatureTable, rows: np.ndarray, scores: np.ndarray
    ) -> list[FlaggedAccount]:
        if rows.size == 0:
            return []
        contributions = self.model.contributions(table.matrix[rows])[:, :-1]
        explained = []
        for k, row in enumerate(rows):
            order = np.argsort(-contributions[k], kind="stable")[: self.top_reasons]
            top = tuple(
                (
                    table.names[j],
                    float(table.matrix[row, j]),
                    round(float(contributions[k, j]), 4),
                )
                for j in order
                if contributions[k, j] > 0
            )
            score = float(scores[row])
            reasons = (
                f"scored {score:.2f} by the account model (flagged at "
                f"{self.threshold:.2f})",
                *(f"{describe_feature(n)}: {v:.4g}" for n, v, _ in top),
            )
            explained.append(FlaggedAccount(table.accounts[row], score, reasons, top))
        return explained

    def _components(
        self, table: AccountFeatureTable, flagged: dict[str, FlaggedAccount]
    ) -> list[tuple[str, ...]]:
        """Connected components of strong projection links among flagged accounts."""
        rows = {i for i, a in enumerate(table.accounts) if a in flagged}
        parent = {i: i for i in rows}

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        strong = table.weights >= self.min_link_weight
        for a, b in zip(
            table.sources[strong].tolist(), table.targets[strong].tolist(), strict=True
        ):
            if a in parent and b in parent:
                ra, rb = root(a), root(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
        members: dict[int, list[str]] = {}
        for i in sorted(rows):
            members.setdefault(root(i), []).append(table.accounts[i])
        groups = [tuple(m) for m in members.values() if len(m) >= self.min_group_size]
        return sorted(groups, key=lambda m: (-len(m), m[0]))

    def _match_groups(
        self, groups: list[tuple[str, ...]], t: float
    ) -> dict[str, tuple[float, tuple[str, ...]]]:
        """Give each group the id of the previous group most like it, if close."""
        previous_of = {m: g for g, (_, ms) in self._groups.items() for m in ms}
        taken: set[str] = set()
        matched: dict[str, tuple[float, tuple[str, ...]]] = {}
        for members in groups:
            overlap = Counter(previous_of[m] for m in members if m in previous_of)
            best: tuple[float, str] | None = None
            for group_id, common in sorted(overlap.items()):
                if group_id in taken:
                    continue
                union = len(members) + len(self._groups[group_id][1]) - common
                jaccard = common / union
                if jaccard >= self.match_jaccard and (
                    best is None or jaccard > best[0]
                ):
                    best = (jaccard, group_id)
            if best is None:
                seed = "\x00".join([*members, repr(t)])
                group_id = (
                    self.group_prefix
                    + blake2b(seed.encode(), digest_size=8).hexdigest()
                )
                found = t
            else:
                group_id = best[1]
                found = self._groups[group_id][0]
                taken.add(group_id)
            matched[group_id] = (found, members)
        return matched

    # ------------------------------------------------------------ reads

    def flagged(self) -> dict[str, float]:
        """Return the last sweep's flagged accounts with their scores."""
        return {a: f.score for a, f in sorted(self._flagged.items())}

    def explanation(self, account: str) -> FlaggedAccount | None:
        """Return why the last sweep flagged ``account``, or ``None``."""
        return self._flagged.get(account)

    def groups(self) -> list[tuple[str, tuple[str, ...]]]:
        """Return the last sweep's groups of flagged accounts, largest first."""
        return sorted(
            ((g, ms) for g, (_, ms) in self._groups.items()),
            key=lambda item: (-len(item[1]), item[0]),
        )

    def ring_snapshots(self) -> list[RingSnapshot]:
        """Return a snapshot of every group of linked flagged accounts.

        The risk is the members' mean score; the evidence counts members
        holding each attribute that at least two of them hold (hubs left out).
        """
        snapshots = []
        for group_id, (found, members) in self._groups.items():
            held: Counter[str] = Counter()
            for member in members:
                held.update(
                    a for a in self.graph.attributes(member) if not self.graph.is_hub(a)
                )
            evidence = tuple(
                sorted(
                    ((a, n) for a, n in held.items() if n >= 2),
                    key=lambda kv: (-kv[1], kv[0]),
                )[:_SNAPSHOT_EVIDENCE]
            )
            listed = {a for a, _ in evidence}
            scores = [self._flagged[m].score for m in members if m in self._flagged]
            risk = sum(scores) / len(scores) if scores else 0.0
            features = Counter(
                describe_feature(name)
                for m in members
                if m in self._flagged
                for name, _, _ in self._flagged[m].top[:1]
            )
            reasons = [
                f"{len(members)} accounts the account model flags, linked by "
                "what they share",
                *(
                    f"{n} of them mostly for: {words}"
                    for words, n in features.most_common(3)
                ),
            ]
            shown = members[:_SNAPSHOT_MEMBERS]
            snapshots.append(
                RingSnapshot(
                    ring_id=group_id,
                    method=self.name,
                    size=len(members),
                    risk=min(1.0, risk),
                    reasons=tuple(reasons),
                    founded=found,
                    updated=self._last_sweep or found,
                    members=shown,
                    evidence=evidence,
                    holdings={
                        m: tuple(a for a in self.graph.attributes(m) if a in listed)
                        for m in shown[:_SNAPSHOT_HOLDINGS]
                    },
                )
            )
        return sorted(snapshots, key=lambda s: (-s.risk, -s.size, s.ring_id))

    def _signal(
        self, event: EventBase, flagged: FlaggedAccount, *, joined: bool
    ) -> Signal:
        group = self._group_of.get(flagged.account)
        evidence = {
            "score": round(flagged.score, 4),
            "threshold": round(self.threshold, 4),
            "top_features": [
                {"feature": n, "value": round(v, 4), "contribution": c}
                for n, v, c in flagged.top
            ],
            "group_id": group,
            "accounts_scored": self._scored,
        }
        lead = "newly flagged by the account model" if joined else "flagged account"
        return self.signal(
            event,
            kind=self.signal_kind,
            score=flagged.score,
            entity_type="account",
            entity=flagged.account,
            reasons=(lead, *flagged.reasons),
            evidence=evidence,
        )

    # ------------------------------------------------------------ state

    def get_state(self) -> dict[str, Any]:
        """Return the graph, the flagged accounts and the groups as plain values."""
        return {
            "graph": self.graph.get_state(),
            "flagged": [f.to_json() for _, f in sorted(self._flagged.items())],
            "groups": [
                [g, found, list(members)]
                for g, (found, members) in self._groups.items()
            ],
            "scored": self._scored,
            "last_sweep": self._last_sweep,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from :meth:`get_state`."""
        flagged = [FlaggedAccount.from_json(f) for f in state["flagged"]]
        groups = {
            str(g): (float(found), tuple(str(m) for m in members))
            for g, found, members in state["groups"]
        }
        scored = int(state["scored"])
        last = state["last_sweep"]
        last_sweep = None if last is None else float(last)
        self.graph.set_state(state["graph"])
        self._flagged = {f.account: f for f in flagged}
        self._groups = groups
        self._group_of = {m: g for g, (_, ms) in groups.items() for m in ms}
        self._scored = scored
        self._last_sweep = last_sweep
