"""Error codes come from the exception classes, and every one a client can see is documented in the API."""

import importlib
import pkgutil

import pytest

import api
import lambdas
import workers
from smmu.errors import PipelineError, code_for, error_codes
from smmu.jobs import job_error_from_step_functions

pytestmark = pytest.mark.unit


def _every_error_class() -> set[type[PipelineError]]:
    """Every PipelineError subclass anywhere in the code (importing every module first, so none hides)."""
    for package in (api, lambdas, workers):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    found, todo = set(), [PipelineError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_has_its_own_code_and_step_functions_errors_map_to_it():
    classes = _every_error_class()
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), "two error classes share a code"
    for cls in classes:
        assert code_for(cls.__name__) == cls.code, cls


def test_a_worker_failure_reaches_the_client_as_worker_error():
    # What MarkFailed gets when a worker's retries are exhausted (SendTaskFailure with error=WorkerError).
    error = job_error_from_step_functions("ProcessMedia", "WorkerError", "ffmpeg failed with exit status 1")
    assert error.code == "WORKER_ERROR"
    assert error.message == "ProcessMedia failed: ffmpeg failed with exit status 1"


@pytest.mark.parametrize(
    ("name", "code"),
    [("States.Timeout", "STEP_TIMEOUT"), ("States.HeartbeatTimeout", "STEP_TIMEOUT"), ("KeyError", "INTERNAL_ERROR")],
)
def test_runtime_failures_have_stable_codes(name, code):
    assert code_for(name) == code


def test_the_openapi_description_of_error_code_lists_every_code_a_client_can_see():
    from api.main import app

    description = app.openapi()["components"]["schemas"]["JobError"]["properties"]["code"]["description"]
    visible = {cls.code for cls in _every_error_class()} | set(error_codes())
    missing = {code for code in visible if f"`{code}`" not in description}
    assert not missing, f"error codes clients can see but the API does not document: {sorted(missing)}"
