"""Webhooks and EventBridge events through the whole system, with a real receiver on 127.0.0.1.

The stack under test runs with webhook retries bounded to a few seconds (tests/e2e/conftest.py): at most
``WEBHOOK_MAX_ATTEMPTS`` attempts, 1 s then 2 s apart, 1 s request timeout, and 127.0.0.0/8 exempt from the SSRF
guard so the receiver can be reached.
"""

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from smmu_stack.devkit import free_port, worker_media
from tests import media
from tests.e2e.conftest import TARGET, WEBHOOK_MAX_ATTEMPTS

pytestmark = pytest.mark.e2e

#: Long enough that the transcode runs for seconds: progress that reaches the webhooks function after the job has
#: ended is not sent (by design), and on a loaded machine the path takes seconds (docs/webhooks.md).
PROGRESS_CLIP_SECONDS = 30

needs_local_receiver = pytest.mark.skipif(
    TARGET != "embedded",
    reason="the functions run in containers (compose) or in AWS and cannot reach a receiver on the test's 127.0.0.1",
)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 whose answer per path is scripted: a list of statuses, the last one repeated;
    ``slow`` paths answer after 3 s."""

    port: int
    script: dict[str, list[int]] = field(default_factory=dict)
    slow: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def calls(self, path: str, job_id: str | None = None) -> list[Received]:
        with self.lock:
            hits = [r for r in self.received if r.path == path]
        return [r for r in hits if job_id is None or r.json()["data"]["job_id"] == job_id]

    def answer(self, path: str) -> int:
        with self.lock:
            count = sum(1 for r in self.received if r.path == path)
        statuses = self.script.get(path, [204])
        return statuses[min(count - 1, len(statuses) - 1)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(port=free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with state.lock:
                state.received.append(Received(self.path, dict(self.headers.items()), body, time.monotonic()))
            if self.path in state.slow:
                time.sleep(3)
            status = state.answer(self.path)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def webhooks(client) -> Iterator[list[str]]:
    """Ids of webhooks a test registers; removed afterwards so later tests' jobs send them nothing."""
    created: list[str] = []
    yield created
    for webhook_id in created:
        client.http.delete(f"/v1/webhooks/{webhook_id}")


