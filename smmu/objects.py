"""S3 adapter of the ``ObjectStore`` port: what the job lifecycle needs of the buckets (does the upload still exist;
remove everything of a job, every version)."""

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef


class S3Objects:
    def __init__(self, client: "S3Client") -> None:
        self._s3 = client

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=bucket, Key=key)
        except self._s3.exceptions.ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def remove_all(self, bucket: str, prefix: str) -> list[str]:
        """Delete every object under ``prefix``: each version and delete marker in a versioned bucket (a plain
        DeleteObject there only hides the bytes behind a marker). Returns the keys removed, once each."""
        removed: dict[str, None] = {}
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        while True:
            page = self._s3.list_object_versions(**kwargs)
            doomed: list[ObjectIdentifierTypeDef] = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            for start in range(0, len(doomed), 1000):
                batch = doomed[start : start + 1000]
                answer = self._s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
                if answer.get("Errors"):
                    first = answer["Errors"][0]
                    raise RuntimeError(f"could not delete s3://{bucket}/{first.get('Key')}: {first.get('Message')}")
                removed.update((item["Key"], None) for item in batch)
            if not page.get("IsTruncated"):
                return list(removed)
            kwargs.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page.get("NextVersionIdMarker", ""))

    def expire(self, bucket: str, prefix: str, before: datetime) -> list[str]:
        """Remove (every version of) each key under ``prefix`` whose newest version is older than ``before``, as
        an S3 expiration rule would; the keys removed."""
        versions: dict[str, list[ObjectIdentifierTypeDef]] = {}
        newest: dict[str, datetime] = {}
        for page in self._s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                key, modified = version["Key"], version["LastModified"]
                versions.setdefault(key, []).append({"Key": key, "VersionId": version["VersionId"]})
                newest[key] = max(newest.get(key, modified), modified)
        expired = sorted(key for key, modified in newest.items() if modified < before)
        doomed = [v for key in expired for v in versions[key]]
        for start in range(0, len(doomed), 1000):
            self._s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True})
        return expired
