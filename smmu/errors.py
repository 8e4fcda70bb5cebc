"""Errors a pipeline step raises on purpose, and the stable codes clients see.

The class name becomes the Step Functions error name (``Error``), so the state machine can retry transient
failures and go straight to the failure path for bad input. ``code`` is the stable machine-readable reason a
client sees; the message is the human-readable one. The codes are read from the classes themselves
(``error_codes``): a new error class is a new code, with nothing else to keep in step, and the API's OpenAPI
description of ``error.code`` lists them all.
"""


class PipelineError(Exception):
    """A step failed for a reason it could name."""

    code = "PIPELINE_ERROR"
    retryable = False


class BadInputError(PipelineError):
    """The upload itself is unusable; retrying cannot help."""

    code = "BAD_INPUT"


class ObjectMissingError(BadInputError):
    """The uploaded file is no longer in the upload bucket."""

    code = "OBJECT_MISSING"


class EmptyObjectError(BadInputError):
    """The uploaded file is empty."""

    code = "EMPTY_FILE"


class ObjectTooLargeError(BadInputError):
    """The file is larger than the limit or than declared, or the image has too many pixels."""

    code = "FILE_TOO_LARGE"


class TypeMismatchError(BadInputError):
    """The file's content is another format than the one declared."""

    code = "TYPE_MISMATCH"


class UnsupportedMediaError(BadInputError):
    """The file is no image, audio or video format we process."""

    code = "UNSUPPORTED_MEDIA"


class CorruptMediaError(BadInputError):
    """The file is of a supported format but cannot be decoded."""

    code = "CORRUPT_MEDIA"


class UploadChangedError(BadInputError):
    """The object under the job's key is not the upload the job accepted (someone uploaded again)."""

    code = "UPLOAD_CHANGED"


class JobNotFoundError(PipelineError):
    """The job the step was started for does not exist."""

    code = "JOB_NOT_FOUND"


class WorkerError(PipelineError):
    """A media worker failed, not the upload (a tool crashed, storage failed), and retries did not help."""

    code = "WORKER_ERROR"
    retryable = True


class StepTimeoutError(PipelineError):
    """A step ran out of time, or its worker stopped sending heartbeats, on every attempt."""

    code = "STEP_TIMEOUT"


class WorkflowLostError(PipelineError):
    """The job's workflow never started, or ended without recording a result (settled by the reconciler)."""

    code = "WORKFLOW_LOST"


class UploadAbortedError(PipelineError):
    """The client aborted its multipart upload; S3 discarded the parts."""

    code = "UPLOAD_ABORTED"


class UploadAbandonedError(PipelineError):
    """A multipart upload was not completed in time; the reconciler aborted it and S3 discarded the parts."""

    code = "UPLOAD_ABANDONED"


class InternalError(PipelineError):
    """An unexpected failure (a crash, a bug); the message says what happened."""

    code = "INTERNAL_ERROR"


def _classes(root: type[PipelineError] = PipelineError) -> list[type[PipelineError]]:
    found = [root]
    for sub in root.__subclasses__():
        found.extend(_classes(sub))
    return found


def error_codes() -> dict[str, str]:
    """Every code a client can see, with what it means (from the classes' docstrings)."""
    return {cls.code: " ".join((cls.__doc__ or cls.__name__).split()) for cls in _classes()}


def code_for(error_name: str) -> str:
    """Stable code for a Step Functions error name; runtime errors (timeouts, crashes) map to their own codes."""
    by_name = {cls.__name__: cls.code for cls in _classes()}
    if error_name in by_name:
        return by_name[error_name]
    if error_name.startswith("States.") and "Timeout" in error_name:
        return StepTimeoutError.code
    return InternalError.code
