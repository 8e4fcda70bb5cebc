"""Presigned S3 URLs: bounded uploads (POST policy) and short-lived downloads."""

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from smmu import aws
from smmu.jobs import isoformat


class Presigner:
    def __init__(self, public_endpoint_url: str | None, region: str) -> None:
        if public_endpoint_url:
            # Signing happens locally; this client only decides which host the URLs name.
            self._s3 = boto3.session.Session().client(
                "s3", endpoint_url=public_endpoint_url, region_name=region, config=aws.CLIENT_CONFIG
            )
        else:
            self._s3 = aws.client("s3")

    def upload(self, *, bucket: str, key: str, content_type: str, max_bytes: int, ttl_seconds: int) -> dict[str, Any]:
        """A presigned POST whose policy admits exactly this key, this Content-Type and 1..max_bytes bytes."""
        post = self._s3.generate_presigned_post(
            Bucket=bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=ttl_seconds,
        )
        expires = isoformat(datetime.now(UTC) + timedelta(seconds=ttl_seconds))
        return {"url": post["url"], "fields": post["fields"], "expires_at": expires}

    def upload_part(
        self, *, bucket: str, key: str, upload_id: str, part_number: int, checksum_sha256: str, ttl_seconds: int
    ) -> dict[str, Any]:
        """A presigned UploadPart for one part whose SHA-256 is signed in: S3 takes only bytes with that checksum
        (it verifies the header against the body), for this upload and this part number, until the URL expires."""
        url = self._s3.generate_presigned_url(
            "upload_part",
            Params={
                "Bucket": bucket,
                "Key": key,
                "UploadId": upload_id,
                "PartNumber": part_number,
                "ChecksumSHA256": checksum_sha256,
            },
            ExpiresIn=ttl_seconds,
        )
        expires = isoformat(datetime.now(UTC) + timedelta(seconds=ttl_seconds))
        return {
            "part_number": part_number,
            "url": url,
            "method": "PUT",
            "headers": {"x-amz-checksum-sha256": checksum_sha256},
            "expires_at": expires,
        }

    def download(self, *, bucket: str, key: str, ttl_seconds: int) -> str:
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=ttl_seconds
        )


class ProcessedFiles:
    """A job's files in the processed bucket, as the playback routes read them."""

    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self._s3 = client

    def keys(self, prefix: str, limit: int = 10_000) -> set[str]:
        """The keys under ``prefix`` (at most ``limit``: a job has a few hundred)."""
        found: set[str] = set()
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found.update(obj["Key"] for obj in page.get("Contents", []))
            if len(found) >= limit:
                break
        return found

    def read_text(self, key: str, max_bytes: int = 1024 * 1024) -> str:
        body = self._s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}")["Body"]
        return body.read().decode("utf-8")
