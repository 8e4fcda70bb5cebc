"""ProcessImage's handler on the emulated S3 with the DynamoDB adapters: a real photo in, its outputs and
fingerprint out; the same bytes again reuse the first job's outputs (copied, not re-made) and say so."""

import time
import uuid

import pytest

from lambdas.process_image.handler import lambda_handler
from smmu.jobs import JobStatus, Output
from tests import media
from tests.conftest import LambdaContext, make_job

pytestmark = pytest.mark.integration


def _run(stores, aws, provisioned, tenant: str, data: bytes) -> tuple[str, dict]:
    job_id = make_job(stores.jobs, status=JobStatus.RUNNING, tenant_id=tenant)
    bucket = provisioned.environment["SMMU_RAW_BUCKET"]
    key = stores.jobs.get(job_id).raw_key
    aws("s3").put_object(Bucket=bucket, Key=key, Body=data)
    result = lambda_handler({"job_id": job_id, "bucket": bucket, "key": key}, LambdaContext())
    outputs = [Output.model_validate(o) for o in result["outputs"]]
    assert stores.jobs.transition(job_id, JobStatus.COMPLETED, fields={"outputs": [o.model_dump() for o in outputs]})
    return job_id, result


def test_identical_bytes_reuse_the_first_jobs_outputs_within_the_tenant(stores, aws, provisioned):
    tenant = f"t{uuid.uuid4().hex[:8]}"
    photo = media.photo_file("rot1mir0.avif")
    first_id, first = _run(stores, aws, provisioned, tenant, photo)
    first_job = stores.jobs.get(first_id)
    assert first_job.sha256 and first_job.placeholder and first_job.perceptual_hash
    assert first_job.duplicate_of is None
    assert {o["kind"] for o in first["outputs"]} == {"thumbnail", "thumbnail_variant"}

    started = time.perf_counter()
    second_id, second = _run(stores, aws, provisioned, tenant, photo)
    reuse_seconds = time.perf_counter() - started
    second_job = stores.jobs.get(second_id)
    assert second_job.duplicate_of == first_id
    assert (second_job.sha256, second_job.placeholder, second_job.perceptual_hash) == (
        first_job.sha256,
        first_job.placeholder,
        first_job.perceptual_hash,
    )
    assert "DuplicateFound" in [e.step for e in second_job.timeline]
    assert stores.media.get(second_id)["metadata"] == stores.media.get(first_id)["metadata"]
    s3, processed = aws("s3"), provisioned.environment["SMMU_PROCESSED_BUCKET"]
    assert len(second["outputs"]) == len(first["outputs"])
    for mine, theirs in zip(second["outputs"], first["outputs"], strict=True):
        assert mine["key"].startswith(f"jobs/{second_id}/")  # its own copy: deleting the first keeps these
        assert s3.get_object(Bucket=processed, Key=mine["key"])["Body"].read() == (
            s3.get_object(Bucket=processed, Key=theirs["key"])["Body"].read()
        )
    # A third copy points at the original, not at the duplicate; another tenant's identical upload is processed.
    third_id, _ = _run(stores, aws, provisioned, tenant, photo)
    assert stores.jobs.get(third_id).duplicate_of == first_id
    foreign_id, _ = _run(stores, aws, provisioned, f"t{uuid.uuid4().hex[:8]}", photo)
    assert stores.jobs.get(foreign_id).duplicate_of is None
    print(f"duplicate handled in {reuse_seconds:.3f} s")


def test_a_duplicate_copies_only_the_thumbnails_not_another_steps_files(stores, aws, provisioned):
    # An animated GIF's job also lists the transcode worker's MP4 and WebP: that worker copies those itself.
    tenant = f"t{uuid.uuid4().hex[:8]}"
    picture = media.jpeg(400, 300)
    first_id, first = _run(stores, aws, provisioned, tenant, picture)
    animation = Output(kind="animation_mp4", key=f"jobs/{first_id}/transcode/animation/animation.mp4",
                       content_type="video/mp4", size_bytes=1)  # fmt: skip
    outputs = [Output.model_validate(o) for o in first["outputs"]] + [animation]
    stores.jobs.update_fields(first_id, {"outputs": [o.model_dump(exclude_none=True) for o in outputs]})
    second_id, second = _run(stores, aws, provisioned, tenant, picture)
    assert stores.jobs.get(second_id).duplicate_of == first_id
    assert sorted(o["kind"] for o in second["outputs"]) == sorted(o["kind"] for o in first["outputs"])
    assert all(o["key"].startswith(f"jobs/{second_id}/thumbnails/") for o in second["outputs"])


def test_a_heic_photo_gets_outputs_metadata_and_placeholder_without_its_location(stores, aws, provisioned):
    job_id, result = _run(stores, aws, provisioned, f"t{uuid.uuid4().hex[:8]}", media.photo_file("xiaomi.heic"))
    job = stores.jobs.get(job_id)
    assert job.placeholder.dominant_color.startswith("#") and job.placeholder.thumbhash
    metadata = stores.media.get(job_id)["metadata"]
    assert (metadata["width"], metadata["height"]) == (2592, 1944)
    assert metadata["exif"]["HasGPS"] is True and "Location" not in metadata["exif"]
    assert sorted({(o["width"], o["content_type"]) for o in result["outputs"]}) == [
        (w, t) for w in (160, 320, 640) for t in ("image/avif", "image/jpeg", "image/webp")
    ]


def _keys(aws, provisioned, job_id: str) -> set[str]:
    bucket = provisioned.environment["SMMU_PROCESSED_BUCKET"]
    listed = aws("s3").list_objects_v2(Bucket=bucket, Prefix=f"jobs/{job_id}/")
    return {o["Key"] for o in listed.get("Contents", [])}


def test_a_late_run_after_the_retried_one_finished_the_job_keeps_its_thumbnails(stores, aws, provisioned):
    # The state machine retries an invoke that outlived its state timeout; the first may still run afterwards.
    job_id, first = _run(stores, aws, provisioned, f"t{uuid.uuid4().hex[:8]}", media.jpeg(400, 300))
    listed = {o["key"] for o in first["outputs"]}
    assert _keys(aws, provisioned, job_id) == listed
    job = stores.jobs.get(job_id)
    late = lambda_handler({"job_id": job_id, "bucket": job.raw_bucket, "key": job.raw_key}, LambdaContext())
    assert {o["key"] for o in late["outputs"]} == listed
    assert _keys(aws, provisioned, job_id) == listed  # the completed job's thumbnails are all still there
    after = stores.jobs.get(job_id)
    assert after.status is JobStatus.COMPLETED and {o.key for o in after.outputs} == listed


@pytest.mark.parametrize("ended", [JobStatus.CANCELLED, JobStatus.FAILED])
def test_a_late_run_after_the_job_was_cancelled_or_failed_leaves_no_thumbnails(stores, aws, provisioned, ended):
    job_id = make_job(stores.jobs, status=JobStatus.RUNNING)
    job = stores.jobs.get(job_id)
    aws("s3").put_object(Bucket=job.raw_bucket, Key=job.raw_key, Body=media.jpeg(400, 300))
    assert stores.jobs.transition(job_id, ended)
    late = lambda_handler({"job_id": job_id, "bucket": job.raw_bucket, "key": job.raw_key}, LambdaContext())
    assert late["outputs"] == [] and _keys(aws, provisioned, job_id) == set()
