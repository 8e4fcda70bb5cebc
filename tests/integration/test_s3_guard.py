"""The embedded emulator answers presigned requests as S3 does (smmu_stack/embedded/s3_guard.py)."""

import time
import uuid

import boto3
import httpx
import pytest

from smmu import aws as smmu_aws

pytestmark = pytest.mark.integration


@pytest.fixture
def s3(cloud):
    return boto3.session.Session(region_name="us-east-1").client(
        "s3", endpoint_url=cloud.endpoint_url, config=smmu_aws.CLIENT_CONFIG
    )


@pytest.fixture
def bucket(s3) -> str:
    name = f"guard-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    return name


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.text.partition("<Code>")[2].partition("</Code>")[0]


def _post(post: dict, data: bytes = b"12345", **fields: str) -> httpx.Response:
    return httpx.post(post["url"], data={**post["fields"], **fields}, files={"file": ("f", data, "image/jpeg")})


def test_a_post_policy_is_enforced(s3, bucket):
    post = s3.generate_presigned_post(
        bucket,
        "uploads/t/a.jpg",
        Fields={"Content-Type": "image/jpeg"},
        Conditions=[{"Content-Type": "image/jpeg"}, ["content-length-range", 1, 10]],
        ExpiresIn=60,
    )
    assert _post(post).status_code == 204
    assert s3.get_object(Bucket=bucket, Key="uploads/t/a.jpg")["Body"].read() == b"12345"
    assert _code(_post(post, b"x" * 11)) == (400, "EntityTooLarge")
    assert _code(_post(post, b"")) == (400, "EntityTooSmall")
    assert _code(_post(post, key="uploads/t/b.jpg")) == (403, "AccessDenied")
    assert _code(_post(post, **{"Content-Type": "text/html"})) == (403, "AccessDenied")
    assert _code(_post(post, **{"x-amz-signature": "0" * 64})) == (403, "SignatureDoesNotMatch")
    assert _code(_post(post, **{"x-amz-credential": "nobody/20260101/us-east-1/s3/aws4_request"}))[0] == 403
    assert _code(_post(post, acl="public-read")) == (403, "AccessDenied")
    assert s3.get_object(Bucket=bucket, Key="uploads/t/a.jpg")["Body"].read() == b"12345"  # nothing overwritten


def test_presigned_urls_are_checked_and_anonymous_requests_refused(cloud, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"data")  # an SDK call, signed in the header: passes
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
    assert httpx.get(url).content == b"data"
    assert _code(httpx.get(url.replace("/k?", "/j?"))) == (403, "SignatureDoesNotMatch")
    assert _code(httpx.put(url, content=b"x")) == (403, "SignatureDoesNotMatch")
    put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=60)
    assert httpx.put(put, content=b"abc").status_code == 200
    short = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1)
    time.sleep(2.1)
    expired = httpx.get(short)
    assert _code(expired) == (403, "AccessDenied") and "Request has expired" in expired.text
    assert _code(httpx.get(f"{cloud.endpoint_url}/{bucket}/k")) == (403, "AccessDenied")
    assert _code(httpx.put(f"{cloud.endpoint_url}/{bucket}/k", content=b"x")) == (403, "AccessDenied")
    assert httpx.get(f"{cloud.endpoint_url}/").status_code == 200  # liveness for health checks, no listing
    assert bucket not in httpx.get(f"{cloud.endpoint_url}/").text
