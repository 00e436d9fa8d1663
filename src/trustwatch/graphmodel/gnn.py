"""GraphSAGE that scores nodes by learning from their neighbours' features.

:class:`GraphSageScorer` trains a GraphSAGE network (Hamilton et al.,
"Inductive Representation Learning on Large Graphs", NeurIPS 2017) on the
whole graph at once: each layer combines a node's own representation with
the mean of its neighbours', so what the model learns about a node can come
from its neighbourhood alone. Training is transductive and full-batch:
every node's features and edges are visible, the loss covers the training
nodes only, and the validation nodes choose the epoch whose weights are kept
(early stopping on average precision).

- degree: mean aggregation cannot count neighbours, so ``log(1 + degree)``
  is appended to the input features (``log_degree``);
- class imbalance: the loss weighs each anomalous training node by the ratio
  of normal to anomalous training nodes;
- features are standardised with the mean and deviation of the training
  nodes only;
- training is deterministic: a fixed seed, deterministic algorithms and a
  fixed number of threads, restored when training ends.

torch and torch_geometric are optional (``pip install 'trustwatch[gnn]'``)
and imported only when a network is built; importing this module does not
import them. A higher score (the network's logit) means more likely anomalous.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.metrics import average_precision_score

from trustwatch.errors import ConfigError
from trustwatch.graphmodel.graph import build_adjacency

__all__ = ["GraphSageScorer", "GraphSageSettings", "gnn_available"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

GNN_HINT = "hint: pip install 'trustwatch[gnn]' (torch and torch_geometric)"
"""How to install the optional GNN dependencies."""

# torch announces its sparse CSR support as beta each time a CSR tensor is
# built; the adjacency is one, and pytest turns the warning into an error.
_CSR_BETA_WARNING = "Sparse CSR tensor support is in beta state"

# torch_geometric compiles a few helpers with torch.jit.script on import,
# which torch 2.13 reports as deprecated; nothing a caller can act on.
_JIT_DEPRECATION = "`torch.jit.script` is deprecated"


def _import_gnn() -> tuple[Any, Any]:
    """Return the ``torch`` and ``torch_geometric.nn`` modules.

    Raises
    ------
    ConfigError
        When either is not installed.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=_JIT_DEPRECATION, category=DeprecationWarning
            )
            import torch  # type: ignore[import-not-found, unused-ignore]
            import torch_geometric.nn as pyg_nn  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError as error:
        raise ConfigError(
            f"the GraphSAGE scorer needs torch and torch_geometric ({error}); "
            f"{GNN_HINT}"
        ) from error
    return torch, pyg_nn


def gnn_available() -> bool:
    """Whether torch and torch_geometric can be imported.

    Returns
    -------
    bool
        True when :class:`GraphSageScorer` can be trained here.
    """
    try:
        _import_gnn()
    except ConfigError:
        return False
    return True


@dataclass(frozen=True)
class GraphSageSettings:
    """Fixed GraphSAGE settings; nothing here is chosen on test nodes.

    Attributes
    ----------
    hidden
        Width of every hidden layer.
    layers
        GraphSAGE layers (hops of neighbourhood seen), 1 to 4.
    dropout
        Dropout probability after each layer, in ``[0, 1)``.
    learning_rate, weight_decay
        Adam's step size (> 0) and L2 penalty (>= 0).
    max_epochs
        Most full-batch training epochs.
    patience
        Epochs without a better validation average precision before stopping.
    seed
        Seed of the weight initialisation and dropout.
    threads
        torch threads while training and scoring; fixed so that results do
        not depend on the machine's cores.
    log_degree
        Append ``log(1 + degree)`` to each node's input features.
    """

    hidden: int = 128
    layers: int = 2
    dropout: float = 0.3
    learning_rate: float = 0.01
    weight_decay: float = 1e-4
    max_epochs: int = 400
    patience: int = 60
    seed: int = 0
    threads: int = 1
    log_degree: bool = True

    def __post_init__(self) -> None:
        if self.hidden < 1:
            raise ConfigError(f"hidden must be >= 1, got {self.hidden}")
        if not 1 <= self.layers <= 4:
            raise ConfigError(f"layers must be between 1 and 4, got {self.layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if not (np.isfinite(self.learning_rate) and self.learning_rate > 0.0):
            raise ConfigError(
                f"learning_rate must be a finite number > 0, got {self.learning_rate}"
            )
        if not (np.isfinite(self.weight_decay) and self.weight_decay >= 0.0):
            raise ConfigError(
                f"weight_decay must be a finite number >= 0, got {self.weight_decay}"
            )
        if self.max_epochs < 1 or self.patience < 1:
            raise ConfigError(
                f"max_epochs and patience must be >= 1, got {self.max_epochs} "
                f"and {self.patience}"
            )
        if self.threads < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads}")

    def as_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return asdict(self)


