"""Errors of the workers, on top of the domain core's (``smmu.errors``).

A worker answers Step Functions with the exception's class name as ``Error``: ``BadInputError`` subclasses
(``CorruptMediaError`` ...) mean retrying cannot help; ``WorkerError`` is an unexpected failure worth a retry.
"""

from smmu.errors import PipelineError


class WorkerError(PipelineError):
    """Something went wrong in the worker, not in the upload (a tool crashed, storage failed): retryable."""

    code = "WORKER_ERROR"
    retryable = True


class TaskCancelled(Exception):
    """The task must stop without an answer: its token is no longer valid, or the worker is shutting down."""
