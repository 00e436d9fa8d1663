"""Graph models: supervised node scoring, and dense blocks in bipartite graphs.

- :mod:`~trustwatch.graphmodel.graph`: :class:`LabelledGraph`, loading
  ``.npz`` graphs without pickle;
- :mod:`~trustwatch.graphmodel.aggregates`: own features plus one- and
  two-hop neighbour aggregates (mean, max, sum) and degrees;
- :mod:`~trustwatch.graphmodel.model`: :class:`NodeScorer`, LightGBM with
  early stopping on validation nodes;
- :mod:`~trustwatch.graphmodel.gnn`: :class:`GraphSageScorer`, GraphSAGE
  trained full-batch with early stopping on validation nodes (torch and
  torch_geometric are optional and imported only when it trains);
- :mod:`~trustwatch.graphmodel.protocol`: stratified splits and AUROC,
  AUPRC, Rec@K;
- :mod:`~trustwatch.graphmodel.dense`: FRAUDAR peeling (Hooi et al., KDD
  2016) for dense, camouflage-resistant blocks of an account–object graph.

The family follows GADBench (Tang et al., NeurIPS 2023), which found tree
ensembles on neighbourhood aggregates the strongest supervised detectors.
"""

from trustwatch.graphmodel.aggregates import (
    AGGREGATIONS,
    LABEL_FEATURE_NAMES,
    NodeFeatures,
    label_features,
    neighbour_max,
    node_features,
)
from trustwatch.graphmodel.dense import (
    DenseBlock,
    column_weights,
    densest_block,
    top_dense_blocks,
)
from trustwatch.graphmodel.gnn import (
    GraphSageScorer,
    GraphSageSettings,
    gnn_available,
)
from trustwatch.graphmodel.graph import LabelledGraph, build_adjacency, load_npz_graph
from trustwatch.graphmodel.model import NodeScorer, NodeScorerSettings
from trustwatch.graphmodel.protocol import (
    NodeSplit,
    RankingMetrics,
    ranking_metrics,
    stratified_split,
)

__all__ = [
    "AGGREGATIONS",
    "LABEL_FEATURE_NAMES",
    "DenseBlock",
    "GraphSageScorer",
    "GraphSageSettings",
    "LabelledGraph",
    "NodeFeatures",
    "NodeScorer",
    "NodeScorerSettings",
    "NodeSplit",
    "RankingMetrics",
    "build_adjacency",
    "column_weights",
    "densest_block",
    "gnn_available",
    "label_features",
    "load_npz_graph",
    "neighbour_max",
    "node_features",
    "ranking_metrics",
    "stratified_split",
    "top_dense_blocks",
]