@contextmanager
def _deterministic(torch: Any, threads: int) -> Iterator[None]:
    """Deterministic algorithms and ``threads`` threads, restored on exit."""
    previous_threads = torch.get_num_threads()
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_CSR_BETA_WARNING)
            yield
    finally:
        torch.use_deterministic_algorithms(previous_deterministic)
        torch.set_num_threads(previous_threads)


def _as_adjacency(graph_edges: Any, n_nodes: int) -> sp.csr_matrix:
    """A CSR adjacency from a sparse matrix or a ``(2, n_edges)`` edge list."""
    if sp.issparse(graph_edges):
        if graph_edges.shape != (n_nodes, n_nodes):
            raise ConfigError(
                f"the adjacency has shape {graph_edges.shape}; {n_nodes} feature "
                f"rows need ({n_nodes}, {n_nodes})"
            )
        adjacency = sp.csr_matrix(graph_edges, dtype=np.float64)
        adjacency.sum_duplicates()
        adjacency.eliminate_zeros()
        adjacency.data[:] = 1.0
        adjacency.sort_indices()
        return adjacency
    return build_adjacency(graph_edges, n_nodes)


def _standardised(features: FloatArray, train_rows: IntArray) -> FloatArray:
    """Features centred and scaled by the training nodes' mean and deviation."""
    mean = features[train_rows].mean(axis=0)
    scale = features[train_rows].std(axis=0)
    scale[scale == 0.0] = 1.0
    return np.asarray((features - mean) / scale, dtype=np.float64)


def _check_rows(labels: BoolArray, rows: IntArray, part: str) -> None:
    """Refuse an empty or one-class split, or indices outside the graph."""
    if rows.size == 0:
        raise ConfigError(f"the {part} split is empty")
    if rows.min() < 0 or rows.max() >= labels.size:
        raise ConfigError(f"the {part} split holds node ids outside [0, {labels.size})")
    part_labels = labels[rows]
    if part_labels.all() or not part_labels.any():
        raise ConfigError(
            f"the {part} split holds one class only ({rows.size} nodes, "
            f"{int(part_labels.sum())} anomalous); both are needed"
        )


