"""Cancel, retry, delete and per-upload options through the whole system, checked where a user (or an auditor)
would look: the job, the worker's queue and processes, the buckets and the tables."""

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smmu_stack.cli import app as cli
from smmu_stack.devkit import worker_media as media
from smmu_stack.devkit.processes import parent, processes
from tests import media as image_media
from tests.e2e.test_delivery_and_faults import process_image_raising

pytestmark = pytest.mark.e2e

#: The issue's bound: a cancelled task's FFmpeg is gone this soon after the cancel is answered.
CANCEL_BOUND_SECONDS = 5.0


def _versions(target, bucket_name: str, prefix: str) -> list[str]:
    """Every version and delete marker under ``prefix``: a deleted object in a versioned bucket leaves them."""
    bucket = target.manifest.buckets[bucket_name]["name"]
    page = target.client("s3").list_object_versions(Bucket=bucket, Prefix=prefix)
    return [v["Key"] for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]


def _in_flight(target, worker: str) -> int:
    sqs = target.client("sqs")
    queue = target.manifest.queues[target.manifest.data["workers"][worker]["queue"]]["name"]
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"])


def _worker_ffmpeg(target) -> list[int]:
    """FFmpeg processes of the embedded stack's transcode workers ([] on other targets: not visible here)."""
    if target.work_dir is None:
        return []
    worker = target.manifest.data["workers"]["transcode"]
    pids = set(json.loads((target.work_dir / "services" / f"{worker['name']}.json").read_text())["pids"])
    return [p for p in processes(b"ffmpeg") if parent(p) in pids and Path(f"/proc/{p}").exists()]


