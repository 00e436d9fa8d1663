"""Warming a pipeline up before a stream worker joins its group."""

from __future__ import annotations

from stream_rig import build_pipeline

from trustwatch.events.model import EVENT_TYPES, EventBase
from trustwatch.runtime.pipeline import Pipeline
from trustwatch.runtime.warmup import WARM_UP_EVENTS, warm_up


def test_warm_up_meets_every_event_type_with_one_throwaway_pipeline() -> None:
    built: list[Pipeline] = []
    seen: set[type[EventBase]] = set()

    def build() -> Pipeline:
        pipeline = build_pipeline()
        process_one = pipeline.process_one

        def watched(event: EventBase, t: float | None = None) -> object:
            seen.add(type(event))
            return process_one(event, t)

        pipeline.process_one = watched  # type: ignore[method-assign]
        built.append(pipeline)
        return pipeline

    spent = warm_up(build)

    assert len(built) == 1
    assert built[0].events_seen >= WARM_UP_EVENTS
    assert not built[0].failures
    assert spent > 0
    assert seen == set(EVENT_TYPES.values())
