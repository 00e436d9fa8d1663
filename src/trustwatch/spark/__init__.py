"""Batch jobs on Spark over the Parquet event lake (optional ``spark`` extra).

:func:`find_rings_batch` builds the entity graph and clusters lockstep rings
like :class:`~trustwatch.graph.RingTracker`, with Spark DataFrames, for when
the graph outgrows one machine. pyspark is imported on first use.
"""

from trustwatch.spark.rings import (
    BatchRingConfig,
    BatchRings,
    ParquetInputs,
    SkippedFile,
    attribute_uses,
    find_rings_batch,
    linked_pairs,
    local_spark_session,
    scan_parquet_inputs,
)

__all__ = [
    "BatchRingConfig",
    "BatchRings",
    "ParquetInputs",
    "SkippedFile",
    "attribute_uses",
    "find_rings_batch",
    "linked_pairs",
    "local_spark_session",
    "scan_parquet_inputs",
]
