"""Errors a pipeline step raises on purpose.

The class name becomes the Step Functions error name (``Error``), so the state machine can retry transient
failures and go straight to the failure path for bad input. ``code`` is the stable machine-readable reason a
client sees; the message is the human-readable one.
"""


class PipelineError(Exception):
    code = "PIPELINE_ERROR"
    retryable = False


class BadInputError(PipelineError):
    """The upload itself is unusable; retrying cannot help."""

    code = "BAD_INPUT"


class ObjectMissingError(BadInputError):
    code = "OBJECT_MISSING"


class EmptyObjectError(BadInputError):
    code = "EMPTY_FILE"


class ObjectTooLargeError(BadInputError):
    code = "FILE_TOO_LARGE"


class TypeMismatchError(BadInputError):
    code = "TYPE_MISMATCH"


class UnsupportedMediaError(BadInputError):
    code = "UNSUPPORTED_MEDIA"


class CorruptMediaError(BadInputError):
    code = "CORRUPT_MEDIA"


class UploadChangedError(BadInputError):
    """The object under the job's key is not the upload the job accepted (someone uploaded again)."""

    code = "UPLOAD_CHANGED"


class JobNotFoundError(PipelineError):
    code = "JOB_NOT_FOUND"


ERROR_CODES: dict[str, str] = {
    cls.__name__: cls.code
    for cls in (
        PipelineError,
        BadInputError,
        ObjectMissingError,
        EmptyObjectError,
        ObjectTooLargeError,
        TypeMismatchError,
        UnsupportedMediaError,
        CorruptMediaError,
        UploadChangedError,
        JobNotFoundError,
    )
}


def code_for(error_name: str) -> str:
    """Stable code for a Step Functions error name; runtime errors (timeouts, crashes) map to INTERNAL."""
    if error_name in ERROR_CODES:
        return ERROR_CODES[error_name]
    if error_name.startswith("States.") and "Timeout" in error_name:
        return "STEP_TIMEOUT"
    return "INTERNAL_ERROR"
