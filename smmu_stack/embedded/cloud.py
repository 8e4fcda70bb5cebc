"""The embedded cloud: moto's server in this process, with Step Functions executing real ASL, Lambda
functions run by our warm executor and SQS event source mappings with Lambda's semantics."""

import copy
import functools
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import requests

from smmu_stack.embedded.event_sources import SqsEventSource
from smmu_stack.embedded.lambda_executor import FunctionSpec, LambdaExecutor
from smmu_stack.embedded.s3_guard import S3Guard

log = logging.getLogger("smmu.embedded")

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _patch_moto(executor: LambdaExecutor) -> None:
    """Route moto's Lambda invocations to the executor and switch off its synchronous SQS event sources.

    ``LambdaFunction._invoke_lambda`` is private API, which is why moto's version is pinned.
    """
    from moto.awslambda.models import LambdaFunction
    from moto.sqs.models import Queue
    from moto.stepfunctions.models import StateMachineInstance

    def invoke(function: Any, event: Any = None) -> tuple[str, bool, str]:
        spec = FunctionSpec(
            name=function.function_name,
            arn=function.function_arn,
            handler=function.handler,
            timeout=float(function.timeout),
            memory_mb=int(function.memory_size),
            environment={k: str(v) for k, v in (function.environment_vars or {}).items()},
            code_sha=function.code_sha_256,
        )
        payload, error = executor.invoke(spec, function.code_bytes, event if event is not None else {})
        return payload, error, ""

    # Replacing a method of moto's class on purpose (its private invoke; moto is pinned for it).
    LambdaFunction._invoke_lambda = invoke  # type: ignore[method-assign, assignment]
    # moto would invoke mapped functions inside SendMessage, per message, ignoring batchItemFailures;
    # mappings written here vanish, and SqsEventSource pollers deliver instead.
    Queue.lambda_event_source_mappings = property(lambda self: {}, lambda self, value: None)  # type: ignore[assignment]
    # StartExecution deep-copies the state machine to freeze its definition; moto's copy drags along every past
    # execution (running threads and locks, which cannot be copied) and the whole backend. Copy only the
    # machine's own description.
    StateMachineInstance.__deepcopy__ = _copy_state_machine  # type: ignore[attr-defined]
    _speed_up_step_functions()
    _pass_task_failure_cause()


def _pass_task_failure_cause() -> None:
    """moto's SendTaskFailure handler drops ``cause`` (its backend accepts it); pass it through, so a worker's
    reason reaches the execution, and the job, as on AWS."""
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]


