"""Runs deployed Lambda zips for the embedded cloud, outside the emulator process, kept warm.

moto can only run function code in Docker. The embedded cloud instead routes every invocation moto makes (from
boto3, from Step Functions, from event sources) to this executor, which keeps warm execution environments per
function: the zip the provisioner uploaded, extracted once, served by long-lived runtime processes
(``lambda_runtime.py``) with the function's environment, one invocation at a time each, more processes for
concurrent invocations. A timeout kills the environment and reports ``Sandbox.Timedout`` as Lambda does; new
code or configuration retires the old environments.
"""

import hashlib
import io
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("smmu.lambda")

RUNTIME_SCRIPT = Path(__file__).with_name("lambda_runtime.py")
#: Variables of the host environment a function may see; everything else comes from its configuration.
_INHERITED = (
    "PATH",
    "LANG",
    "LC_ALL",
    "HOME",
    "TMPDIR",
    "SYSTEMROOT",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
)


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arn: str
    handler: str
    timeout: float
    memory_mb: int
    environment: dict[str, str]
    code_sha: str

    @property
    def digest(self) -> str:
        parts = json.dumps(
            [self.handler, self.timeout, self.memory_mb, self.environment, self.code_sha], sort_keys=True
        )
        return hashlib.sha256(parts.encode()).hexdigest()[:16]


class ExecutionEnvironment:
    """One warm runtime process."""

    def __init__(self, spec: FunctionSpec, task_root: Path, base_env: dict[str, str], log_file: Path) -> None:
        self.spec = spec
        read_fd, write_fd = os.pipe()
        env = {k: v for k, v in os.environ.items() if k in _INHERITED}
        env.update(base_env)
        env.update(spec.environment)
        env.update(
            {
                "_HANDLER": spec.handler,
                "LAMBDA_TASK_ROOT": str(task_root),
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout)),
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "SMMU_FUNCTION_ARN": spec.arn,
                "SMMU_RESULT_FD": str(write_fd),
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self._log = open(log_file, "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [sys.executable, str(RUNTIME_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=task_root,
            pass_fds=(write_fd,),
            text=True,
        )
        os.close(write_fd)
        self._results = os.fdopen(read_fd, "r")

    def invoke(self, event: Any) -> tuple[dict[str, Any], bool]:
        request_id = str(uuid.uuid4())
        deadline = time.time() + self.spec.timeout
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(
                json.dumps({"event": event, "request_id": request_id, "deadline": deadline}) + "\n"
            )
            self.process.stdin.flush()
        except BrokenPipeError:
            return self._exited(request_id), True
        ready, _, _ = select.select([self._results], [], [], self.spec.timeout)
        if not ready:
            self.close()
            message = f"RequestId: {request_id} Error: Task timed out after {self.spec.timeout:.2f} seconds"
            return {"errorType": "Sandbox.Timedout", "errorMessage": message}, True
        line = self._results.readline()
        if not line:
            return self._exited(request_id), True
        answer = json.loads(line)
        return answer["payload"], answer["error"]

    def _exited(self, request_id: str) -> dict[str, Any]:
        code = self.process.wait(timeout=5)
        self.close()
        return {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}",
        }

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        self._results.close()
        self._log.close()


class FunctionPool:
    """Warm environments of one function version (code + configuration)."""

    def __init__(
        self, spec: FunctionSpec, code: bytes, work_dir: Path, base_env: dict[str, str], max_concurrency: int
    ) -> None:
        self.spec = spec
        self.task_root = work_dir / "functions" / spec.name / spec.digest
        if not self.task_root.exists():
            staging = self.task_root.with_suffix(".tmp")
            staging.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(io.BytesIO(code)) as archive:
                archive.extractall(staging)
            staging.rename(self.task_root)
        self.log_file = work_dir / "logs" / f"{spec.name}.log"
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.base_env = base_env
        self._idle: list[ExecutionEnvironment] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self.retired = False

    def invoke(self, event: Any) -> tuple[dict[str, Any], bool]:
        with self._slots:
            with self._lock:
                environment = self._idle.pop() if self._idle else None
            if environment is None or not environment.alive:
                environment = ExecutionEnvironment(self.spec, self.task_root, self.base_env, self.log_file)
            payload, error = environment.invoke(event)
            with self._lock:
                if environment.alive and not self.retired:
                    self._idle.append(environment)
                else:
                    environment.close()
            return payload, error

    def retire(self) -> None:
        with self._lock:
            self.retired = True
            idle, self._idle = self._idle, []
        for environment in idle:
            environment.close()


class LambdaExecutor:
    def __init__(self, work_dir: Path, base_env: dict[str, str], max_concurrency: int = 8) -> None:
        self.work_dir = work_dir
        self.base_env = base_env
        self.max_concurrency = max_concurrency
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()

    def pool(self, spec: FunctionSpec, code: bytes) -> FunctionPool:
        # Keyed by function (functions share one zip but differ in handler and configuration).
        with self._lock:
            current = self._pools.get(spec.name)
            if current is not None and current.spec.digest == spec.digest:
                return current
            if current is not None:
                current.retire()
            pool = FunctionPool(spec, code, self.work_dir, self.base_env, self.max_concurrency)
            self._pools[spec.name] = pool
            return pool

    def invoke(self, spec: FunctionSpec, code: bytes, event: Any) -> tuple[str, bool]:
        started = time.perf_counter()
        payload, error = self.pool(spec, code).invoke(event)
        log.debug(
            "%s %s in %.1f ms",
            spec.name,
            "failed" if error else "ran",
            (time.perf_counter() - started) * 1000,
        )
        return json.dumps(payload), error

    def shutdown(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.retire()
