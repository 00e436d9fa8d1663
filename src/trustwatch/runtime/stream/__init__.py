"""The stream runtime: workers of a Kafka consumer group running the pipeline.

Each worker consumes event topics, runs the same
:class:`~trustwatch.runtime.pipeline.Pipeline` as the embedded runtime (one
per partition), and produces verdicts, actions and dead letters in Kafka
transactions; partition state is checkpointed behind the committed offsets so
that a restarted or rebalanced worker carries on where the last owner stopped.
"""

from trustwatch.runtime.stream.metrics import StreamMetrics
from trustwatch.runtime.stream.outputs import BATCH_HEADER, ID_HEADER, StreamDeadLetter
from trustwatch.runtime.stream.settings import StreamSettings
from trustwatch.runtime.stream.worker import StreamError, StreamWorker, WorkerSummary

__all__ = [
    "BATCH_HEADER",
    "ID_HEADER",
    "StreamDeadLetter",
    "StreamError",
    "StreamMetrics",
    "StreamSettings",
    "StreamWorker",
    "WorkerSummary",
]
