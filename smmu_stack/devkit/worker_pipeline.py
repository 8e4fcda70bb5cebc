"""moto's server in this process, with Step Functions executing real ASL, and worker processes against it."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from smmu_stack.manifest import REPO_ROOT

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/smmu-test-sfn"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class Moto:
    """Clients and worker environments for the shared embedded cloud (moto's server in this process with
    Step Functions executing real ASL; see tests/conftest.py)."""

    def __init__(self, cloud: Any) -> None:
        self.endpoint = cloud.endpoint_url
        self._session = boto3.session.Session(
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def client(self, service: str) -> Any:
        session: Any = self._session  # Any: the service is named at run time
        return session.client(service, endpoint_url=self.endpoint)

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of a worker process talking to this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SMMU_", "AWS_"))}
        env.update(CREDENTIALS)
        env.update({"AWS_ENDPOINT_URL": self.endpoint, "AWS_DEFAULT_REGION": REGION, "PYTHONUNBUFFERED": "1"})
        env.update(extra)
        return env


def definition(queue_url: str, *, heartbeat: int, timeout: int = 300) -> dict[str, Any]:
    """One worker task behind a task-token queue, retried on heartbeat loss and on WorkerError."""
    return {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": queue_url,
                    "MessageBody": {
                        "task_token.$": "$$.Task.Token",
                        "job_id.$": "$.job_id",
                        "bucket.$": "$.bucket",
                        "key.$": "$.key",
                        "media_type.$": "$.detection.media_type",
                    },
                },
                "HeartbeatSeconds": heartbeat,
                "TimeoutSeconds": timeout,
                "Retry": [
                    # moto reports a missed heartbeat as States.Timeout, AWS as States.HeartbeatTimeout.
                    {
                        "ErrorEquals": ["States.HeartbeatTimeout", "States.Timeout"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 2,
                        "BackoffRate": 1.0,
                    },
                    {"ErrorEquals": ["WorkerError"], "IntervalSeconds": 1, "MaxAttempts": 1, "BackoffRate": 1.0},
                ],
                "ResultPath": "$.result",
                "End": True,
            }
        },
    }


@dataclass
class Pipeline:
    """A queue, a state machine that feeds it, buckets and tables for one worker kind."""

    moto: Moto
    worker: str
    heartbeat: int = 4
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        self.sqs, self.s3, self.sfn = (self.moto.client(s) for s in ("sqs", "s3", "stepfunctions"))
        self.ddb = self.moto.client("dynamodb")
        self.raw_bucket = f"raw-{self.name}"
        self.processed_bucket = f"processed-{self.name}"
        self.jobs_table = f"jobs-{self.name}"
        self.media_table = f"media-{self.name}"
        for bucket in (self.raw_bucket, self.processed_bucket):
            self.s3.create_bucket(Bucket=bucket)
        for table in (self.jobs_table, self.media_table):
            self.ddb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        self.queue_url = self.sqs.create_queue(
            QueueName=f"{self.worker}-{self.name}", Attributes={"VisibilityTimeout": "5"}
        )["QueueUrl"]
        self.machine_arn = self.sfn.create_state_machine(
            name=f"{self.worker}-{self.name}",
            definition=json.dumps(definition(self.queue_url, heartbeat=self.heartbeat)),
            roleArn=ROLE,
        )["stateMachineArn"]

    def env(self, **extra: str) -> dict[str, str]:
        return self.moto.env(
            **{
                f"SMMU_{self.worker.upper()}_QUEUE_URL": self.queue_url,
                "SMMU_RAW_BUCKET": self.raw_bucket,
                "SMMU_PROCESSED_BUCKET": self.processed_bucket,
                "SMMU_JOBS_TABLE": self.jobs_table,
                "SMMU_MEDIA_TABLE": self.media_table,
                "SMMU_WORKER_HEARTBEAT_SECONDS": "1",
                "SMMU_WORKER_VISIBILITY_TIMEOUT_SECONDS": "5",
                "SMMU_WORKER_POLL_WAIT_SECONDS": "1",
                **extra,
            }
        )

    def start_worker(self, module: str, log: Path, **extra: str) -> subprocess.Popen[bytes]:
        handle = log.open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO_ROOT,
            env=self.env(**extra),
            stdout=handle,
            stderr=subprocess.STDOUT,
        )

    def new_job(self, body: bytes, *, media_type: str = "video", filename: str = "input.bin") -> dict[str, Any]:
        job_id = str(uuid.uuid4())
        key = f"uploads/workers/{job_id}/{filename}"
        self.s3.put_object(Bucket=self.raw_bucket, Key=key, Body=body)
        self.ddb.put_item(TableName=self.jobs_table, Item={"job_id": {"S": job_id}, "timeline": {"L": []}})
        return {"job_id": job_id, "bucket": self.raw_bucket, "key": key, "detection": {"media_type": media_type}}

    def start(self, job: dict[str, Any]) -> str:
        return self.sfn.start_execution(
            stateMachineArn=self.machine_arn, name=f"job-{job['job_id']}", input=json.dumps(job)
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.2)
        raise AssertionError(f"execution still running after {timeout} s")

    def failure(self, execution_arn: str) -> dict[str, Any]:
        """The ExecutionFailed event's error and cause."""
        for event in self.sfn.get_execution_history(executionArn=execution_arn)["events"]:
            if event["type"] == "ExecutionFailed":
                return event["executionFailedEventDetails"]
        raise AssertionError("the execution did not fail")

    def keys(self, prefix: str) -> set[str]:
        response = self.s3.list_objects_v2(Bucket=self.processed_bucket, Prefix=prefix)
        return {obj["Key"] for obj in response.get("Contents", [])}

    def queue_empty(self) -> bool:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return all(int(value) == 0 for value in attributes.values())


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def wait_for(predicate: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(message)
