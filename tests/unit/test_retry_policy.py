"""The state machine retries what another attempt can fix, boundedly, and never what it cannot."""

import json

import pytest

from smmu.errors import code_for
from smmu_stack.manifest import REPO_ROOT

pytestmark = pytest.mark.unit

ASL = json.loads((REPO_ROOT / "sfn" / "pipeline.asl.json").read_text())
#: A crashed or timed-out function environment (AWS: Lambda.Unknown, Sandbox.Timedout; a runtime that exits).
ENVIRONMENT_FAULTS = {"Lambda.Unknown", "Sandbox.Timedout", "Runtime.ExitError"}
NEVER = {"States.ALL", "BadInputError", "CorruptMediaError", "ProcessingError", "States.TaskFailed"}


def _tasks(states=ASL["States"]):
    for name, state in states.items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _tasks(branch["States"])


def test_every_function_step_retries_a_crashed_environment_with_bounded_backoff():
    functions = {name: state for name, state in _tasks() if state["Resource"].endswith("lambda:invoke")}
    assert len(functions) == 9
    for name, state in functions.items():
        [retrier] = [r for r in state["Retry"] if set(r["ErrorEquals"]) >= ENVIRONMENT_FAULTS]
        assert 1 <= retrier["MaxAttempts"] <= 3, name
        assert retrier["BackoffRate"] > 1 and retrier["MaxDelaySeconds"] <= 10, name
        # Worst case the step waits at most this long in retries: bounded.
        waits = [min(retrier["IntervalSeconds"] * retrier["BackoffRate"] ** i, retrier["MaxDelaySeconds"])
                 for i in range(retrier["MaxAttempts"])]  # fmt: skip
        assert sum(waits) <= 15, name


def test_no_step_retries_a_deterministic_failure():
    for name, state in _tasks():
        retried = {error for retrier in state.get("Retry", []) for error in retrier["ErrorEquals"]}
        assert not retried & NEVER, name


def test_codes_for_what_is_left_after_retries():
    assert code_for("CorruptMediaError") == "CORRUPT_MEDIA"
    assert code_for("Sandbox.Timedout") == "STEP_TIMEOUT"
    assert code_for("States.HeartbeatTimeout") == "STEP_TIMEOUT"
    assert code_for("Runtime.ExitError") == "INTERNAL_ERROR"
    assert code_for("ProcessingError") == "PROCESSING_FAILED"
    assert code_for("WorkerError") == "WORKER_ERROR"