def test_cancel_during_a_transcode_stops_ffmpeg_within_seconds_and_leaves_nothing(client, target, tmp_path):
    # Long enough that the transcode is still running when the cancel arrives; no audio, so the transcript is
    # done at once and the transcode is the one task left.
    source = media.video(tmp_path / "long.mp4", size="1280x720", seconds=30, audio=False)
    job_id, _ = client.upload(source.read_bytes(), "long.mp4", "video/mp4")
    deadline = time.monotonic() + 90
    while True:  # the transcode is under way: its task is taken (and, where visible, FFmpeg runs)
        job = client.job(job_id)
        assert job["status"] in ("PENDING_UPLOAD", "QUEUED", "RUNNING"), job
        started = any(e["step"] == "Started" for e in job["timeline"])
        if started and _in_flight(target, "transcode") and (target.work_dir is None or _worker_ffmpeg(target)):
            break
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    time.sleep(1.0)  # let it write something

    response = client.http.post(f"/v1/jobs/{job_id}/cancel")
    answered = time.monotonic()
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "CANCELLED"
    # The worker stops: FFmpeg is killed and the task's message deleted (not left to be redelivered).
    while _worker_ffmpeg(target) or _in_flight(target, "transcode"):
        assert time.monotonic() - answered < CANCEL_BOUND_SECONDS, "the transcode did not stop in time"
        time.sleep(0.05)
    latency = time.monotonic() - answered
    print(f"cancel latency {latency:.2f}s")

    # Nothing of the job is left in the output bucket, not even an old version; the upload stays (for a retry).
    deadline = time.monotonic() + 10
    while left := _versions(target, "processed", f"jobs/{job_id}/"):
        assert time.monotonic() < deadline, left
        time.sleep(0.2)
    time.sleep(2.0)  # a late event of the stopped execution would land about now
    job = client.job(job_id)
    assert (job["status"], job["outputs"]) == ("CANCELLED", [])
    assert _versions(target, "processed", f"jobs/{job_id}/") == []
    again = client.http.post(f"/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409 and again.json()["detail"]["status"] == "CANCELLED"


def test_retry_after_a_failure_completes_from_the_stored_upload(client, target):
    # A bad deployment of ProcessImage fails the job; once the code is fixed, a retry processes the same upload.
    with process_image_raising(target, "injected failure: out of ink"):
        job_id, _ = client.upload(image_media.jpeg(400, 300), "retry.jpg", "image/jpeg")
        failed = client.wait(job_id)
    assert failed["status"] == "FAILED" and "out of ink" in failed["error"]["message"]

    # Through the CLI, as an operator would.
    retried = CliRunner().invoke(
        cli, ["jobs", "retry", job_id, "--json", "--api", target.api_url, "--api-key", target.api_key]
    )
    assert retried.exit_code == 0, retried.output
    assert json.loads(retried.stdout) == {
        "job_id": job_id,
        "status": "QUEUED",
        "attempt": 2,
        "execution_name": f"{job_id}-2",
    }
    job = client.wait(job_id)
    assert job["status"] == "COMPLETED", job["error"]
    assert job["attempt"] == 2 and job["error"] is None
    # One thumbnail per width (its WebP/AVIF variants are outputs of their own kind).
    assert sorted(o["width"] for o in job["outputs"] if o["kind"] == "thumbnail") == [160, 320]
    steps = [(e["step"], e.get("attempt")) for e in job["timeline"]]
    assert ("Retried", 2) in steps and ("Completed", 2) in steps and ("Failed", None) in steps
    again = client.http.post(f"/v1/jobs/{job_id}/retry")
    assert again.status_code == 409 and again.json()["detail"]["status"] == "COMPLETED"


def test_delete_leaves_nothing_of_the_job_in_the_buckets_or_tables(client, target):
    job_id, _ = client.upload(image_media.jpeg(300, 200), "erase-me.jpg", "image/jpeg")
    job = client.wait(job_id)
    assert job["status"] == "COMPLETED" and job["outputs"]
    raw_prefix = f"uploads/{target.tenant}/{job_id}/"
    assert _versions(target, "raw", raw_prefix) and _versions(target, "processed", f"jobs/{job_id}/")

    # Through the CLI, as an operator erasing a user's data would.
    deleted = CliRunner().invoke(
        cli, ["jobs", "delete", job_id, "--json", "--api", target.api_url, "--api-key", target.api_key]
    )
    assert deleted.exit_code == 0, deleted.output
    report = json.loads(deleted.stdout)
    assert report["cancelled"] is False
    assert report["raw_objects"] == [f"{raw_prefix}erase-me.jpg"]
    assert report["outputs_removed"] == len(job["outputs"])
    assert report["records"] == ["job", "media"]
    assert _versions(target, "raw", raw_prefix) == []
    assert _versions(target, "processed", f"jobs/{job_id}/") == []
    dynamodb = target.client("dynamodb")
    for table in ("jobs", "media"):
        name = target.manifest.tables[table]["name"]
        assert "Item" not in dynamodb.get_item(TableName=name, Key={"job_id": {"S": job_id}}, ConsistentRead=True)
    assert client.http.get(f"/v1/jobs/{job_id}").status_code == 404
    client.created.remove(job_id)  # nothing left to wait for


def test_options_change_the_outputs(client, target, tmp_path):
    # The image through the CLI's option flags.
    picture = tmp_path / "small.jpg"
    picture.write_bytes(image_media.jpeg(600, 400))
    flags = ["--thumbnail-width", "100", "--thumbnail-width", "250", "--json"]
    uploaded = CliRunner().invoke(
        cli, ["upload", str(picture), *flags, "--api", target.api_url, "--api-key", target.api_key]
    )
    assert uploaded.exit_code == 0, uploaded.output
    image_id = json.loads(uploaded.stdout)["job_id"]
    client.created.append(image_id)

    source = media.video(tmp_path / "clip.mp4", size="854x480", seconds=2)
    created = client.http.post(
        "/v1/uploads",
        json={
            "filename": "clip.mp4",
            "content_type": "video/mp4",
            "size_bytes": source.stat().st_size,
            "options": {"ladder": [360], "hls": False, "transcribe": False},
        },
    )
    assert created.status_code == 201, created.text
    client.created.append(created.json()["job_id"])
    client.post_file(created.json()["upload"], source.read_bytes(), "clip.mp4")

    image = client.wait(image_id)
    assert image["status"] == "COMPLETED", image["error"]
    assert sorted(o["width"] for o in image["outputs"] if o["kind"] == "thumbnail") == [100, 250]
    assert {o["width"] for o in image["outputs"]} == {100, 250}  # the variants follow the widths asked for
    video = client.wait(created.json()["job_id"], timeout=120)
    assert video["status"] == "COMPLETED", video["error"]
    assert video["options"]["ladder"] == [360] and video["options"]["hls"] is False
    kinds = {o["kind"] for o in video["outputs"]}
    assert [o["height"] for o in video["outputs"] if o["kind"] == "video"] == [360]
    assert not kinds & {"hls_master", "hls_playlist", "transcript", "subtitles_vtt", "subtitles_srt"}, kinds
    assert {"poster", "thumbnail"} <= kinds
