"""The S3 adapter the job lifecycle uses (``smmu.objects``), on the emulator's versioned output bucket: removing
a job's files leaves no version or delete marker behind, and expiry removes only what is old enough."""

from datetime import UTC, datetime, timedelta

import pytest

from smmu.objects import S3Objects

pytestmark = pytest.mark.integration


def _all_versions(s3, bucket: str, prefix: str) -> list[str]:
    page = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    return sorted(v["Key"] for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])])


def test_remove_all_takes_every_version_and_marker_of_one_prefix_only(provisioned, aws):
    s3 = aws("s3")
    bucket = provisioned.environment["SMMU_PROCESSED_BUCKET"]
    for key in ("jobs/a/x.jpg", "jobs/a/x.jpg", "jobs/a/hls/1.ts", "jobs/ab/y.jpg"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"data")
    s3.delete_object(Bucket=bucket, Key="jobs/a/hls/1.ts")  # a delete marker over the version
    objects = S3Objects(s3)
    assert objects.exists(bucket, "jobs/a/x.jpg") and not objects.exists(bucket, "jobs/a/hls/1.ts")
    assert sorted(objects.remove_all(bucket, "jobs/a/")) == ["jobs/a/hls/1.ts", "jobs/a/x.jpg"]
    assert _all_versions(s3, bucket, "jobs/a/") == []
    assert _all_versions(s3, bucket, "jobs/ab/") == ["jobs/ab/y.jpg"]
    assert objects.remove_all(bucket, "jobs/a/") == []


def test_expire_removes_only_what_is_older_than_the_cutoff(provisioned, aws):
    s3 = aws("s3")
    bucket = provisioned.environment["SMMU_RAW_BUCKET"]
    s3.put_object(Bucket=bucket, Key="uploads/t/j/old.jpg", Body=b"data")
    objects = S3Objects(s3)
    assert objects.expire(bucket, "uploads/t/", datetime.now(UTC) - timedelta(days=1)) == []
    assert objects.expire(bucket, "uploads/t/", datetime.now(UTC) + timedelta(seconds=5)) == ["uploads/t/j/old.jpg"]
    assert _all_versions(s3, bucket, "uploads/t/") == []
