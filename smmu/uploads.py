"""S3 adapter of the ``MultipartUploads`` port: multipart uploads in the raw bucket, through an injected client."""

from datetime import datetime
from typing import Any

from smmu.multipart import CHECKSUM_ALGORITHM, StoredPart


class S3MultipartUploads:
    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self._s3 = client

    def create(self, key: str, content_type: str) -> str:
        """Start a multipart upload whose parts must carry a SHA-256 (S3 verifies each); its upload id."""
        answer = self._s3.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=content_type, ChecksumAlgorithm=CHECKSUM_ALGORITHM
        )
        return str(answer["UploadId"])

    def parts(self, key: str, upload_id: str) -> list[StoredPart]:
        """The parts S3 holds for the upload (every page of ListParts)."""
        stored = []
        marker = 0
        while True:
            page = self._s3.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker)
            stored += [
                StoredPart(
                    part_number=p["PartNumber"],
                    size=p["Size"],
                    etag=p["ETag"].strip('"'),
                    checksum_sha256=p.get("ChecksumSHA256"),
                )
                for p in page.get("Parts", [])
            ]
            if not page.get("IsTruncated"):
                return stored
            marker = int(page["NextPartNumberMarker"])

    def complete(self, key: str, upload_id: str, parts: list[StoredPart]) -> dict[str, Any]:
        """CompleteMultipartUpload with exactly these parts; S3's answer (ETag, and ChecksumSHA256 if it keeps one)."""
        answer = self._s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": p.part_number, "ETag": p.etag, "ChecksumSHA256": p.checksum_sha256 or ""}
                    for p in sorted(parts, key=lambda p: p.part_number)
                ]
            },
        )
        return dict(answer)

    def abort(self, key: str, upload_id: str) -> None:
        self._s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def incomplete(self, prefix: str, initiated_before: datetime) -> list[tuple[str, str]]:
        """(key, upload id) of the uploads under ``prefix`` started before ``initiated_before``."""
        found = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            page = self._s3.list_multipart_uploads(**kwargs)
            found += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", []) if u["Initiated"] < initiated_before]
            if not page.get("IsTruncated"):
                return found
            kwargs.update(KeyMarker=page["NextKeyMarker"], UploadIdMarker=page["NextUploadIdMarker"])
