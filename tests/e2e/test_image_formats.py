"""Phone photos (HEIC, AVIF) through the whole system: upright outputs in JPEG, WebP and AVIF, a placeholder on
the job, no location anywhere, and duplicates: exact ones reuse the first job's outputs, near ones are listed by
``/similar``. Real photos from registry packages' test data (tests/fixtures/images)."""

import base64
import io
import time
from datetime import datetime

import httpx
import pytest
import thash
from PIL import ExifTags, Image

from tests import media

pytestmark = pytest.mark.e2e


def _download(url: str) -> bytes:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    return response.content


def _completed(client, data: bytes, filename: str, content_type: str) -> tuple[dict, float]:
    job_id, sent = client.upload(data, filename, content_type)
    assert sent.status_code in (200, 201, 204)
    uploaded = time.time()
    job = client.wait(job_id)
    assert job["status"] == "COMPLETED", job["error"]
    completed = datetime.fromisoformat(job["completed_at"].replace("Z", "+00:00")).timestamp()
    return job, completed - uploaded


def test_an_iphone_heic_is_upright_in_jpeg_webp_and_avif_with_a_placeholder(client):
    accepted = client.http.get("/v1/limits").json()["allowed_content_types"]
    assert {"image/heic", "image/heif", "image/avif"} <= set(accepted)
    job, _ = _completed(client, media.photo_file("arrow.heic"), "IMG_0001.HEIC", "image/heic")
    # Stored 4032x3024 with a quarter turn in the container: a portrait photo.
    assert (job["metadata"]["width"], job["metadata"]["height"]) == (3024, 4032)
    by_width: dict[int, dict[str, int]] = {}
    for output in job["outputs"]:
        image = media.decode(_download(output["url"]))
        assert image.size == (output["width"], output["height"]) == (output["width"], round(output["width"] * 4 / 3))
        assert not image.getexif()
        by_width.setdefault(output["width"], {})[image.format] = output["size_bytes"]
    assert sorted(by_width) == [160, 320, 640]
    for width, sizes in by_width.items():
        assert set(sizes) == {"JPEG", "WEBP", "AVIF"}, width
        assert sizes["WEBP"] < sizes["JPEG"] and sizes["AVIF"] < sizes["JPEG"], (width, sizes)
    placeholder = job["placeholder"]
    hashed = list(base64.b64decode(placeholder["thumbhash"]))
    width, height, rgba = thash.thumb_hash_to_rgba(hashed)
    assert len(rgba) == width * height * 4 and abs(thash.thumb_hash_to_approximate_aspect_ratio(hashed) - 3 / 4) < 0.1
    assert len(placeholder["dominant_color"]) == 7 and placeholder["dominant_color"].startswith("#")


def test_duplicates_reuse_outputs_and_near_copies_show_in_similar_without_locations(client):
    photo = media.photo_file("xiaomi.heic")
    first, _ = _completed(client, photo, "beach.heic", "image/heic")
    # The photo has GPS coordinates: the job says so, and shows none of them, nor do its outputs.
    assert first["metadata"]["exif"]["HasGPS"] is True and "Location" not in first["metadata"]["exif"]
    for output in first["outputs"]:
        assert not media.decode(_download(output["url"])).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    root = first["duplicate_of"] or first["job_id"]  # on a long-lived stack an earlier run may have sent it

    again, seconds = _completed(client, photo, "beach (1).heic", "image/heic")
    assert again["duplicate_of"] == root
    assert "DuplicateFound" in [e["step"] for e in again["timeline"]]
    assert [(o["kind"], o["width"], o["content_type"]) for o in again["outputs"]] == [
        (o["kind"], o["width"], o["content_type"]) for o in first["outputs"]
    ]
    assert again["placeholder"] == first["placeholder"]
    print(f"identical re-upload completed {seconds:.2f} s after its upload")

    copy = Image.open(io.BytesIO(photo)).convert("RGB")
    copy.thumbnail((1200, 1200))
    buffer = io.BytesIO()
    copy.save(buffer, "JPEG", quality=70)
    resized, _ = _completed(client, buffer.getvalue(), "beach-small.jpg", "image/jpeg")
    assert resized["duplicate_of"] is None
    other, _ = _completed(client, media.photo_file("rot1mir0.avif"), "other.avif", "image/avif")
    assert (other["metadata"]["width"], other["metadata"]["height"]) == (640, 427)  # turned upright

    similar = client.http.get(f"/v1/jobs/{first['job_id']}/similar").json()
    exact = {j["job_id"] for j in similar["exact"]}
    near = {j["job_id"]: j["distance"] for j in similar["near"]}
    assert again["job_id"] in exact and again["job_id"] not in near
    assert resized["job_id"] in near and resized["job_id"] not in exact
    assert near[resized["job_id"]] <= similar["max_distance"]
    assert other["job_id"] not in exact and other["job_id"] not in near
    # Strict: nothing is near at distance 0 except identical pictures.
    strict = client.http.get(f"/v1/jobs/{first['job_id']}/similar", params={"max_distance": 0}).json()
    assert resized["job_id"] not in {j["job_id"] for j in strict["near"]} or near[resized["job_id"]] == 0
