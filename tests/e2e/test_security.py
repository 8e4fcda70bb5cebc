"""Hostile requests and uploads, each with the answer a user on AWS would get (docs/security.md lists them).

Runs against any target. Tests that need their own API processes (JWT, quotas, the shared rate limit) start two
more API replicas on the embedded target's cloud and are skipped elsewhere.
"""

import base64
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from smmu import aws
from smmu.tenants import ApiKeyStore
from smmu_stack.manifest import REPO_ROOT
from tests import media
from tests.conftest import free_port
from tests.e2e.conftest import Client, Target

pytestmark = pytest.mark.e2e

MISSING_JOB = "7d8c5a39-0c39-4a42-8d62-3b1a1c1f0000"
#: S3's own checks of signatures, policies and anonymous access: AWS and the embedded emulator (also the compose
#: stack's default) make them; LocalStack's community edition skips signature checks (see docs/security.md).
s3_strict = pytest.mark.skipif(
    os.environ.get("SMMU_E2E_TARGET") == "localstack"
    or (os.environ.get("SMMU_EMULATOR") == "localstack" and os.environ.get("SMMU_E2E_TARGET") == "compose"),
    reason="LocalStack does not verify S3 signatures, POST policies or anonymous access",
)


def _s3(target: Target) -> Any:
    """An S3 client that presigns with Signature Version 4, as the API does."""
    session = boto3.session.Session(region_name=target.account.region)
    return session.client("s3", endpoint_url=target.endpoint_url, config=aws.CLIENT_CONFIG)


def _keys(target: Target) -> ApiKeyStore:
    return ApiKeyStore(target.manifest.tables["api_keys"]["name"], target.client("dynamodb"))


def _new_tenant_key(target: Target, prefix: str) -> tuple[str, str]:
    tenant = f"{prefix}-{uuid.uuid4().hex[:8]}"
    token, _ = _keys(target).create(tenant, name="security tests")
    return tenant, token


def _s3_error(response: httpx.Response) -> tuple[int, str, str]:
    """(status, S3 error code, message) of an S3 refusal."""
    text = response.text
    code = text.partition("<Code>")[2].partition("</Code>")[0]
    message = text.partition("<Message>")[2].partition("</Message>")[0]
    return response.status_code, code, message


