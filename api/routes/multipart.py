"""A multipart upload after it was created (POST /v1/uploads): more part URLs, the parts S3 already holds (to
resume without re-sending them), completion and abort. The bytes never pass through the API."""

import uuid
from typing import Any

from botocore.exceptions import ClientError
from fastapi import APIRouter, HTTPException, Response, status

from api.deps import CallerDep, JobsDep, MultipartDep, PresignerDep, SettingsDep
from api.schemas import (
    CompletedUpload,
    CompleteRequest,
    PartUrl,
    PartUrlRequest,
    PartUrls,
    ReceivedPart,
    UploadProgress,
)
from smmu.errors import UploadAbortedError
from smmu.jobs import Job, JobError, JobStatus, TimelineEntry, fail_job
from smmu.multipart import PartPlan, StoredPart, composite_sha256, is_sha256_b64, part_problems
from smmu.ports import MultipartUploads

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])
ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No credential, or one that is not valid"},
    404: {"description": "No such job (or another tenant's)"},
    409: {"description": "Not a multipart upload, or its upload has ended"},
}


def _pending(job_id: uuid.UUID, tenant_id: str, jobs: JobsDep) -> tuple[Job, PartPlan]:
    job = jobs.get(str(job_id))
    # Another tenant's job answers exactly as a missing one does.
    if job is None or job.tenant_id != tenant_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job with id {job_id}")
    if job.upload_id is None or job.part_size_bytes is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"job {job_id} was not created as a multipart upload")
    if job.status is not JobStatus.PENDING_UPLOAD:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"the upload of job {job_id} has ended (the job is {job.status.value})"
        )
    return job, PartPlan(job.size_bytes, job.part_size_bytes)


def _stored(job: Job, multipart: MultipartUploads) -> list[StoredPart]:
    try:
        return multipart.parts(job.raw_key, job.upload_id or "")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"the multipart upload of job {job.job_id} no longer exists"
            ) from exc
        raise


@router.post("/{job_id}/parts", response_model=PartUrls, responses=ANSWERS)
def part_urls(
    job_id: uuid.UUID,
    request: PartUrlRequest,
    jobs: JobsDep,
    presigner: PresignerDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> PartUrls:
    """Presigned UploadPart URLs for these parts, each with its SHA-256 signed in (S3 refuses other bytes)."""
    job, plan = _pending(job_id, caller.tenant_id, jobs)
    beyond = sorted({p.part_number for p in request.parts if p.part_number > plan.part_count})
    if beyond:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"parts {beyond[:20]} do not exist: this upload has {plan.part_count} parts",
        )
    bad = [p.part_number for p in request.parts if not is_sha256_b64(p.checksum_sha256)]
    if bad:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"checksums of parts {bad[:20]} are not base64 SHA-256 digests"
        )
    return PartUrls(
        parts=[
            PartUrl(
                **presigner.upload_part(
                    bucket=job.raw_bucket,
                    key=job.raw_key,
                    upload_id=job.upload_id or "",
                    part_number=p.part_number,
                    checksum_sha256=p.checksum_sha256,
                    ttl_seconds=settings.upload_url_ttl_seconds,
                )
            )
            for p in request.parts
        ]
    )


@router.get("/{job_id}/parts", response_model=UploadProgress, responses=ANSWERS)
def received_parts(job_id: uuid.UUID, jobs: JobsDep, multipart: MultipartDep, caller: CallerDep) -> UploadProgress:
    """The parts S3 holds (ListParts) and those still missing: a client resumes by sending only the missing."""
    job, plan = _pending(job_id, caller.tenant_id, jobs)
    stored = _stored(job, multipart)
    numbers = {p.part_number for p in stored}
    return UploadProgress(
        job_id=job.job_id,
        upload_id=job.upload_id or "",
        part_size_bytes=plan.part_size,
        part_count=plan.part_count,
        received=[
            ReceivedPart(part_number=p.part_number, size_bytes=p.size, checksum_sha256=p.checksum_sha256)
            for p in stored
        ],
        missing=[n for n in range(1, plan.part_count + 1) if n not in numbers],
        received_bytes=sum(p.size for p in stored),
    )


@router.post("/{job_id}/complete", response_model=CompletedUpload, responses=ANSWERS)
def complete(
    job_id: uuid.UUID,
    jobs: JobsDep,
    multipart: MultipartDep,
    caller: CallerDep,
    request: CompleteRequest | None = None,
) -> CompletedUpload:
    """Check that the parts S3 holds are exactly the declared file (every part, sizes adding up, checksums), then
    CompleteMultipartUpload. 409 names what is missing or wrong; the upload stays open to send it again."""
    job, plan = _pending(job_id, caller.tenant_id, jobs)
    stored = _stored(job, multipart)
    claimed = {p.part_number: p.checksum_sha256 for p in request.parts} if request else None
    problems = part_problems(plan, stored, claimed)
    if problems:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"the upload of job {job.job_id} is not complete: " + "; ".join(problems)
        )
    checksum = composite_sha256(stored)
    if checksum:
        # Recorded before S3 completes the object: its event can start processing at once.
        jobs.update_fields(job.job_id, {"checksum_sha256": checksum})
    try:
        answer = multipart.complete(job.raw_key, job.upload_id or "", stored)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload"):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                f"S3 refused to complete the upload: {error.get('Code')}: {error.get('Message')}",
            ) from exc
        raise
    s3_checksum = answer.get("ChecksumSHA256")
    if s3_checksum and s3_checksum != checksum:
        jobs.update_fields(job.job_id, {"checksum_sha256": s3_checksum})
    checksum = s3_checksum or checksum
    jobs.record_step(
        job.job_id,
        TimelineEntry(
            step="UploadCompleted",
            outcome="info",
            detail=f"{plan.part_count} parts, SHA-256 {checksum}",
        ),
    )
    current = jobs.get(job.job_id) or job
    return CompletedUpload(
        job_id=job.job_id, status=current.status, size_bytes=job.size_bytes, checksum_sha256=checksum
    )


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response, responses=ANSWERS)
def abort(job_id: uuid.UUID, jobs: JobsDep, multipart: MultipartDep, caller: CallerDep) -> Response:
    """Abort a multipart upload: S3 discards its parts, and the job ends FAILED (UPLOAD_ABORTED)."""
    job, _ = _pending(job_id, caller.tenant_id, jobs)
    try:
        multipart.abort(job.raw_key, job.upload_id or "")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
            raise
    fail_job(
        jobs,
        job.job_id,
        JobError(
            step="Upload",
            code=UploadAbortedError.code,
            message="the client aborted the upload; its parts were discarded",
        ),
        timeline_step="UploadAborted",
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