def _network(
    torch: Any, pyg_nn: Any, n_inputs: int, settings: GraphSageSettings
) -> Any:
    """GraphSAGE layers (mean aggregation), ReLU and dropout, a linear output."""

    class GraphSage(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            widths = [n_inputs] + [settings.hidden] * settings.layers
            self.convolutions = torch.nn.ModuleList(
                pyg_nn.SAGEConv(widths[i], widths[i + 1], aggr="mean")
                for i in range(settings.layers)
            )
            self.dropout = torch.nn.Dropout(settings.dropout)
            self.output = torch.nn.Linear(settings.hidden, 1)

        def forward(self, x: Any, adjacency: Any) -> Any:
            for convolution in self.convolutions:
                x = self.dropout(torch.relu(convolution(x, adjacency)))
            return self.output(x).squeeze(-1)

    return GraphSage()


def _csr_tensor(torch: Any, adjacency: sp.csr_matrix) -> Any:
    """The adjacency as a torch CSR tensor (row ``i``: neighbours of ``i``)."""
    return torch.sparse_csr_tensor(
        torch.from_numpy(adjacency.indptr.astype(np.int64)),
        torch.from_numpy(adjacency.indices.astype(np.int64)),
        torch.from_numpy(adjacency.data.astype(np.float32)),
        size=adjacency.shape,
        check_invariants=True,
    )


class GraphSageScorer:
    """GraphSAGE trained full-batch, early-stopped on validation nodes.

    Parameters
    ----------
    settings
        Network and training settings; the defaults are the ones the
        evaluation reports.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 3)); y = x[:, 0] > 1.0
    >>> edges = np.stack([np.arange(199), np.arange(1, 200)])
    >>> scorer = GraphSageScorer(GraphSageSettings(max_epochs=20))
    >>> train, validation = np.arange(0, 120), np.arange(120, 200)
    >>> scorer = scorer.fit(x, y, edges, train, validation)  # doctest: +SKIP
    >>> scorer.score(np.arange(2)).shape  # doctest: +SKIP
    (2,)
    """

    def __init__(self, settings: GraphSageSettings | None = None) -> None:
        self.settings = settings or GraphSageSettings()
        self._scores: FloatArray | None = None
        self._best_epoch = 0
        self._epochs_run = 0
        self._validation_ap = float("nan")

    @property
    def best_epoch(self) -> int:
        """Epoch (from 1) whose weights were kept, chosen on validation nodes."""
        self._fitted()
        return self._best_epoch

    @property
    def epochs_run(self) -> int:
        """Epochs trained before early stopping or the epoch limit."""
        self._fitted()
        return self._epochs_run

    @property
    def validation_average_precision(self) -> float:
        """Average precision of the validation nodes with the kept weights."""
        self._fitted()
        return self._validation_ap

    def fit(
        self,
        features: FloatArray,
        labels: BoolArray,
        graph_edges: sp.spmatrix | sp.sparray | npt.ArrayLike,
        train_rows: IntArray,
        validation_rows: IntArray,
    ) -> GraphSageScorer:
        """Train on ``train_rows``, keeping the epoch best on ``validation_rows``.

        Parameters
        ----------
        features
            ``(n_nodes, n_features)`` raw node features (the network builds
            its own neighbourhood aggregates).
        labels
            ``(n_nodes,)`` booleans, True for anomalous; only the training
            and validation nodes' labels are read.
        graph_edges
            The graph: an ``(n_nodes, n_nodes)`` sparse adjacency whose row
            ``i`` lists the neighbours of node ``i`` (weights are ignored),
            or a ``(2, n_edges)`` edge list taken as undirected.
        train_rows, validation_rows
            Disjoint node indices; each must hold both classes.

        Returns
        -------
        GraphSageScorer
            ``self``, fitted; every node's score is computed once, with the
            kept weights.

        Raises
        ------
        ConfigError
            When torch or torch_geometric is missing, on mismatched shapes,
            overlapping splits or a one-class split.
        """
        torch, pyg_nn = _import_gnn()
        features = np.asarray(features, dtype=np.float64)
        labels = np.asarray(labels, dtype=bool)
        if features.ndim != 2 or labels.shape != (features.shape[0],):
            raise ConfigError(
                f"features {features.shape} and labels {labels.shape} disagree; "
                "one label per feature row is needed"
            )
        if not np.isfinite(features).all():
            raise ConfigError("features hold NaN or infinite values")
        train_rows = np.asarray(train_rows, dtype=np.int64)
        validation_rows = np.asarray(validation_rows, dtype=np.int64)
        _check_rows(labels, train_rows, "train")
        _check_rows(labels, validation_rows, "validation")
        if np.intersect1d(train_rows, validation_rows).size:
            raise ConfigError("train and validation rows overlap")
        adjacency = _as_adjacency(graph_edges, features.shape[0])
        if self.settings.log_degree:
            degree = np.diff(adjacency.indptr).astype(np.float64)
            features = np.column_stack([features, np.log1p(degree)])
        inputs = _standardised(features, train_rows).astype(np.float32)

        with _deterministic(torch, self.settings.threads):
            self._train(
                torch, pyg_nn, inputs, adjacency, labels, train_rows, validation_rows
            )
        logger.debug(
            "GraphSAGE fitted: epoch %d kept of %d run, validation AP %.4f",
            self._best_epoch,
            self._epochs_run,
            self._validation_ap,
        )
        return self

    def _train(
        self,
        torch: Any,
        pyg_nn: Any,
        inputs: npt.NDArray[np.float32],
        adjacency: sp.csr_matrix,
        labels: BoolArray,
        train_rows: IntArray,
        validation_rows: IntArray,
    ) -> None:
        """The training loop; runs inside :func:`_deterministic`."""
        settings = self.settings
        torch.manual_seed(settings.seed)
        x = torch.from_numpy(inputs)
        adjacency_tensor = _csr_tensor(torch, adjacency)
        train_index = torch.from_numpy(train_rows)
        train_targets = torch.from_numpy(labels[train_rows].astype(np.float32))
        validation_labels = labels[validation_rows]
        n_anomalous = float(labels[train_rows].sum())
        positive_weight = (train_rows.size - n_anomalous) / n_anomalous

        network = _network(torch, pyg_nn, inputs.shape[1], settings)
        optimiser = torch.optim.Adam(
            network.parameters(),
            lr=settings.learning_rate,
            weight_decay=settings.weight_decay,
        )
        loss_function = torch.nn.BCEWithLogitsLoss(
            pos_weight=torch.tensor(positive_weight, dtype=torch.float32)
        )

        best_ap, best_epoch, best_state = -1.0, 0, None
        epoch = 0
        for epoch in range(1, settings.max_epochs + 1):
            network.train()
            optimiser.zero_grad()
            logits = network(x, adjacency_tensor)
            loss = loss_function(logits[train_index], train_targets)
            loss.backward()
            optimiser.step()

            network.eval()
            with torch.no_grad():
                scores = network(x, adjacency_tensor).numpy()
            validation_ap = float(
                average_precision_score(validation_labels, scores[validation_rows])
            )
            if validation_ap > best_ap:
                best_ap, best_epoch = validation_ap, epoch
                best_state = copy.deepcopy(network.state_dict())
            elif epoch - best_epoch >= settings.patience:
                break

        network.load_state_dict(best_state)
        network.eval()
        with torch.no_grad():
            logits = network(x, adjacency_tensor)
        # Logits, not probabilities: a sigmoid would tie the extreme nodes at
        # 0.0 or 1.0, and the class-weighted loss leaves it uncalibrated.
        self._scores = logits.numpy().astype(np.float64)
        self._best_epoch = best_epoch
        self._epochs_run = epoch
        self._validation_ap = best_ap

    def score(self, rows: npt.ArrayLike) -> FloatArray:
        """Anomaly score of each node in ``rows``, with the kept weights.

        Parameters
        ----------
        rows
            Node indices of the graph given to :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            ``(len(rows),)`` logits of the network (any real number); higher
            is more anomalous. They rank nodes; with the class-weighted loss
            their sigmoid is not a calibrated probability.

        Raises
        ------
        ConfigError
            When not fitted, or an index lies outside the graph.
        """
        scores = self._fitted()
        index = np.asarray(rows, dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= scores.size):
            raise ConfigError(
                f"node ids must lie in [0, {scores.size}), the graph given to fit()"
            )
        return scores[index].copy()

    def _fitted(self) -> FloatArray:
        if self._scores is None:
            raise ConfigError("the GraphSAGE scorer is not fitted; call fit() first")
        return self._scores
