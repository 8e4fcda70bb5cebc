"""How a Lambda handler meets its contract, and what every state-machine step does around its work.

``@typed_handler``: the handler is written against models (``smmu.contracts``): the event is parsed into the
type its ``event`` parameter declares and the returned model is serialised back to JSON. The models a handler
takes and returns are read from its annotations, so the contract test can find them without a hand-kept map.

``@pipeline_step``: a typed handler that also tags logs with the job id and step, times the work, and appends the
outcome to the job's timeline, so a client sees every step, how long it took and, on failure, why. The exception
is re-raised unchanged: its class name is the error Step Functions routes on.
"""

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar, get_type_hints

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import TypeAdapter

from lambdas.shared.context import jobs, logger
from smmu.contracts import Message, ObjectStep
from smmu.errors import BadInputError
from smmu.jobs import TimelineEntry

#: What the Lambda runtime calls: JSON in, JSON out.
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]
E = TypeVar("E")
S = TypeVar("S", bound=ObjectStep)


def event_type(handler: Callable[..., Any]) -> Any:
    """The type a (typed) handler's ``event`` parameter declares."""
    return get_type_hints(handler, include_extras=True)["event"]


def typed_handler(handler: Callable[[E, LambdaContext], Message]) -> LambdaHandler:
    adapter: TypeAdapter[E] = TypeAdapter(event_type(handler))

    @functools.wraps(handler)
    def run(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return handler(adapter.validate_python(event), context).to_json()

    return run


def pipeline_step(step: str) -> Callable[[Callable[[S, LambdaContext], Message]], LambdaHandler]:
    def decorate(work: Callable[[S, LambdaContext], Message]) -> LambdaHandler:
        adapter: TypeAdapter[S] = TypeAdapter(event_type(work))

        @functools.wraps(work)
        def run(raw: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            event = adapter.validate_python(raw)
            logger.append_keys(job_id=event.job_id, step=step)
            started = time.perf_counter()
            try:
                result = work(event, context)
            except Exception as exc:
                elapsed = (time.perf_counter() - started) * 1000
                if isinstance(exc, BadInputError):
                    logger.warning("step rejected the input", reason=str(exc), error=type(exc).__name__)
                else:
                    logger.exception("step failed")
                _record(event.job_id, TimelineEntry(step=step, outcome="failed", duration_ms=elapsed, detail=str(exc)))
                raise
            elapsed = (time.perf_counter() - started) * 1000
            _record(event.job_id, TimelineEntry(step=step, outcome="succeeded", duration_ms=round(elapsed, 2)))
            return result.to_json()

        return run

    return decorate


def _record(job_id: str, entry: TimelineEntry) -> None:
    # The timeline is for people; failing to write it must not change the step's outcome.
    try:
        jobs().record_step(job_id, entry)
    except Exception:
        logger.exception("could not record the step in the job's timeline")
