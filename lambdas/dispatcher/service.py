"""Turn an S3 ObjectCreated event for an upload into a QUEUED job and one Step Functions execution."""

import json
from typing import Any
from urllib.parse import unquote_plus

from lambdas.shared.context import jobs, logger
from lambdas.shared.pipeline import start_pipeline
from smmu.jobs import JobStatus, TimelineEntry
from smmu.keys import job_id_from_upload_key


def uploads_in(message_body: str) -> list[dict[str, Any]]:
    """The (bucket, key, size) of each object-created record in an S3 notification message."""
    body = json.loads(message_body)
    if body.get("Event") == "s3:TestEvent":  # sent once when the notification is configured
        return []
    uploads = []
    for record in body.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        uploads.append(
            {
                "bucket": s3["bucket"]["name"],
                # S3 URL-encodes keys in events (spaces as '+').
                "key": unquote_plus(s3["object"]["key"]),
                "size": int(s3["object"].get("size", 0)),
                "etag": str(s3["object"].get("eTag") or "").strip('"') or None,
            }
        )
    return uploads


def dispatch_upload(bucket: str, key: str, size: int, etag: str | None = None) -> str | None:
    """Queue the job for an uploaded object and start its execution; returns the execution ARN if started.

    Idempotent: the execution is named after the job id, so a redelivered or duplicated event can never start a
    second one, and the status write is conditional, so it never moves the job backwards. The upload's ETag is
    pinned on the job: a later upload to the same key (the presigned POST is reusable until it expires) is
    ignored with a timeline entry, and ValidateInput refuses an object that is not the pinned one.
    """
    job_id = job_id_from_upload_key(key)
    if job_id is None:
        logger.warning("object outside the upload key scheme ignored", bucket=bucket, key=key)
        return None
    logger.append_keys(job_id=job_id)
    repo = jobs()
    job = repo.get(job_id)
    if job is None:
        logger.error("upload for a job that does not exist (expired?); left for lifecycle expiry", key=key)
        return None
    if job.raw_key != key or job.raw_bucket != bucket:
        logger.warning("object does not match the job's upload location; ignored", key=key)
        return None
    queued = repo.transition(
        job_id,
        JobStatus.QUEUED,
        entry=TimelineEntry(step="UploadReceived", outcome="info", detail=f"{size} bytes"),
        fields={"uploaded_bytes": size, "execution_name": job_id, **({"upload_etag": etag} if etag else {})},
        remove=("expires_at",),
    )
    if not queued:
        current = repo.get(job_id)
        if current is not None and etag and current.upload_etag and current.upload_etag != etag:
            repo.record_step(
                job_id,
                TimelineEntry(
                    step="UploadIgnored",
                    outcome="info",
                    detail=f"a later upload ({size} bytes) was ignored: the job keeps the file it accepted",
                ),
            )
            logger.warning("later upload to a job's key ignored", status=current.status.value)
            return None
        # QUEUED means an earlier delivery moved the job but may have failed before starting the execution.
        if current is None or current.status is not JobStatus.QUEUED:
            logger.info("duplicate upload event ignored", status=current.status.value if current else None)
            return None
    arn = start_pipeline(job_id, bucket, key)
    if arn is None:
        logger.info("execution already exists; duplicate event ignored")
    else:
        logger.info("execution started", execution_arn=arn)
    return arn
