"""Multipart uploads through the API against the embedded cloud, whose S3 checks presigned part URLs (signature,
expiry, signed checksum) and part checksums as S3 does. The bytes go to S3; the API plans, signs and checks."""

import base64
import hashlib
import time

import httpx
import pytest

from api.core.config import get_api_settings

pytestmark = pytest.mark.integration
PART = 256 * 1024


@pytest.fixture
def small_parts(monkeypatch):
    """Parts of 256 KiB (S3 wants 5 MiB; this emulator's minimum is lowered with them) above a 512 KiB threshold."""
    import moto.s3.models

    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", PART)
    for name, value in {
        "SMMU_MULTIPART_THRESHOLD_BYTES": 2 * PART,
        "SMMU_MULTIPART_PART_BYTES": PART,
        "SMMU_MULTIPART_MIN_PART_BYTES": PART,
    }.items():
        monkeypatch.setenv(name, str(value))
    get_api_settings.cache_clear()


def sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def chunks(data: bytes) -> list[bytes]:
    return [data[i : i + PART] for i in range(0, len(data), PART)]


def put(part: dict, data: bytes, **headers: str) -> httpx.Response:
    return httpx.put(part["url"], content=data, headers={**part["headers"], **headers}, timeout=30)


def create(api, data: bytes, first: int = 0, **extra) -> dict:
    response = api.post(
        "/v1/uploads",
        json={
            "filename": "big.mp4",
            "content_type": "video/mp4",
            "size_bytes": len(data),
            "part_checksums": [sha(c) for c in chunks(data)[:first]],
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def urls(api, job_id: str, data: bytes, numbers: list[int]) -> dict[int, dict]:
    parts = [{"part_number": n, "checksum_sha256": sha(chunks(data)[n - 1])} for n in numbers]
    response = api.post(f"/v1/uploads/{job_id}/parts", json={"parts": parts})
    assert response.status_code == 200, response.text
    return {p["part_number"]: p for p in response.json()["parts"]}


def test_limits_report_the_multipart_settings(api, small_parts):
    limits = api.get("/v1/limits").json()
    assert limits["multipart_threshold_bytes"] == 2 * PART
    assert limits["multipart_part_bytes"] == limits["multipart_min_part_bytes"] == PART
    assert limits["max_upload_bytes"] >= 5 * 1024**3 and limits["multipart_max_parts"] == 10_000


def test_a_large_file_uploads_in_parts_resumes_and_completes_with_s3s_checksum(api, aws, small_parts):
    data = bytes(range(256)) * (4 * PART // 256) + b"tail" * 1000  # 4 full parts and a short fifth
    body = create(api, data, first=2)
    assert body["upload"] is None
    multipart = body["multipart"]
    assert (multipart["part_size_bytes"], multipart["part_count"], multipart["checksum_algorithm"]) == (
        PART,
        5,
        "SHA256",
    )
    job_id = body["job_id"]
    first = {p["part_number"]: p for p in multipart["parts"]}
    assert sorted(first) == [1, 2]
    assert "x-amz-checksum-sha256" in first[1]["url"].split("X-Amz-SignedHeaders=")[1].split("&")[0]
    for number in (1, 2):
        assert put(first[number], chunks(data)[number - 1]).status_code == 200

    # A client that crashed here asks what S3 holds and sends only the rest.
    progress = api.get(f"/v1/uploads/{job_id}/parts").json()
    assert [p["part_number"] for p in progress["received"]] == [1, 2]
    assert progress["missing"] == [3, 4, 5] and progress["received_bytes"] == 2 * PART
    early = api.post(f"/v1/uploads/{job_id}/complete")
    assert early.status_code == 409 and "missing parts: 3-5 (of 5)" in early.json()["detail"]

    rest = urls(api, job_id, data, [3, 4, 5])
    for number, part in rest.items():
        assert put(part, chunks(data)[number - 1]).status_code == 200
    done = api.post(f"/v1/uploads/{job_id}/complete")
    assert done.status_code == 200, done.text
    expected = hashlib.sha256(b"".join(hashlib.sha256(c).digest() for c in chunks(data))).digest()
    checksum = base64.b64encode(expected).decode() + "-5"
    assert done.json()["checksum_sha256"] == checksum
    stored = aws("s3").get_object(Bucket="smmu-raw", Key=f"uploads/api-tests/{job_id}/big.mp4")
    assert stored["Body"].read() == data
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["checksum_sha256"] == checksum
    assert any(e["step"] == "UploadCompleted" for e in job["timeline"])
    # Once complete, the upload is over: no more part URLs, no second completion.
    assert api.post(f"/v1/uploads/{job_id}/complete").status_code == 409


def test_s3_refuses_a_part_whose_bytes_do_not_match_its_signed_checksum(api, small_parts):
    data = b"a" * (3 * PART)
    body = create(api, data, first=1)
    part = body["multipart"]["parts"][0]
    tampered = b"b" + chunks(data)[0][1:]
    refused = put(part, tampered)
    assert refused.status_code == 400 and "<Code>BadDigest</Code>" in refused.text
    # The checksum header of the other bytes is not the one signed into the URL.
    resigned = put(part, tampered, **{"x-amz-checksum-sha256": sha(tampered)})
    assert resigned.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in resigned.text
    assert api.get(f"/v1/uploads/{body['job_id']}/parts").json()["received"] == []


def test_a_part_url_for_another_upload_or_part_or_after_expiry_is_refused(api, small_parts, monkeypatch):
    data = b"c" * (3 * PART)
    one, other = create(api, data, first=1), create(api, data, first=1)
    url = one["multipart"]["parts"][0]["url"]
    for forged in (
        url.replace(one["multipart"]["upload_id"], other["multipart"]["upload_id"]),
        url.replace("partNumber=1", "partNumber=2"),
    ):
        refused = httpx.put(forged, content=chunks(data)[0], headers=one["multipart"]["parts"][0]["headers"])
        assert refused.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in refused.text

    monkeypatch.setenv("SMMU_UPLOAD_URL_TTL_SECONDS", "1")
    get_api_settings.cache_clear()
    short = urls(api, one["job_id"], data, [2])[2]
    time.sleep(2.1)
    expired = put(short, chunks(data)[1])
    assert expired.status_code == 403 and "Request has expired" in expired.text


def test_completion_is_refused_when_the_parts_are_not_the_declared_file(api, small_parts):
    data = b"d" * (2 * PART + 100)
    # Declared one byte more than the parts will hold: the last part is short.
    body = create(api, data + b"!")
    job_id = body["job_id"]
    for number, part in urls(api, job_id, data, [1, 2, 3]).items():
        assert put(part, chunks(data)[number - 1]).status_code == 200
    refused = api.post(f"/v1/uploads/{job_id}/complete")
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "part 3 has 100 bytes, expected 101" in detail
    assert "the parts add up to 524388 bytes, the declared size is 524389" in detail
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "PENDING_UPLOAD"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"part_size_bytes": 1024}, "outside the allowed range"),
        ({"part_size_bytes": PART, "size_bytes": 10_001 * PART}, "exceed the limit of 10000 parts"),
        ({"part_checksums": ["not-a-digest"]}, "not base64 SHA-256"),
        ({"multipart": False}, "the most one POST takes"),
    ],
)
def test_impossible_part_plans_are_refused_before_anything_is_stored(api, aws, small_parts, extra, message):
    before = aws("s3").list_multipart_uploads(Bucket="smmu-raw").get("Uploads", [])
    request = {"filename": "big.mp4", "content_type": "video/mp4", "size_bytes": 5 * PART, **extra}
    refused = api.post("/v1/uploads", json=request)
    assert refused.status_code in (413, 422) and message in str(refused.json()["detail"])
    assert aws("s3").list_multipart_uploads(Bucket="smmu-raw").get("Uploads", []) == before


