"""A media worker killed mid-task: its heartbeats stop, Step Functions times the task out and retries it, the
service replaces the worker, and the job still completes with one set of outputs."""

import json
import os
import signal
import time

import pytest

from smmu_stack.devkit import worker_media as media

pytestmark = pytest.mark.e2e


def _in_flight(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"])


def test_worker_killed_mid_transcode_is_retried_and_the_job_completes(client, target, tmp_path):
    if target.work_dir is None:
        pytest.skip("needs the embedded target, whose worker processes the test can kill")
    worker = target.manifest.data["workers"]["transcode"]
    state_file = target.work_dir / "services" / f"{worker['name']}.json"
    [victim] = json.loads(state_file.read_text())["pids"]
    sqs = target.client("sqs")
    queue = sqs.get_queue_url(QueueName=target.manifest.queues[worker["queue"]]["name"])["QueueUrl"]

    source = media.video(tmp_path / "long.mp4", size="1280x720", seconds=30)
    job_id, _ = client.upload(source.read_bytes(), "long.mp4", "video/mp4")
    deadline = time.monotonic() + 60
    while _in_flight(sqs, queue) == 0:  # the worker has taken the task
        assert time.monotonic() < deadline, client.job(job_id)
        time.sleep(0.1)
    time.sleep(1.5)  # well into the transcode
    assert client.job(job_id)["status"] == "RUNNING"
    os.kill(victim, signal.SIGKILL)

    job = client.wait(job_id, timeout=300)
    assert job["status"] == "COMPLETED", job["error"]
    state = json.loads(state_file.read_text())
    assert victim not in state["pids"] and state["replacements"] >= 1
    steps = [(e["step"], e["outcome"]) for e in job["timeline"]]
    assert steps.count(("Transcode", "succeeded")) == 1

    keys = [o["key"] for o in job["outputs"]]
    assert len(keys) == len(set(keys))
    assert sorted(o["height"] for o in job["outputs"] if o["kind"] == "video") == [360, 480, 720]
    bucket = target.manifest.buckets["processed"]["name"]
    stored = {
        o["Key"]
        for page in target.client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=bucket, Prefix=f"jobs/{job_id}/")
        for o in page.get("Contents", [])
    }
    # Everything stored is an output or an HLS segment: the killed attempt left nothing behind.
    assert set(keys) <= stored
    assert all(k in keys or k.endswith(".ts") for k in stored), sorted(stored - set(keys))