def _register(client, webhooks, url: str, events: list[str]) -> dict[str, Any]:
    response = client.http.post("/v1/webhooks", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    created = response.json()
    webhooks.append(created["webhook_id"])
    return created


def _deliveries(client, webhook_id: str) -> list[dict[str, Any]]:
    response = client.http.get(f"/v1/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _wait_for(condition, timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


@needs_local_receiver
def test_a_completed_job_is_delivered_once_signed_with_its_outputs(client, target, receiver, webhooks):
    hook = _register(client, webhooks, receiver.url("/ok"), ["job.completed", "job.failed"])
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in client.http.get(f"/v1/webhooks/{hook['webhook_id']}").json()  # shown once

    job_id, _ = client.upload(media.jpeg(640, 480), "webhook.jpg", "image/jpeg")
    job = client.wait(job_id)
    assert job["status"] == "COMPLETED", job["error"]
    (delivery,) = _wait_for(lambda: receiver.calls("/ok", job_id), what="the delivery")

    payload = Webhook(hook["secret"]).verify(delivery.body, delivery.headers)
    assert payload["type"] == "job.completed"
    assert delivery.headers["webhook-id"] == payload["data"]["event_id"]
    data = payload["data"]
    assert data["status"] == "COMPLETED" and data["attempt"] == 1
    assert data["input"]["filename"] == "webhook.jpg"
    assert data["input"]["content_type"] == "image/jpeg" and data["input"]["media_type"] == "image"
    assert data["input"]["metadata"]["width"] == 640
    assert {o["key"] for o in data["outputs"]} == {o["key"] for o in job["outputs"]}
    thumbnail = data["outputs"][0]
    fetched = httpx.get(thumbnail["url"], timeout=30)
    assert fetched.status_code == 200 and len(fetched.content) == thumbnail["size_bytes"]

    # Step Functions retrying MarkCompleted (its first answer lost) writes the status again: the write is refused
    # (changed: false), the event is published again with the same id, and nothing is delivered twice.
    retried = target.client("lambda").invoke(
        FunctionName=target.manifest.functions["update_status"]["name"],
        Payload=json.dumps({"job_id": job_id, "status": "COMPLETED", "outputs": job["outputs"]}).encode(),
    )
    assert json.loads(retried["Payload"].read())["changed"] is False
    time.sleep(3)
    assert len(receiver.calls("/ok", job_id)) == 1
    (record,) = [d for d in _deliveries(client, hook["webhook_id"]) if d["job_id"] == job_id]
    assert record["state"] == "delivered" and record["attempts"] == 1
    assert record["attempt_log"][0]["status_code"] == 204


@needs_local_receiver
def test_failing_slow_and_redirecting_receivers_are_retried_within_bounds_then_dead_lettered(
    client, target, receiver, webhooks
):
    receiver.script = {"/flaky": [500, 500, 200], "/down": [500], "/moved": [302], "/slow": [200]}
    receiver.slow = {"/slow"}
    hooks = {path: _register(client, webhooks, receiver.url(path), ["job.failed"]) for path in receiver.script}

    job_id, _ = client.upload(b"not an image at all", "bad.jpg", "image/jpeg")
    started = time.monotonic()
    job = client.wait(job_id)
    assert job["status"] == "FAILED"
    pipeline_seconds = time.monotonic() - started

    def settled() -> dict[str, dict[str, Any]] | None:
        found = {}
        for path, hook in hooks.items():
            mine = [d for d in _deliveries(client, hook["webhook_id"]) if d["job_id"] == job_id]
            if not mine or mine[0]["state"] == "pending":
                return None
            found[path] = mine[0]
        return found

    records = _wait_for(settled, timeout=60, what="every delivery to end")
    # 500, 500, 200: delivered at the third attempt, with the same webhook-id each time, backing off.
    flaky = receiver.calls("/flaky", job_id)
    assert [r.headers["webhook-id"] for r in flaky] == [flaky[0].headers["webhook-id"]] * 3
    assert flaky[1].at - flaky[0].at >= 0.9 and flaky[2].at - flaky[1].at >= 1.9
    assert records["/flaky"]["state"] == "delivered" and records["/flaky"]["attempts"] == 3
    assert [a["status_code"] for a in records["/flaky"]["attempt_log"]] == [500, 500, 200]
    # Always 500, a redirect (never followed) and a receiver slower than the timeout: the bound, then failed.
    for path, error in (("/down", "HTTP 500"), ("/moved", "redirect"), ("/slow", "timed out")):
        assert len(receiver.calls(path, job_id)) == WEBHOOK_MAX_ATTEMPTS, path
        assert records[path]["state"] == "failed" and records[path]["attempts"] == WEBHOOK_MAX_ATTEMPTS, path
        assert error in records[path]["attempt_log"][-1]["error"], path
    # Parked in the webhooks dead-letter queue, one message per failed delivery.
    sqs = target.client("sqs")
    dlq = sqs.get_queue_url(QueueName=target.manifest.queues["webhooks_dlq"]["name"])["QueueUrl"]
    parked: set[str] = set()
    for _ in range(5):
        for message in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            body = json.loads(message["Body"])
            if body["job_id"] == job_id:
                parked.add(body["delivery_id"])
                # Read, so removed: later checks that every dead-letter queue is empty stay meaningful.
                sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
    assert parked == {records[p]["delivery_id"] for p in ("/down", "/moved", "/slow")}
    # The receivers never held up the pipeline: the job had ended before the first retry was due.
    assert pipeline_seconds < 30


def test_unsafe_webhook_urls_are_refused_at_registration(client):
    for url, reason in (
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://10.0.0.8/hook", "private"),
        ("http://[::1]:8080/hook", "loopback"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("gopher://example.com/", "https://"),
    ):
        response = client.http.post("/v1/webhooks", json={"url": url})
        assert response.status_code == 422, (url, response.text)
        assert reason in response.json()["detail"], (url, response.text)
    listed = client.http.get("/v1/webhooks").json()["items"]
    assert not [w for w in listed if "169.254" in w["url"] or "10.0.0.8" in w["url"]]


def test_job_status_changes_are_put_on_the_event_bus(client, target):
    """A rule on the bus (as a user would add one) routes one job's events to a queue the test reads."""
    events, sqs = target.client("events"), target.client("sqs")
    bus = target.manifest.event_buses["jobs"]["name"]
    created = client.request_upload("bus.jpg", "image/jpeg", len(data := media.jpeg(320, 240)))
    assert created.status_code == 201
    job_id = created.json()["job_id"]
    name = f"smmu-e2e-{job_id[:8]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule_arn = events.put_rule(
        Name=name,
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["smmu.job"], "detail": {"job_id": [job_id]}}),
    )["RuleArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
    try:
        client.post_file(created.json()["upload"], data, "bus.jpg")
        assert client.wait(job_id)["status"] == "COMPLETED"
        seen: list[dict[str, Any]] = []

        def all_seen() -> bool:
            for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            ):
                seen.append(json.loads(message["Body"]))
            return {e["detail"]["status"] for e in seen} >= {"QUEUED", "RUNNING", "COMPLETED"}

        _wait_for(all_seen, timeout=30, what="the job's events on the bus")
        completed = next(e for e in seen if e["detail"]["status"] == "COMPLETED")
        assert completed["source"] == "smmu.job" and completed["detail-type"] == "Job Status Change"
        assert completed["detail"]["input"]["filename"] == "bus.jpg"
        assert completed["detail"]["outputs"] and completed["detail"]["event_id"].startswith("evt_")
    finally:
        events.remove_targets(Rule=name, EventBusName=bus, Ids=["queue"])
        events.delete_rule(Name=name, EventBusName=bus)
        sqs.delete_queue(QueueUrl=queue_url)


