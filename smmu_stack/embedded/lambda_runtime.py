"""Runtime of one warm Lambda execution environment in the embedded cloud (a child process).

Standard library only, like Lambda's own runtime interface client: it imports the handler once (the cold start),
then serves invocations one at a time. Requests arrive as JSON lines on stdin; each answer is one JSON line on
the file descriptor named by SMMU_RESULT_FD, so whatever the handler prints stays in the function's log.
"""

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes handlers (and Powertools) read from Lambda's context object."""

    def __init__(self, request_id: str, deadline: float) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = os.environ.get("SMMU_FUNCTION_ARN", "")
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = request_id
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def main() -> None:
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path.insert(0, task_root)
    os.chdir(task_root)
    results = os.fdopen(int(os.environ["SMMU_RESULT_FD"]), "w", buffering=1)
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    handler = None
    init_error = None
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # reported on every invocation, as Lambda does
        traceback.print_exc()
        init_error = _error(exc, "Runtime.ImportModuleError")
    for line in sys.stdin:
        request = json.loads(line)
        if init_error is not None:
            answer = {"error": True, "payload": init_error}
        else:
            assert handler is not None, "imported when there is no init error"
            context = LambdaContext(request["request_id"], request["deadline"])
            try:
                answer = {"error": False, "payload": handler(request["event"], context)}
            except Exception as exc:
                traceback.print_exc()
                answer = {"error": True, "payload": _error(exc)}
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            results.write(json.dumps(answer, default=str) + "\n")
        except (TypeError, ValueError) as exc:
            results.write(json.dumps({"error": True, "payload": _error(exc, "Runtime.MarshalError")}) + "\n")


if __name__ == "__main__":
    main()
