import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status

from api.deps import CallerDep, JobsDep, LifecycleDep, MediaDep, PresignerDep, SettingsDep
from api.schemas import JobPage, JobSummary, JobView, OutputView, SimilarJob, SimilarJobs
from smmu.jobs import Job, JobStatus
from smmu.lifecycle import CancelReport, DeletionReport, JobConflict, JobNotFound, RetryReport
from smmu.similar import Match, find_similar

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "No credential, or one that is not valid"}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such job"}}
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The job's status does not allow it: `detail` says why, `status` is the job's status"}
}


@router.get("", response_model=JobPage, responses=UNAUTHORIZED)
def list_jobs(
    jobs: JobsDep,
    settings: SettingsDep,
    caller: CallerDep,
    status_filter: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> JobPage:
    """The caller's jobs, newest first, a page at a time; pass ``next_cursor`` back as ``cursor`` for the next
    page."""
    try:
        page, next_cursor = jobs.list(
            tenant_id=caller.tenant_id, status=status_filter, limit=limit or settings.page_size_default, cursor=cursor
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    items = [JobSummary.model_validate(job.model_dump()) for job in page]
    return JobPage(items=items, next_cursor=next_cursor)


def _own_job(jobs: JobsDep, caller: CallerDep, job_id: uuid.UUID) -> Job:
    job = jobs.get(str(job_id))
    # Another tenant's job answers exactly as a missing one does.
    if job is None or job.tenant_id != caller.tenant_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job with id {job_id}")
    return job


@router.get("/{job_id}", response_model=JobView, responses={404: {"description": "No such job"}, **UNAUTHORIZED})
def get_job(
    job_id: uuid.UUID,
    jobs: JobsDep,
    media: MediaDep,
    presigner: PresignerDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> JobView:
    job = _own_job(jobs, caller, job_id)
    outputs = [
        OutputView(
            **output.model_dump(),
            url=presigner.download(
                bucket=settings.processed_bucket,
                key=output.key,
                ttl_seconds=settings.download_url_ttl_seconds,
            ),
        )
        for output in job.outputs
    ]
    media_item = media.get(job.job_id) if job.status is JobStatus.COMPLETED else None
    return JobView(
        **job.model_dump(exclude={"outputs", "upload_expires_at", "tenant_id", "content_key"}),
        upload_expires_at=job.upload_expires_at if job.status is JobStatus.PENDING_UPLOAD else None,
        outputs=outputs,
        metadata=media_item["metadata"] if media_item else None,
    )


@router.get(
    "/{job_id}/similar",
    response_model=SimilarJobs,
    responses={
        404: {"description": "No such job"},
        409: {"description": "The job has no fingerprint (not a completed image or video job)"},
        **UNAUTHORIZED,
    },
)
def similar_jobs(
    job_id: uuid.UUID,
    jobs: JobsDep,
    settings: SettingsDep,
    caller: CallerDep,
    max_distance: Annotated[int | None, Query(ge=0, le=128, description="Default: the service's setting")] = None,
) -> SimilarJobs:
    """The caller's other jobs with the same image or video: ``exact`` (the same bytes) and ``near`` (a resized,
    re-encoded or lightly edited copy: perceptual hashes within ``max_distance`` bits per picture; a video's are
    compared frame by frame, and only with other videos), among the tenant's newest jobs."""
    job = _own_job(jobs, caller, job_id)
    if job.status is not JobStatus.COMPLETED or job.perceptual_hash is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"job {job_id} has no fingerprint (status {job.status.value}, media type {job.media_type}): "
            "only completed image and video jobs have one",
        )
    limit = settings.similar_max_distance if max_distance is None else max_distance
    found = find_similar(
        job, jobs.with_perceptual_hash(caller.tenant_id, scan_limit=settings.similar_scan_limit), limit
    )

    def view(match: Match) -> SimilarJob:
        return SimilarJob(
            job_id=match.job.job_id,
            filename=match.job.filename,
            created_at=match.job.created_at,
            distance=match.distance,
        )

    return SimilarJobs(
        job_id=job.job_id, max_distance=limit, exact=[view(m) for m in found.exact], near=[view(m) for m in found.near]
    )


def _conflict(exc: JobConflict) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, {"message": str(exc), "status": exc.status.value})


@router.post("/{job_id}/cancel", response_model=CancelReport, responses={**NOT_FOUND, **CONFLICT, **UNAUTHORIZED})
def cancel_job(job_id: uuid.UUID, lifecycle: LifecycleDep, caller: CallerDep) -> CancelReport:
    """Stop a job that waits for its upload, is queued or runs: it ends CANCELLED, its workers stop their tools
    within seconds and what it had written is removed. 409 for a job that has ended."""
    try:
        return lifecycle.cancel(str(job_id), caller.tenant_id)
    except JobNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except JobConflict as exc:
        raise _conflict(exc) from exc


@router.post(
    "/{job_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RetryReport,
    responses={**NOT_FOUND, **CONFLICT, **UNAUTHORIZED},
)
def retry_job(job_id: uuid.UUID, lifecycle: LifecycleDep, caller: CallerDep) -> RetryReport:
    """Process a FAILED or CANCELLED job's stored upload again, as its next attempt (a new execution). 409 for
    any other status, or when the upload is no longer stored."""
    try:
        return lifecycle.retry(str(job_id), caller.tenant_id)
    except JobNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except JobConflict as exc:
        raise _conflict(exc) from exc


@router.delete("/{job_id}", response_model=DeletionReport, responses={**NOT_FOUND, **UNAUTHORIZED})
def delete_job(job_id: uuid.UUID, lifecycle: LifecycleDep, caller: CallerDep) -> DeletionReport:
    """Erase a job: cancel it if it is active, then remove the uploaded file (every version), every output (every
    version) and its records. The answer lists what was removed."""
    try:
        return lifecycle.delete(str(job_id), caller.tenant_id)
    except JobNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