def _speed_up_step_functions() -> None:
    """Two per-state costs of moto's ASL interpreter, removed without changing its behaviour.

    It regenerates a JSONPath parser's LR tables for every path it evaluates (about 25 ms a Task state with a
    ResultSelector), and builds a new boto3 client for every task it runs. Parsed paths are immutable and clients
    thread-safe, so both are cached.
    """
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    # Wrapping functions the modules import from elsewhere, in their namespace, is the point: hence attr-defined.
    if not hasattr(json_path.parse, "cache_info"):  # type: ignore[attr-defined]
        json_path.parse = functools.lru_cache(maxsize=4096)(json_path.parse)  # type: ignore[attr-defined]
        result_path.parse = functools.lru_cache(maxsize=4096)(result_path.parse)  # type: ignore[attr-defined]

    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_factory  # noqa: F401
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    if getattr(original, "smmu_cached", False):
        return
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def cached(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if (region, service) not in clients:
                clients[(region, service)] = original(region, service, state_credentials)
            return clients[(region, service)]

    cached.smmu_cached = True  # type: ignore[attr-defined]
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is original:
            module.boto_client_for = cached  # type: ignore[attr-defined]


def _copy_state_machine(machine: Any, memo: dict[int, Any]) -> Any:
    clone = copy.copy(machine)
    clone.executions = []
    for name in ("definition", "encryptionConfiguration", "loggingConfiguration", "tracingConfiguration"):
        setattr(clone, name, copy.deepcopy(getattr(machine, name), memo))
    return clone


def _rate_seconds(expression: str) -> float | None:
    """Seconds between runs of an EventBridge ``rate(N unit)`` expression (cron expressions are not run)."""
    if not expression.startswith("rate(") or not expression.endswith(")"):
        return None
    amount, _, unit = expression[5:-1].partition(" ")
    seconds = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
    return int(amount) * seconds[unit] if unit in seconds else None


def _guarded_server(host: str, port: int, credentials: dict[str, str]) -> Any:
    """moto's threaded server with the S3 guard in front of its WSGI application."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    class GuardedServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = S3Guard(DomainDispatcherApplication(create_backend_app), credentials)
            self._server = make_server(self._ip_address, self._port, app, True)
            self._server_ready_event.set()
            self._server.serve_forever()

    return GuardedServer(ip_address=host, port=port, verbose=False)


class EmbeddedCloud:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 4566,
        region: str = "us-east-1",
        work_dir: Path = Path(".smmu"),
    ) -> None:
        self.host = host
        self.port = port
        self.region = region
        self.work_dir = work_dir.resolve()
        self.endpoint_url = f"http://{host}:{port}"
        self.executor = LambdaExecutor(
            self.work_dir / "lambda",
            base_env={
                **CREDENTIALS,
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                "TZ": "UTC",
            },
        )
        self._server: Any = None
        self._event_sources: list[SqsEventSource] = []
        self._stopping = threading.Event()
        self._lambda_client: Any = None

    def start(self) -> None:
        # Step Functions' interpreter calls the other services at localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        for name, value in CREDENTIALS.items():
            os.environ.setdefault(name, value)
        _patch_moto(self.executor)
        # Presigned requests are verified against the keys clients sign with: the emulator's and this process's.
        keys = {CREDENTIALS["AWS_ACCESS_KEY_ID"]: CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}
        keys[os.environ["AWS_ACCESS_KEY_ID"]] = os.environ["AWS_SECRET_ACCESS_KEY"]
        self._server = _guarded_server(self.host, self.port, keys)
        self._server.start()
        requests.post(
            f"{self.endpoint_url}/moto-api/config",
            json={"stepfunctions": {"execute_state_machine": True}},
            timeout=10,
        ).raise_for_status()
        log.info("embedded cloud listening on %s", self.endpoint_url)

    def start_event_sources(self) -> None:
        """Start pollers for every SQS event source mapping not yet served."""
        if self._lambda_client is None:  # one client: the watcher calls this every few seconds
            session = boto3.session.Session(region_name=self.region)
            self._lambda_client = session.client("lambda", endpoint_url=self.endpoint_url)
        served = {source.mapping["UUID"] for source in self._event_sources}
        for mapping in self._lambda_client.list_event_source_mappings()["EventSourceMappings"]:
            if (
                mapping["UUID"] not in served
                and mapping["EventSourceArn"].startswith("arn:aws:sqs:")
                and mapping.get("State", "Enabled") != "Disabled"
            ):
                source = SqsEventSource(mapping, self.endpoint_url, self.region)
                source.start()
                self._event_sources.append(source)
                log.info("event source %s -> %s", mapping["EventSourceArn"], mapping["FunctionArn"])

    def start_schedules(self, tick: float = 5.0) -> bool:
        """Invoke the targets of EventBridge ``rate(...)`` rules, as EventBridge Scheduler would.

        Returns whether any schedule was found (and is now served)."""
        session = boto3.session.Session(region_name=self.region)
        events = session.client("events", endpoint_url=self.endpoint_url)
        awslambda = session.client("lambda", endpoint_url=self.endpoint_url)
        schedules = []
        for rule in events.list_rules()["Rules"]:
            period = _rate_seconds(rule.get("ScheduleExpression", ""))
            if period is None or rule.get("State") != "ENABLED":
                continue
            for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                if ":function:" in target["Arn"]:
                    schedules.append((period, target["Arn"]))
                    log.info("schedule %s -> %s", rule["ScheduleExpression"], target["Arn"])

        def run() -> None:
            due = {arn: time.monotonic() + period for period, arn in schedules}
            while not self._stopping.wait(tick):
                for period, arn in schedules:
                    if time.monotonic() >= due[arn]:
                        due[arn] = time.monotonic() + period
                        try:
                            awslambda.invoke(FunctionName=arn, InvocationType="Event", Payload=b"{}")
                        except Exception:
                            log.exception("scheduled invocation of %s failed", arn)

        if schedules:
            threading.Thread(target=run, name="schedules", daemon=True).start()
        return bool(schedules)

    def watch_provisioning(self, interval: float = 2.0) -> None:
        """Serve event source mappings and schedules that another process (a separate provisioner, as in a
        compose stack) creates later."""

        def watch() -> None:
            schedules_served = False
            while not self._stopping.wait(interval):
                try:
                    self.start_event_sources()
                    schedules_served = schedules_served or self.start_schedules()
                except Exception:
                    log.exception("could not read the provisioned event sources and schedules")

        threading.Thread(target=watch, name="provisioning-watch", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        for source in self._event_sources:
            source.stop()
        self._event_sources.clear()
        self.executor.shutdown()
        if self._server is not None:
            self._server.stop()
            self._server = None
