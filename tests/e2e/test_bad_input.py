"""Bad input ends as a FAILED job with a readable reason, or a precise 4xx; nothing is lost or left running."""

import pytest

from tests import media

pytestmark = pytest.mark.e2e


def _processed_keys(target, job_id):
    bucket = target.manifest.buckets["processed"]["name"]
    listed = target.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"jobs/{job_id}/")
    return [o["Key"] for o in listed.get("Contents", [])]


def test_empty_file(client, target):
    job_id, sent = client.upload(b"", "empty.jpg", "image/jpeg", declared_size=100)
    if sent.status_code >= 400:  # S3 enforces the policy's content-length-range minimum of 1
        assert client.job(job_id)["status"] == "PENDING_UPLOAD"
        return
    job = client.wait(job_id)
    assert job["status"] == "FAILED"
    assert job["error"]["step"] == "ValidateInput"
    assert job["error"]["code"] == "EMPTY_FILE"
    assert "empty" in job["error"]["message"]
    assert _processed_keys(target, job_id) == []


def test_truncated_jpeg(client, target):
    data = media.jpeg(1200, 800)
    job_id, _ = client.upload(data[: len(data) // 2], "cut.jpg", "image/jpeg")
    job = client.wait(job_id)
    assert job["status"] == "FAILED"
    assert job["error"]["step"] == "ProcessImage"
    assert job["error"]["code"] == "CORRUPT_MEDIA"
    assert "truncated or corrupt" in job["error"]["message"]
    assert _processed_keys(target, job_id) == []
    failed_step = [e for e in job["timeline"] if e["step"] == "ProcessImage"]
    assert failed_step and failed_step[0]["outcome"] == "failed"


def test_text_file_uploaded_as_jpeg(client):
    job_id, _ = client.upload(b"just some text, definitely not a picture\n" * 10, "notes.jpg", "image/jpeg")
    job = client.wait(job_id)
    assert job["status"] == "FAILED"
    assert job["error"]["step"] == "DetectType"
    assert job["error"]["code"] == "UNSUPPORTED_MEDIA"
    assert "not a recognised image, audio or video format" in job["error"]["message"]


def test_png_declared_as_jpeg(client):
    job_id, _ = client.upload(media.png_with_alpha(), "really-a-png.jpg", "image/jpeg")
    job = client.wait(job_id)
    assert job["status"] == "FAILED"
    assert job["error"]["step"] == "DetectType"
    assert job["error"]["message"] == "DetectType failed: declared as image/jpeg but the content is image/png"


def test_over_the_size_limit_is_refused_by_the_api(client):
    limits = client.http.get("/v1/limits").json()
    too_big = limits["max_upload_bytes"] + 1
    response = client.request_upload("huge.mp4", "video/mp4", too_big)
    assert response.status_code == 413
    assert f"size_bytes {too_big}" in response.json()["detail"]
    assert "exceeds the upload limit" in response.json()["detail"]


def test_upload_larger_than_declared(client, target):
    data = media.jpeg(1200, 800)
    assert len(data) > 1000
    job_id, sent = client.upload(data, "big.jpg", "image/jpeg", declared_size=1000)
    # S3 (and every emulator here) enforces the POST policy's content-length-range.
    assert sent.status_code == 400 and "<Code>EntityTooLarge</Code>" in sent.text
    job = client.job(job_id)
    assert job["status"] == "PENDING_UPLOAD"
    assert job["upload_expires_at"]  # it expires instead of lingering
    assert _processed_keys(target, job_id) == []


def test_pending_upload_can_expire(client):
    response = client.request_upload("later.jpg", "image/jpeg", 1234)
    job = client.job(response.json()["job_id"])
    assert job["status"] == "PENDING_UPLOAD"
    assert job["upload_expires_at"] > job["created_at"]


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"filename": "x.sh", "content_type": "application/x-sh", "size_bytes": 10}, 415, "not accepted"),
        ({"filename": "x.jpg", "content_type": "image/jpeg", "size_bytes": 0}, 422, "greater than 0"),
        ({"filename": "", "content_type": "image/jpeg", "size_bytes": 5}, 422, "at least 1 character"),
    ],
)
def test_precise_4xx_for_bad_requests(client, payload, status, fragment):
    response = client.http.post("/v1/uploads", json=payload)
    assert response.status_code == status
    assert fragment in response.text


def test_unknown_and_malformed_job_ids(client):
    assert client.http.get("/v1/jobs/7d8c5a39-0c39-4a42-8d62-3b1a1c1f0000").status_code == 404
    assert client.http.get("/v1/jobs/not-a-uuid").status_code == 422