@needs_local_receiver
def test_progress_reaches_only_subscribed_endpoints_rising_and_deleting_the_job_removes_its_deliveries(
    client, target, receiver, webhooks, tmp_path
):
    watching = _register(client, webhooks, receiver.url("/progress"), ["job.progress", "job.completed"])
    plain = _register(client, webhooks, receiver.url("/plain"), ["job.completed"])
    clip = worker_media.video(tmp_path / "clip.mp4", size="640x360", seconds=PROGRESS_CLIP_SECONDS)
    created = client.http.post(
        "/v1/uploads",
        json={
            "filename": "progress.mp4",
            "content_type": "video/mp4",
            "size_bytes": clip.stat().st_size,
            "options": {"ladder": [360], "hls": False, "transcribe": False},
        },
    )
    assert created.status_code == 201, created.text
    job_id = created.json()["job_id"]
    client.created.append(job_id)
    client.post_file(created.json()["upload"], clip.read_bytes(), "progress.mp4")
    job = client.wait(job_id, timeout=120)
    assert job["status"] == "COMPLETED", job["error"]

    def terminal(path: str) -> list[Received]:
        return [c for c in receiver.calls(path, job_id) if c.json()["type"] == "job.completed"]

    _wait_for(lambda: terminal("/progress") and terminal("/plain"), what="both endpoints' job.completed")
    time.sleep(2)  # anything still on its way (nothing should be: progress is not sent once the job has ended)
    # The endpoint that did not ask for progress got none (nor has a record of any): its job.completed alone.
    assert [c.json()["type"] for c in receiver.calls("/plain", job_id)] == ["job.completed"]
    plain_records = [d for d in _deliveries(client, plain["webhook_id"]) if d["job_id"] == job_id]
    assert [d["event_type"] for d in plain_records] == ["job.completed"]

    calls = receiver.calls("/progress", job_id)
    payloads = [Webhook(watching["secret"]).verify(c.body, c.headers) for c in calls]  # every one signed
    progress = [p["data"] for p in payloads if p["type"] == "job.progress"]
    assert len(progress) >= 2, progress
    assert {d["progress"]["stage"] for d in progress} == {"transcode"}
    assert all(d["status"] == "RUNNING" and d["attempt"] == 1 for d in progress)
    # Ordered by the event's time, as a receiver would order them, the percent rises; each step arrives once.
    by_time = sorted(progress, key=lambda d: d["at"])
    assert [d["progress"]["percent"] for d in by_time] == sorted({d["progress"]["percent"] for d in progress})
    assert len({c.headers["webhook-id"] for c in calls}) == len(calls)
    # Every progress event happened before the job completed, and none was sent after its job.completed.
    assert by_time[-1]["at"] <= job["completed_at"]
    completed_at = terminal("/progress")[0].at
    assert all(c.at <= completed_at for c in calls if c.json()["type"] == "job.progress")

    # Deleting the job removes every delivery record of it, to both endpoints, progress included.
    table = target.manifest.tables["webhook_deliveries"]["name"]
    dynamodb = target.client("dynamodb")

    def records() -> list[str]:
        pages = dynamodb.get_paginator("scan").paginate(
            TableName=table,
            FilterExpression="job_id = :j",
            ExpressionAttributeValues={":j": {"S": job_id}},
            ConsistentRead=True,
        )
        return [item["delivery_id"]["S"] for page in pages for item in page["Items"]]

    before = records()
    assert len(before) >= len(calls) + 1  # every delivery sent to either endpoint, and any progress skipped
    deleted = client.http.delete(f"/v1/jobs/{job_id}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["webhook_deliveries_removed"] == len(before)
    assert records() == []
    client.created.remove(job_id)
