"""Turn an S3 ObjectCreated event for an upload into a QUEUED job and one Step Functions execution."""

from lambdas.shared.context import jobs, logger
from lambdas.shared.pipeline import start_pipeline
from smmu.contracts import Upload
from smmu.jobs import JobStatus, TimelineEntry, execution_name
from smmu.keys import job_id_from_upload_key


def dispatch_upload(upload: Upload) -> str | None:
    """Queue the job for an uploaded object and start its execution; returns the execution ARN if started.

    Idempotent: the execution is named after the job id, so a redelivered or duplicated event can never start a
    second one, and the status write is conditional, so it never moves the job backwards. The upload's ETag is
    pinned on the job: a later upload to the same key (the presigned POST is reusable until it expires) is
    ignored with a timeline entry, and ValidateInput refuses an object that is not the pinned one.
    """
    bucket, key, size, etag = upload.bucket, upload.key, upload.size, upload.etag
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
        fields={
            "uploaded_bytes": size,
            "execution_name": execution_name(job_id, job.attempt),
            **({"upload_etag": etag} if etag else {}),
        },
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
    arn = start_pipeline(job)
    if arn is None:
        logger.info("execution already exists; duplicate event ignored")
    else:
        logger.info("execution started", execution_arn=arn)
    return arn