def test_part_urls_for_parts_beyond_the_last_are_refused(api, small_parts):
    data = b"e" * (3 * PART)
    job_id = create(api, data)["job_id"]
    refused = api.post(
        f"/v1/uploads/{job_id}/parts", json={"parts": [{"part_number": 4, "checksum_sha256": sha(b"x")}]}
    )
    assert refused.status_code == 422 and "this upload has 3 parts" in refused.json()["detail"]


def test_abort_discards_the_parts_and_fails_the_job(api, aws, small_parts):
    data = b"f" * (3 * PART)
    body = create(api, data, first=1)
    job_id = body["job_id"]
    assert put(body["multipart"]["parts"][0], chunks(data)[0]).status_code == 200
    assert api.delete(f"/v1/uploads/{job_id}").status_code == 204
    uploads = aws("s3").list_multipart_uploads(Bucket="smmu-raw").get("Uploads", [])
    assert body["multipart"]["upload_id"] not in [u["UploadId"] for u in uploads]
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert (job["status"], job["error"]["code"]) == ("FAILED", "UPLOAD_ABORTED")
    assert api.get(f"/v1/uploads/{job_id}/parts").status_code == 409


def test_another_tenants_upload_is_not_found(api, aws, provisioned, small_parts):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from smmu.tenants import ApiKeyStore

    job_id = create(api, b"g" * (3 * PART))["job_id"]
    token, _ = ApiKeyStore(provisioned.environment["SMMU_API_KEYS_TABLE"], aws("dynamodb")).create("intruder")
    with TestClient(create_app(), headers={"Authorization": f"Bearer {token}"}) as intruder:
        for response in (
            intruder.get(f"/v1/uploads/{job_id}/parts"),
            intruder.post(f"/v1/uploads/{job_id}/complete"),
            intruder.delete(f"/v1/uploads/{job_id}"),
            intruder.post(
                f"/v1/uploads/{job_id}/parts", json={"parts": [{"part_number": 1, "checksum_sha256": sha(b"x")}]}
            ),
        ):
            assert response.status_code == 404, response.text
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "PENDING_UPLOAD"
