"""At-least-once delivery and failing code: exactly one execution per job, failures named by step."""

import contextlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from urllib.parse import quote_plus, urlsplit, urlunsplit

import httpx
import pytest

from smmu_stack.packaging import package_files, zip_bytes
from tests import media
from tests.e2e.conftest import TARGET

pytestmark = pytest.mark.e2e


def _s3_event(bucket: str, key: str, size: int) -> str:
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Post",
                    "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key), "size": size}},
                }
            ]
        }
    )


def _queue_drained(sqs, url: str) -> bool:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return all(v == "0" for v in attributes.values())


def test_the_same_upload_event_delivered_three_times_starts_one_execution(client, target):
    data = media.jpeg(640, 480)
    job_id, _ = client.upload(data, "dup licate.jpg", "image/jpeg")
    job = client.job(job_id)
    raw_key = f"uploads/{target.tenant}/{job_id}/dup_licate.jpg"
    sqs = target.client("sqs")
    queue = sqs.get_queue_url(QueueName=target.manifest.queues["jobs"]["name"])["QueueUrl"]
    event = _s3_event(target.manifest.buckets["raw"]["name"], raw_key, len(data))
    sqs.send_message(QueueUrl=queue, MessageBody=event)
    sqs.send_message(QueueUrl=queue, MessageBody=event)
    job = client.wait(job_id)
    assert job["status"] == "COMPLETED"
    deadline = time.monotonic() + 30
    while not _queue_drained(sqs, queue) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _queue_drained(sqs, queue)
    executions = target.client("stepfunctions").list_executions(
        stateMachineArn=target.manifest.state_machine_arn("pipeline", target.account)
    )["executions"]
    assert [e["name"] for e in executions].count(job_id) == 1
    job = client.job(job_id)
    steps = [e["step"] for e in job["timeline"]]
    assert steps.count("UploadReceived") == 1 and steps.count("Completed") == 1
    assert job["status"] == "COMPLETED"


def redeploy(awslambda, function: str, package: bytes) -> None:
    """Deploy new code and wait until it is the code that runs: LocalStack applies an update asynchronously (and
    keeps answering with the old code until then), as AWS does; the embedded emulator is done at once."""
    awslambda.update_function_code(FunctionName=function, ZipFile=package)
    waiter = awslambda.get_waiter("function_updated_v2")
    waiter.wait(FunctionName=function, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


@contextlib.contextmanager
def process_image_raising(target, message: str) -> Iterator[None]:
    """ProcessImage deployed with a handler that raises ``message``; the original code is back afterwards."""
    function = target.manifest.functions["process_image"]["name"]
    awslambda = target.client("lambda")
    original = deployed_package(target, function)
    handler = f"def lambda_handler(event, context):\n    raise RuntimeError({message!r})\n"
    redeploy(awslambda, function, with_file(original, "lambdas/process_image/handler.py", handler))
    try:
        yield
    finally:
        redeploy(awslambda, function, original)


def deployed_package(target, function: str) -> bytes:
    """The zip the function runs now, so that a test can change one file and put the original back.

    Where the functions' third-party packages travel inside the zip (LocalStack, AWS), putting back the code alone
    would break the function (``Runtime.ImportModuleError``). moto's code location names no object it serves:
    there (the embedded and compose targets) the code-only package is the original's equivalent, because moto's
    runtime is the project's environment, which has the third-party packages.
    """
    if TARGET in ("embedded", "compose"):
        return zip_bytes(package_files(target.manifest))
    location = target.client("lambda").get_function(FunctionName=function)["Code"]["Location"]
    if target.endpoint_url:  # LocalStack names itself as its containers reach it: ask it where the tests do
        endpoint = urlsplit(target.endpoint_url)
        location = urlunsplit(urlsplit(location)._replace(scheme=endpoint.scheme, netloc=endpoint.netloc))
    response = httpx.get(location, timeout=60)
    response.raise_for_status()
    return response.content


def with_file(package: bytes, name: str, text: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        entries = {entry: archive.read(entry) for entry in archive.namelist()}
    entries[name] = text.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in sorted(entries):
            archive.writestr(entry, entries[entry])
    return buffer.getvalue()


def test_a_handler_that_raises_fails_the_job_with_step_and_reason(client, target):
    with process_image_raising(target, "injected failure: the disk is on fire"):
        job_id, _ = client.upload(media.jpeg(300, 200), "victim.jpg", "image/jpeg")
        job = client.wait(job_id)
    assert job["status"] == "FAILED"
    assert job["error"]["step"] == "ProcessImage"
    assert job["error"]["code"] == "INTERNAL_ERROR"
    assert "injected failure: the disk is on fire" in job["error"]["message"]
    assert job["outputs"] == []
    # The restored code processes the next job again.
    job_id, _ = client.upload(media.jpeg(300, 200), "after.jpg", "image/jpeg")
    assert client.wait(job_id)["status"] == "COMPLETED"
