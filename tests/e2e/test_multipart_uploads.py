"""Large uploads in parts, through S3's own multipart protocol, on the whole system: the API plans and signs,
the client sends parts straight to S3 (each with its SHA-256), S3's CompleteMultipartUpload event starts the
pipeline. The ``smmu`` CLI is driven as a user runs it (a subprocess), including Ctrl-C and a resume."""

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from smmu_stack.devkit import worker_media as media
from smmu_stack.manifest import REPO_ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def limits(target) -> dict:
    answer = httpx.get(f"{target.api_url}/v1/limits", headers={"Authorization": f"Bearer {target.api_key}"})
    limits = answer.json()
    if limits["multipart_min_part_bytes"] > 1024 * 1024:
        pytest.skip("this stack's parts are too large for a small test video (set SMMU_MULTIPART_*_PART_BYTES)")
    return limits


@pytest.fixture(scope="module")
def video(tmp_path_factory, limits) -> Path:
    """A real video of at least three parts."""
    path = media.video(tmp_path_factory.mktemp("video") / "clip.mp4", size="640x360", seconds=3)
    assert path.stat().st_size > 2 * limits["multipart_part_bytes"]
    return path


def sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def smmu(target, tmp_path: Path, *args: str, **popen) -> subprocess.Popen:
    env = {
        **os.environ,
        "SMMU_API_URL": target.api_url,
        "SMMU_API_KEY": target.api_key,
        "SMMU_UPLOAD_STATE": str(tmp_path / "resume.json"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "smmu_stack.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def run(target, tmp_path: Path, *args: str, timeout: float = 300) -> tuple[int, str, str]:
    process = smmu(target, tmp_path, *args)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def _facts(job: dict) -> tuple:
    outputs = sorted((o["kind"], o.get("height"), o["key"].split("/", 2)[-1]) for o in job["outputs"])
    video = job["metadata"]["video"]
    return job["media_type"], outputs, (video["width"], video["height"]), round(job["metadata"]["duration_seconds"], 1)


def test_a_multipart_video_upload_gives_the_same_results_as_a_post(target, client, video, limits, tmp_path):
    rc, out, err = run(target, tmp_path, "upload", str(video), "--multipart", "--wait", "--json")
    assert rc == 0, err
    by_parts = json.loads(out)
    assert by_parts["status"] == "COMPLETED", by_parts.get("error")
    upload = by_parts["upload"]
    assert upload["multipart"] and upload["part_count"] >= 3 and upload["bytes_sent"] == video.stat().st_size
    # S3's checksum of the parts, recorded on the job, is the one of this file's parts.
    data, part = video.read_bytes(), limits["multipart_part_bytes"]
    size = len(data)
    digests = b"".join(hashlib.sha256(data[i : i + part]).digest() for i in range(0, size, part))
    assert (
        by_parts["checksum_sha256"]
        == base64.b64encode(hashlib.sha256(digests).digest()).decode() + f"-{upload['part_count']}"
    )

    job_id, posted = client.upload(data, "clip.mp4", "video/mp4")
    assert posted.status_code == 204
    by_post = client.wait(job_id, timeout=300)
    assert by_post["status"] == "COMPLETED", by_post["error"]
    assert _facts(by_parts) == _facts(by_post)


def test_an_interrupted_upload_resumes_sending_only_the_missing_parts(target, video, tmp_path):
    s3 = target.client("s3")
    # Slowed to ~300 KB/s, one part at a time, so Ctrl-C lands after the first part.
    # Started with Ctrl-C handled, whatever this run inherited: a shell starts background jobs with SIGINT ignored,
    # a child inherits an ignored signal, and a CLI that ignores Ctrl-C would upload to the end.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        first = smmu(target, tmp_path, "upload", str(video), "--multipart", "--parallel", "1", "--limit-rate", "300000")
    finally:
        signal.signal(signal.SIGINT, inherited)
    state = tmp_path / "resume.json"
    deadline = time.monotonic() + 60
    received: list = []
    while not received:
        assert time.monotonic() < deadline and first.poll() is None, first.stderr.read() if first.stderr else ""
        if state.exists() and (saved := json.loads(state.read_text())):
            [entry] = saved.values()
            key = f"uploads/{target.tenant}/{entry['job_id']}/clip.mp4"
            uploads = s3.list_multipart_uploads(Bucket="smmu-raw", Prefix=key).get("Uploads", [])
            if uploads:
                upload_id = uploads[0]["UploadId"]
                received = s3.list_parts(Bucket="smmu-raw", Key=key, UploadId=upload_id).get("Parts", [])
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    _, err = first.communicate(timeout=30)
    assert first.returncode == 130 and "run the same command again to resume" in err
    before = s3.list_parts(Bucket="smmu-raw", Key=key, UploadId=upload_id)["Parts"]
    assert 1 <= len(before) < 3

    rc, out, err = run(target, tmp_path, "upload", str(video), "--multipart", "--json")
    assert rc == 0, err
    resumed = json.loads(out)
    size = video.stat().st_size
    in_s3_before = sum(p["Size"] for p in before)
    assert resumed["job_id"] == entry["job_id"]
    assert resumed["resumed_parts"] == len(before)
    assert resumed["bytes_sent"] == size - in_s3_before  # only the missing parts went
    stored = s3.get_object(Bucket="smmu-raw", Key=key)["Body"].read()
    assert stored == video.read_bytes()
    assert json.loads(state.read_text()) == {}  # a finished upload leaves no resume state


def test_hostile_part_requests_are_refused_and_abort_leaves_no_parts(target, client, video):
    s3 = target.client("s3")
    data = video.read_bytes()
    created = client.http.post(
        "/v1/uploads",
        json={"filename": "clip.mp4", "content_type": "video/mp4", "size_bytes": len(data), "multipart": True},
    )
    assert created.status_code == 201, created.text
    client.created.append(job_id := created.json()["job_id"])
    multipart = created.json()["multipart"]
    part_size = multipart["part_size_bytes"]
    parts = [data[i : i + part_size] for i in range(0, len(data), part_size)]
    urls = client.http.post(
        f"/v1/uploads/{job_id}/parts",
        json={"parts": [{"part_number": n, "checksum_sha256": sha(p)} for n, p in enumerate(parts, start=1)]},
    ).json()["parts"]

    # Other bytes than the signed checksum: S3 computes and refuses.
    tampered = httpx.put(urls[0]["url"], content=b"x" + parts[0][1:], headers=urls[0]["headers"])
    assert tampered.status_code == 400 and "<Code>BadDigest</Code>" in tampered.text
    # The URL of part 1 used for part 2: the signature covers the part number and the upload id.
    moved = httpx.put(
        urls[0]["url"].replace("partNumber=1", "partNumber=2"), content=parts[0], headers=urls[0]["headers"]
    )
    assert moved.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in moved.text
    assert httpx.put(urls[0]["url"], content=parts[0], headers=urls[0]["headers"]).status_code == 200

    incomplete = client.http.post(f"/v1/uploads/{job_id}/complete")
    assert incomplete.status_code == 409 and f"missing parts: 2-{len(parts)}" in incomplete.json()["detail"]
    beyond = client.http.post(
        f"/v1/uploads/{job_id}/parts", json={"parts": [{"part_number": 10_000, "checksum_sha256": sha(b"")}]}
    )
    assert beyond.status_code == 422

    assert client.http.delete(f"/v1/uploads/{job_id}").status_code == 204
    key = f"uploads/{target.tenant}/{job_id}/clip.mp4"
    assert s3.list_multipart_uploads(Bucket="smmu-raw", Prefix=key).get("Uploads", []) == []
    assert client.job(job_id)["error"]["code"] == "UPLOAD_ABORTED"
    late = httpx.put(urls[1]["url"], content=parts[1], headers=urls[1]["headers"])
    assert late.status_code == 404 and "NoSuchUpload" in late.text


def test_the_reconciler_aborts_abandoned_uploads_leaving_no_parts(target, client, video):
    s3 = target.client("s3")
    data = video.read_bytes()
    created = client.http.post(
        "/v1/uploads",
        json={
            "filename": "clip.mp4",
            "content_type": "video/mp4",
            "size_bytes": len(data),
            "multipart": True,
            "part_checksums": [sha(data[: client.http.get("/v1/limits").json()["multipart_part_bytes"]])],
        },
    ).json()
    client.created.append(job_id := created["job_id"])
    [part] = created["multipart"]["parts"]
    assert (
        httpx.put(
            part["url"], content=data[: created["multipart"]["part_size_bytes"]], headers=part["headers"]
        ).status_code
        == 200
    )

    answer = target.client("lambda").invoke(
        FunctionName="smmu-reconcile",
        Payload=json.dumps({"grace_seconds": 86400, "abandoned_upload_seconds": 0}).encode(),
    )
    report = json.loads(answer["Payload"].read())
    assert job_id in report["aborted_uploads"]
    assert s3.list_multipart_uploads(Bucket="smmu-raw").get("Uploads", []) == []  # no orphaned parts anywhere
    job = client.job(job_id)
    assert (job["status"], job["error"]["code"]) == ("FAILED", "UPLOAD_ABANDONED")


def test_the_cli_reports_a_failed_job_and_lists_shows_and_downloads_jobs(target, client, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    rc, out, err = run(target, tmp_path, "upload", str(bad), "--wait")
    assert rc == 1
    assert "FAILED" in out and "FAILED at" in err  # the summary, and the reason on stderr
    failed_id = out.split("job ", 1)[1].split()[0]
    client.created.append(failed_id)

    image = tmp_path / "photo.jpg"
    from tests.media import jpeg

    image.write_bytes(jpeg(640, 480))
    rc, out, err = run(target, tmp_path, "upload", str(image), "--wait", "--json")
    assert rc == 0, err
    job = json.loads(out)
    assert job["status"] == "COMPLETED" and job["upload"]["multipart"] is False

    rc, out, _ = run(target, tmp_path, "jobs", "list", "--status", "failed", "--json")
    assert rc == 0 and failed_id in [j["job_id"] for j in json.loads(out)]
    rc, out, _ = run(target, tmp_path, "jobs", "show", job["job_id"])
    assert rc == 0 and "COMPLETED" in out and "thumbnail" in out
    rc, out, err = run(target, tmp_path, "jobs", "download", job["job_id"], str(tmp_path / "out"))
    assert rc == 0, err
    downloaded = sorted(p.relative_to(tmp_path / "out" / job["job_id"]) for p in (tmp_path / "out").rglob("*.*"))
    assert len(downloaded) == len(job["outputs"])
    for output in job["outputs"]:
        path = tmp_path / "out" / job["job_id"] / output["key"].split("/", 2)[-1]
        assert path.stat().st_size == output["size_bytes"]
    rc, _, err = run(target, tmp_path, "jobs", "show", "00000000-0000-4000-8000-000000000000")
    assert rc == 1 and "404" in err
