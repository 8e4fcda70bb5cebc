"""``@pipeline_step``: what every state-machine step does around its work.

It tags logs with the job id and step, times the work, and appends the outcome to the job's timeline, so a
client sees every step, how long it took and, on failure, why. The exception is re-raised unchanged: its class
name is the error Step Functions routes on.
"""

import functools
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.shared.context import jobs, logger
from smmu.errors import BadInputError
from smmu.jobs import TimelineEntry

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def pipeline_step(step: str) -> Callable[[Handler], Handler]:
    def decorate(work: Handler) -> Handler:
        @functools.wraps(work)
        def run(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            job_id = event["job_id"]
            logger.append_keys(job_id=job_id, step=step)
            started = time.perf_counter()
            try:
                result = work(event, context)
            except Exception as exc:
                elapsed = (time.perf_counter() - started) * 1000
                if isinstance(exc, BadInputError):
                    logger.warning("step rejected the input", reason=str(exc), error=type(exc).__name__)
                else:
                    logger.exception("step failed")
                _record(job_id, TimelineEntry(step=step, outcome="failed", duration_ms=elapsed, detail=str(exc)))
                raise
            elapsed = (time.perf_counter() - started) * 1000
            _record(job_id, TimelineEntry(step=step, outcome="succeeded", duration_ms=round(elapsed, 2)))
            return result

        return run

    return decorate


def _record(job_id: str, entry: TimelineEntry) -> None:
    # The timeline is for people; failing to write it must not change the step's outcome.
    try:
        jobs().record_step(job_id, entry)
    except Exception:
        logger.exception("could not record the step in the job's timeline")