def _without_urls(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Outputs as stored: download URLs are signed afresh on every read."""
    return [{k: v for k, v in output.items() if k != "url"} for output in outputs]


def _b64(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).decode()


@pytest.fixture(scope="module")
def victim(target) -> Iterator[dict[str, Any]]:
    """A COMPLETED image job of the target's tenant, with outputs, and the POST that uploaded it."""
    owner = Client(target)
    created = owner.request_upload("victim.jpg", "image/jpeg", len(data := media.jpeg(640, 480)))
    assert created.status_code == 201, created.text
    body = created.json()
    assert Client.post_file(body["upload"], data, "victim.jpg").status_code in (200, 201, 204)
    job = owner.wait(body["job_id"])
    assert job["status"] == "COMPLETED", job["error"]
    yield {"job": job, "upload": body["upload"], "client": owner}
    owner.http.close()


@pytest.fixture(scope="module")
def intruder(target) -> Iterator[Client]:
    _, token = _new_tenant_key(target, "intruder")
    other = Client(target, api_key=token)
    yield other
    other.http.close()


# -- authentication ---------------------------------------------------------------------------------------------
ROUTES = [
    ("GET", "/v1/jobs", None),
    ("GET", f"/v1/jobs/{MISSING_JOB}", None),
    ("GET", "/v1/limits", None),
    ("POST", "/v1/uploads", {"filename": "a.jpg", "content_type": "image/jpeg", "size_bytes": 10}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_no_credential_is_401_on_every_route(target, method, path, body):
    response = httpx.request(method, target.api_url + path, json=body, timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "authentication required" in response.json()["detail"]


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer smmu_short",  # malformed key
        "Bearer smmu_aaaaaaaaaaaa_" + "A" * 43,  # well-formed, unknown
        "Bearer not-a-key-or-a-token",
        "Basic dGVzdGluZzp0ZXN0aW5n",  # another scheme
        "Bearer " + "x" * 5000,  # oversized
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",  # a JWT where none is configured
    ],
)
def test_bad_credentials_are_401_without_a_trace(target, authorization):
    response = httpx.get(target.api_url + "/v1/jobs", headers={"Authorization": authorization}, timeout=10)
    assert response.status_code == 401
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "Traceback" not in detail and len(detail) < 200


def test_right_key_id_with_a_wrong_secret_is_401(target):
    token = target.api_key
    forged = token[:-43] + ("B" if token[-43] != "B" else "C") + token[-42:]
    response = httpx.get(target.api_url + "/v1/jobs", headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    assert response.status_code == 401


def test_revoked_key_is_401(target):
    tenant, token = _new_tenant_key(target, "revoked")
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(target.api_url + "/v1/jobs", headers=headers, timeout=10).status_code == 200
    key_id = token.split("_")[1]
    assert _keys(target).revoke(key_id)
    response = httpx.get(target.api_url + "/v1/jobs", headers=headers, timeout=10)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert [k.revoked_at is not None for k in _keys(target).list(tenant)] == [True]


def test_health_stays_open(target):
    assert httpx.get(target.api_url + "/healthz", timeout=10).status_code == 200


def test_docs_show_how_to_authorise(target):
    spec = httpx.get(target.api_url + "/openapi.json", timeout=10).json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "Authorization: Bearer" in spec["info"]["description"]


# -- tenant isolation -------------------------------------------------------------------------------------------
def test_another_tenants_job_is_404_like_a_missing_one(victim, intruder):
    stolen = intruder.http.get(f"/v1/jobs/{victim['job']['job_id']}")
    missing = intruder.http.get(f"/v1/jobs/{MISSING_JOB}")
    assert stolen.status_code == missing.status_code == 404
    assert stolen.json()["detail"].replace(victim["job"]["job_id"], MISSING_JOB) == missing.json()["detail"]
    assert "url" not in stolen.text  # no download URL of the victim's outputs


def test_another_tenants_jobs_are_not_listed(victim, intruder):
    for params in ({}, {"status": "COMPLETED"}, {"limit": 100}):
        page = intruder.http.get("/v1/jobs", params=params)
        assert page.status_code == 200
        assert victim["job"]["job_id"] not in page.text


def test_a_cursor_naming_another_tenants_job_lists_only_ones_own(victim, intruder):
    # The position of the victim's job, as a cursor: it may position the listing, never change whose it is.
    cursor = _b64(json.dumps({"job_id": victim["job"]["job_id"], "created_at": "9999-12-31T00:00:00.000Z"}).encode())
    page = intruder.http.get("/v1/jobs", params={"cursor": cursor})
    assert page.status_code == 200
    assert victim["job"]["job_id"] not in page.text
    forged = _b64(json.dumps({"job_id": "x", "created_at": "y", "listing": "TENANT#dev"}).encode())
    assert intruder.http.get("/v1/jobs", params={"cursor": forged}).status_code == 400


def test_storage_keys_carry_the_tenant(victim, target):
    assert victim["upload"]["fields"]["key"].startswith(f"uploads/{target.tenant}/{victim['job']['job_id']}/")


# -- the five crash shapes and other malformed requests ---------------------------------------------------------
@pytest.mark.parametrize(
    "cursor",
    [
        _b64(b'{"job_id":"x"}'),
        _b64(b'{"job_id":{"a":1}}'),
        _b64(b"null"),
        _b64(b'""'),
        _b64(b"[" * 600 + b"]" * 600),
        "%%%not-base64",
    ],
)
def test_crafted_cursors_are_400(client, cursor):
    response = client.http.get("/v1/jobs", params={"cursor": cursor})
    assert response.status_code == 400
    assert response.json()["detail"] == "cursor is not one this API returned"


@pytest.mark.parametrize("size", ["1e400", "true", '"12"', "2.0", "-1", "1e20"])
def test_sizes_must_be_plain_positive_integers(client, size):
    body = '{"filename": "a.jpg", "content_type": "image/jpeg", "size_bytes": ' + size + "}"
    response = client.http.post("/v1/uploads", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "size_bytes"]


def test_a_huge_body_is_413_before_it_is_read(client):
    body = json.dumps({"filename": "a" * 20_000_000, "content_type": "image/jpeg", "size_bytes": 1})
    response = client.http.post("/v1/uploads", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert len(response.content) < 200


def test_a_422_does_not_echo_large_input(client):
    response = client.http.post(
        "/v1/uploads", json={"filename": "b" * 5000, "content_type": "image/jpeg", "size_bytes": 1}
    )
    assert response.status_code == 422
    assert "bbbbbbbbbb" not in response.text and len(response.content) < 500


def test_unknown_fields_are_refused(client):
    response = client.http.post(
        "/v1/uploads",
        json={"filename": "a.jpg", "content_type": "image/jpeg", "size_bytes": 1, "tenant_id": "someone-else"},
    )
    assert response.status_code == 422


def test_filenames_are_stored_clean(client):
    response = client.request_upload("Cafe\u0301\x00\r\n<script>x.jpg", "image/jpeg", 10)
    assert response.status_code == 201
    job = client.job(response.json()["job_id"])
    assert job["filename"] == "Caf\u00e9 scriptx.jpg"


def test_no_cors_for_an_unlisted_origin(target, client):
    origin = {"Origin": "https://evil.example"}
    assert "access-control-allow-origin" not in client.http.get("/v1/limits", headers=origin).headers
    preflight = httpx.options(
        target.api_url + "/v1/uploads",
        headers={**origin, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert "access-control-allow-origin" not in preflight.headers


# -- what S3 (and now the embedded emulator) refuses -----------------------------------------------------------
@pytest.fixture
def fresh_post(client) -> dict[str, Any]:
    created = client.request_upload("fresh.jpg", "image/jpeg", 2000)
    assert created.status_code == 201
    return created.json()


def _post(upload: dict[str, Any], fields: dict[str, str], data: bytes = b"x" * 100, url: str | None = None):
    return httpx.post(url or upload["url"], data=fields, files={"file": ("f.jpg", data, "image/jpeg")}, timeout=30)


@s3_strict
def test_forged_post_signature_is_refused(fresh_post):
    upload = fresh_post["upload"]
    refused = _post(upload, {**upload["fields"], "x-amz-signature": "0" * 64})
    assert _s3_error(refused)[:2] == (403, "SignatureDoesNotMatch")


@s3_strict
def test_a_widened_policy_is_refused(fresh_post):
    upload = fresh_post["upload"]
    policy = json.loads(base64.b64decode(upload["fields"]["policy"]))
    policy["conditions"] = [c for c in policy["conditions"] if not isinstance(c, list)]
    policy["conditions"].append(["content-length-range", 1, 10**10])
    widened = base64.b64encode(json.dumps(policy).encode()).decode()
    assert _s3_error(_post(upload, {**upload["fields"], "policy": widened}))[:2] == (403, "SignatureDoesNotMatch")


@s3_strict
def test_an_unsigned_post_is_refused(fresh_post):
    upload = fresh_post["upload"]
    refused = _post(upload, {"key": upload["fields"]["key"], "Content-Type": "image/jpeg"})
    assert _s3_error(refused)[:2] == (403, "AccessDenied")


def test_oversize_upload_is_refused_by_s3(client, fresh_post):
    refused = _post(fresh_post["upload"], fresh_post["upload"]["fields"], b"x" * 2001)
    assert _s3_error(refused)[:2] == (400, "EntityTooLarge")
    assert client.job(fresh_post["job_id"])["status"] == "PENDING_UPLOAD"


@s3_strict
def test_wrong_content_type_is_refused(fresh_post):
    upload = fresh_post["upload"]
    refused = _post(upload, {**upload["fields"], "Content-Type": "text/html"})
    assert _s3_error(refused)[:2] == (403, "AccessDenied")


@s3_strict
def test_another_jobs_key_is_refused_and_the_victim_is_untouched(client, fresh_post, victim):
    upload = fresh_post["upload"]
    victim_key = victim["upload"]["fields"]["key"]
    refused = _post(upload, {**upload["fields"], "key": victim_key})
    status, code, message = _s3_error(refused)
    assert (status, code) == (403, "AccessDenied") and "$key" in message
    now = victim["client"].job(victim["job"]["job_id"])
    assert now["status"] == "COMPLETED"
    assert _without_urls(now["outputs"]) == _without_urls(victim["job"]["outputs"])
    assert [e["step"] for e in now["timeline"]].count("UploadReceived") == 1


@s3_strict
def test_a_key_outside_uploads_is_refused(fresh_post):
    upload = fresh_post["upload"]
    assert _s3_error(_post(upload, {**upload["fields"], "key": "jobs/evil.jpg"}))[:2] == (403, "AccessDenied")


@s3_strict
def test_the_processed_bucket_is_not_writable_with_an_upload_post(target, fresh_post, victim):
    upload = fresh_post["upload"]
    processed = target.manifest.buckets["processed"]["name"]
    raw = target.manifest.buckets["raw"]["name"]
    thumbnail = next(o for o in victim["job"]["outputs"] if o["kind"] == "thumbnail")["key"]
    refused = _post(upload, {**upload["fields"], "key": thumbnail}, url=upload["url"].replace(raw, processed))
    assert _s3_error(refused)[:2] == (403, "AccessDenied")


@s3_strict
def test_extra_form_fields_are_refused(fresh_post):
    upload = fresh_post["upload"]
    assert _s3_error(_post(upload, {**upload["fields"], "acl": "public-read"}))[:2] == (403, "AccessDenied")


@s3_strict
def test_expired_post_policy_is_refused(target):
    s3 = _s3(target)
    raw = target.manifest.buckets["raw"]["name"]
    post = s3.generate_presigned_post(raw, f"uploads/{target.tenant}/{uuid.uuid4()}/x.jpg", ExpiresIn=-60)
    status, code, message = _s3_error(_post(post, post["fields"]))
    assert (status, code) == (403, "AccessDenied") and "expired" in message


@s3_strict
def test_tampered_download_url_is_refused(victim):
    url = next(o for o in victim["job"]["outputs"] if o["kind"] == "thumbnail")["url"]
    assert httpx.get(url, timeout=10).status_code == 200
    tampered = url.replace("w160", "w640") if "w160" in url else url.replace("thumbnails", "thumbnailz")
    assert _s3_error(httpx.get(tampered, timeout=10))[:2] == (403, "SignatureDoesNotMatch")


@s3_strict
def test_expired_download_url_is_refused(target, victim):
    key = victim["job"]["outputs"][0]["key"]
    s3 = _s3(target)
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": target.manifest.buckets["processed"]["name"], "Key": key}, ExpiresIn=1
    )
    time.sleep(2.2)
    status, code, message = _s3_error(httpx.get(url, timeout=10))
    assert (status, code, message) == (403, "AccessDenied", "Request has expired")


@s3_strict
def test_anonymous_reads_and_writes_are_refused(target, victim):
    endpoint = target.endpoint_url
    if endpoint is None:
        pytest.skip("path-style anonymous requests need an emulator endpoint")
    processed = target.manifest.buckets["processed"]["name"]
    key = victim["job"]["outputs"][0]["key"]
    assert _s3_error(httpx.get(f"{endpoint}/{processed}/{key}", timeout=10))[:2] == (403, "AccessDenied")
    raw = target.manifest.buckets["raw"]["name"]
    written = httpx.put(f"{endpoint}/{raw}/uploads/{target.tenant}/{uuid.uuid4()}/x.jpg", content=b"x", timeout=10)
    assert _s3_error(written)[:2] == (403, "AccessDenied")


@s3_strict
def test_signature_version_2_urls_are_refused(target, victim):
    s3 = target.client("s3")  # botocore presigns with SigV2 unless told otherwise
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": target.manifest.buckets["processed"]["name"], "Key": "x"}, ExpiresIn=60
    )
    if "AWSAccessKeyId" not in url:
        pytest.skip("this botocore presigns with SigV4 by default")
    assert _s3_error(httpx.get(url, timeout=10))[:2] == (400, "InvalidRequest")


@s3_strict
def test_a_download_url_cannot_write(victim):
    url = victim["job"]["outputs"][0]["url"]
    assert _s3_error(httpx.put(url, content=b"overwritten", timeout=10))[:2] == (403, "SignatureDoesNotMatch")


# -- upload integrity ------------------------------------------------------------------------------------------
def test_reusing_the_post_after_completion_changes_nothing(victim):
    owner, job_id = victim["client"], victim["job"]["job_id"]
    before = owner.job(job_id)
    other = media.png_with_alpha(320, 200)
    fields = {**victim["upload"]["fields"]}
    sent = _post(victim["upload"], fields, other)
    if sent.status_code >= 400:  # a target that refuses the second upload outright is fine too
        return
    deadline = time.monotonic() + 30
    while True:
        after = owner.job(job_id)
        if "UploadIgnored" in [e["step"] for e in after["timeline"]]:
            break
        assert time.monotonic() < deadline, after["timeline"]
        time.sleep(0.3)
    assert after["status"] == "COMPLETED"
    assert _without_urls(after["outputs"]) == _without_urls(before["outputs"])
    assert after["metadata"] == before["metadata"]


# -- limits shared by several API replicas (embedded target: the test starts the replicas) ---------------------
class _Jwks(BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def replicas(target, signing_key, tmp_path_factory) -> Iterator[list[str]]:
    """Two more API processes on the embedded cloud, with small limits and an OIDC issuer (JWKS) configured."""
    if target.work_dir is None:
        pytest.skip("starts its own API replicas: embedded target only")
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    _Jwks.body = json.dumps({"keys": [{**jwk, "kid": "test-key", "use": "sig", "alg": "RS256"}]}).encode()
    jwks = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    threading.Thread(target=jwks.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "SMMU_"))}
    env.update(
        {
            "AWS_ENDPOINT_URL": target.endpoint_url or "",
            "AWS_DEFAULT_REGION": target.account.region,
            **target.manifest.environment(target.account),
            "SMMU_RATE_LIMIT_REQUESTS": "10",
            "SMMU_RATE_LIMIT_WINDOW_SECONDS": "60",
            "SMMU_QUOTA_ACTIVE_JOBS": "3",
            "SMMU_QUOTA_BYTES_PER_DAY": "1000000",
            "SMMU_JWT_JWKS_URL": f"http://127.0.0.1:{jwks.server_port}/jwks.json",
            "SMMU_JWT_ISSUER": "https://issuer.test",
            "SMMU_JWT_AUDIENCE": "smmu-api",
            # Settings fail fast without it; a fresh one is fine, no test here plays media back.
            "SMMU_PLAYBACK_SECRET": secrets.token_urlsafe(32),
        }
    )
    log_path = tmp_path_factory.mktemp("replicas") / "api.log"
    log = log_path.open("ab")
    processes, urls = [], []
    for _ in range(2):
        port = free_port()
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    for url, process in zip(urls, processes, strict=True):
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            # A replica that exited (bad settings) is reported at once, with its own words.
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("API replicas did not start:\n" + log_path.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
    yield urls
    for process in processes:
        process.terminate()
        process.wait(timeout=10)
    jwks.shutdown()
    log.close()


def _token(signing_key, **overrides: Any) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": "user-1",
        "iss": "https://issuer.test",
        "aud": "smmu-api",
        "exp": now + timedelta(minutes=5),
        "iat": now,
        "tenant_id": "jwt-tenant",
        **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": "test-key"})


def test_a_valid_jwt_is_accepted(replicas, signing_key):
    response = httpx.get(replicas[0] + "/v1/jobs", headers={"Authorization": f"Bearer {_token(signing_key)}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"exp": datetime.now(UTC) - timedelta(minutes=5)}, "expired"),
        ({"aud": "another-api"}, "audience"),
        ({"iss": "https://evil.test"}, "issuer"),
        ({"tenant_id": None}, "tenant_id"),
        ({"tenant_id": "../Other Tenant"}, "tenant_id"),
    ],
)
def test_bad_jwts_are_401(replicas, signing_key, overrides, fragment):
    token = _token(signing_key, **overrides)
    response = httpx.get(replicas[0] + "/v1/jobs", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert fragment in response.json()["detail"]


def test_a_cognito_style_access_token_names_its_audience_in_client_id(replicas, signing_key):
    accepted = _token(signing_key, aud=None, client_id="smmu-api")
    refused = _token(signing_key, aud=None, client_id="another-app")
    for token, expected in ((accepted, 200), (refused, 401)):
        response = httpx.get(replicas[0] + "/v1/jobs", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == expected


def test_a_jwt_signed_by_another_key_is_401(replicas):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = httpx.get(replicas[0] + "/v1/jobs", headers={"Authorization": f"Bearer {_token(stranger)}"})
    assert response.status_code == 401


def test_an_unsigned_jwt_is_401(replicas):
    header = _b64(b'{"alg":"none","kid":"test-key"}').rstrip("=")
    claims = _b64(json.dumps({"sub": "x", "tenant_id": "jwt-tenant", "exp": 4102444800}).encode()).rstrip("=")
    response = httpx.get(replicas[0] + "/v1/jobs", headers={"Authorization": f"Bearer {header}.{claims}."})
    assert response.status_code == 401


def test_the_rate_limit_holds_across_two_api_processes(target, replicas):
    _, token = _new_tenant_key(target, "burst")
    headers = {"Authorization": f"Bearer {token}"}
    if time.time() % 60 > 50:  # keep the burst inside one 60 s window
        time.sleep(61 - time.time() % 60)
    answers = [httpx.get(replicas[i % 2] + "/v1/limits", headers=headers, timeout=10) for i in range(24)]
    statuses = [a.status_code for a in answers]
    assert statuses.count(200) == 10, statuses  # 10 in total, although each replica alone served fewer
    assert {answers[i].status_code for i in range(0, 24, 2)} == {200, 429}
    assert {answers[i].status_code for i in range(1, 24, 2)} == {200, 429}
    limited = next(a for a in answers if a.status_code == 429)
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "requests_per_window" in limited.json()["detail"]


def test_the_active_jobs_quota(target, replicas):
    _, token = _new_tenant_key(target, "busy")
    headers = {"Authorization": f"Bearer {token}"}
    body = {"filename": "a.jpg", "content_type": "image/jpeg", "size_bytes": 10}
    statuses = [httpx.post(replicas[i % 2] + "/v1/uploads", json=body, headers=headers).status_code for i in range(3)]
    assert statuses == [201, 201, 201]
    refused = httpx.post(replicas[1] + "/v1/uploads", json=body, headers=headers)
    assert refused.status_code == 429
    assert "active_jobs" in refused.json()["detail"] and refused.headers["retry-after"]


def test_the_daily_bytes_quota(target, replicas):
    _, token = _new_tenant_key(target, "heavy")
    headers = {"Authorization": f"Bearer {token}"}
    body = {"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 600_000}
    assert httpx.post(replicas[0] + "/v1/uploads", json=body, headers=headers).status_code == 201
    refused = httpx.post(replicas[1] + "/v1/uploads", json=body, headers=headers)
    assert refused.status_code == 429
    assert "bytes_per_day" in refused.json()["detail"]
    assert 0 < int(refused.headers["retry-after"]) <= 86400
