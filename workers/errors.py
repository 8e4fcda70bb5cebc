"""Errors of the workers, on top of the domain core's (``smmu.errors``).

A worker answers Step Functions with the exception's class name as ``Error``: ``BadInputError`` subclasses
(``CorruptMediaError`` ...) mean retrying cannot help; ``WorkerError`` (defined in the core, so its code is one
every stage knows) is an unexpected failure worth a retry.
"""

from smmu.errors import WorkerError

__all__ = ["TaskCancelled", "WorkerError"]


class TaskCancelled(Exception):
    """The task must stop without an answer: its token is no longer valid, or the worker is shutting down."""
