"""Images through the whole system: API -> S3 -> SQS -> dispatcher -> Step Functions -> Lambdas -> S3/DynamoDB."""

import httpx
import pytest

from tests import media

pytestmark = pytest.mark.e2e


def _download(url: str) -> bytes:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    return response.content


def test_jpeg_becomes_a_completed_job_with_thumbnails(client):
    job_id, sent = client.upload(
        media.jpeg(1200, 800, orientation=6, make="TestCam", gps=True), "holiday photo.jpg", "image/jpeg"
    )
    assert sent.status_code in (200, 201, 204)
    job = client.wait(job_id)
    assert job["status"] == "COMPLETED", job["error"]
    assert job["media_type"] == "image"
    assert job["error"] is None
    steps = [entry["step"] for entry in job["timeline"]]
    assert steps == [
        "UploadRequested",
        "UploadReceived",
        "Started",
        "ValidateInput",
        "DetectType",
        "ProcessImage",
        "Completed",
    ]
    thumbnails = sorted((o for o in job["outputs"] if o["kind"] == "thumbnail"), key=lambda o: o["width"])
    assert [t["width"] for t in thumbnails] == [160, 320, 640]
    for thumbnail in thumbnails:
        image = media.decode(_download(thumbnail["url"]))
        # Stored landscape with orientation 6: shown (and thumbnailed) portrait.
        assert (
            image.size == (thumbnail["width"], thumbnail["width"] * 3 // 2) == (thumbnail["width"], thumbnail["height"])
        )
        assert image.format == "JPEG"
        assert not image.getexif()
    assert job["metadata"]["width"] == 800 and job["metadata"]["height"] == 1200
    assert job["metadata"]["exif"]["Make"] == "TestCam"


def test_png_with_alpha_keeps_transparency_and_is_never_upscaled(client):
    job_id, _ = client.upload(media.png_with_alpha(500, 300), "logo.png", "image/png")
    job = client.wait(job_id)
    assert job["status"] == "COMPLETED", job["error"]
    thumbnails = [o for o in job["outputs"] if o["kind"] == "thumbnail"]
    assert sorted(o["width"] for o in thumbnails) == [160, 320]
    # JPEG cannot carry transparency: the thumbnail is WebP, its variant AVIF, both with alpha.
    variants = [o for o in job["outputs"] if o["kind"] == "thumbnail_variant"]
    assert sorted((o["width"], o["content_type"]) for o in variants) == [(160, "image/avif"), (320, "image/avif")]
    for output in thumbnails + variants:
        image = media.decode(_download(output["url"]))
        assert image.format == {"thumbnail": "WEBP", "thumbnail_variant": "AVIF"}[output["kind"]]
        assert image.mode == "RGBA"
        assert image.getpixel((2, 2))[3] == 0  # the transparent half stayed transparent
        assert image.getpixel((image.width - 3, 2))[3] == 255


def test_outputs_land_in_the_processed_bucket_under_the_job(client, target):
    job_id, _ = client.upload(media.jpeg(700, 400), "a.jpg", "image/jpeg")
    job = client.wait(job_id)
    assert job["status"] == "COMPLETED"
    bucket = target.manifest.buckets["processed"]["name"]
    listed = target.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"jobs/{job_id}/")
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(o["key"] for o in job["outputs"])


def test_listing_is_newest_first_paginated_and_filterable(client):
    ids = [client.upload(media.jpeg(200, 100), f"{i}.jpg", "image/jpeg")[0] for i in range(3)]
    for job_id in ids:
        client.wait(job_id)
    seen, cursor = [], None
    for _ in range(50):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.http.get("/v1/jobs", params=params).json()
        seen += [item["job_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor or set(ids) <= set(seen):
            break
    assert [j for j in seen if j in ids] == list(reversed(ids))
    completed = client.http.get("/v1/jobs", params={"status": "COMPLETED", "limit": 100}).json()["items"]
    assert all(item["status"] == "COMPLETED" for item in completed)
    assert client.http.get("/v1/jobs", params={"status": "BOGUS"}).status_code == 422
    assert client.http.get("/v1/jobs", params={"cursor": "not-a-cursor"}).status_code == 400


def test_health(client):
    response = client.http.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
