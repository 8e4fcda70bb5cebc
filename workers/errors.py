"""Errors of the workers, on top of the domain core's (``smmu.errors``).

A worker answers Step Functions with the exception's class name as ``Error``: ``BadInputError`` subclasses
(``CorruptMediaError`` ...) mean retrying cannot help; ``WorkerError`` is a failure of the machine or a tool that
another attempt may not meet (retried); ``ProcessingError`` is a failure that the same input would meet again
(a command graph that cannot be built, a tool refusing the input): not retried. Both are defined in the core,
so their codes are ones every stage knows.
"""

from smmu.errors import PipelineError, ProcessingError, WorkerError

__all__ = ["DETERMINISTIC", "ProcessingError", "TaskCancelled", "WorkerError", "error_name"]


#: Exceptions that are the same on every attempt with the same input: programming or data errors, not the
#: machine's (ffmpeg-python's graph errors are ValueErrors).
DETERMINISTIC = (
    ValueError,
    TypeError,
    LookupError,
    AttributeError,
    ArithmeticError,
    AssertionError,
    NotImplementedError,
)


def error_name(error: BaseException) -> str:
    """The ``Error`` a worker answers Step Functions with for ``error``: the state machine retries on it."""
    if isinstance(error, PipelineError):
        return type(error).__name__
    if isinstance(error, DETERMINISTIC):
        return ProcessingError.__name__
    return WorkerError.__name__


class TaskCancelled(Exception):
    """The task must stop without an answer: its token is no longer valid, or the worker is shutting down."""
