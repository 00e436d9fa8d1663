"""The entity graph and the rings found in it, updated as events arrive.

:class:`EntityGraph` links accounts through what they share (addresses,
devices, files, URLs, recipients, sign-up patterns) with bounded memory;
:class:`RingTracker` clusters accounts that act in lockstep into rings with
stable ids, evidence and a risk score.
"""

from trustwatch.graph.entity_graph import (
    ATTRIBUTE_KINDS,
    EntityGraph,
    PairEvidence,
    attribute_kind,
    email_shape,
    event_attributes,
)
from trustwatch.graph.rings import (
    Ring,
    RingRisk,
    RingSnapshot,
    RingTracker,
    RingUpdate,
)

__all__ = [
    "ATTRIBUTE_KINDS",
    "EntityGraph",
    "PairEvidence",
    "Ring",
    "RingRisk",
    "RingSnapshot",
    "RingTracker",
    "RingUpdate",
    "attribute_kind",
    "email_shape",
    "event_attributes",
]
