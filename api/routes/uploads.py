import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, status

from api.deps import CallerDep, JobsDep, PresignerDep, SettingsDep, UsageDep, admit_upload
from api.schemas import Limits, UploadRequest, UploadResponse
from smmu.jobs import new_job
from smmu.keys import upload_key
from smmu.media_types import ALLOWED_CONTENT_TYPES, canonical, is_allowed
from smmu.validation import human_bytes

router = APIRouter(prefix="/v1", tags=["uploads"])
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"description": "No credential, or one that is not valid"}}
LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "A rate limit or quota of the caller's tenant; see Retry-After"}
}


@router.get("/limits", response_model=Limits, responses=UNAUTHORIZED)
def limits(settings: SettingsDep, caller: CallerDep) -> Limits:
    return Limits(
        max_upload_bytes=settings.max_upload_bytes,
        allowed_content_types=sorted(ALLOWED_CONTENT_TYPES),
        upload_url_ttl_seconds=settings.upload_url_ttl_seconds,
    )


@router.post(
    "/uploads",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadResponse,
    responses={
        413: {"description": "File too large"},
        415: {"description": "Content type not accepted"},
        **UNAUTHORIZED,
        **LIMITED,
    },
)
def create_upload(
    request: UploadRequest,
    settings: SettingsDep,
    jobs: JobsDep,
    presigner: PresignerDep,
    usage: UsageDep,
    caller: CallerDep,
) -> UploadResponse:
    """Create a job and a presigned POST for its file. Processing starts when the upload lands in S3."""
    if not is_allowed(request.content_type):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"content type {request.content_type[:100]!r} is not accepted; accepted types: "
            + ", ".join(sorted(ALLOWED_CONTENT_TYPES)),
        )
    if request.size_bytes > settings.max_upload_bytes:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"size_bytes {request.size_bytes} ({human_bytes(request.size_bytes)}) exceeds the upload limit of "
            f"{settings.max_upload_bytes} bytes ({human_bytes(settings.max_upload_bytes)})",
        )
    admit_upload(caller.tenant_id, request.size_bytes, jobs=jobs, usage=usage, settings=settings)
    content_type = canonical(request.content_type)
    job_id = str(uuid.uuid4())
    key = upload_key(caller.tenant_id, job_id, request.filename)
    job = new_job(
        job_id=job_id,
        tenant_id=caller.tenant_id,
        filename=request.filename,
        content_type=content_type,
        size_bytes=request.size_bytes,
        raw_bucket=settings.raw_bucket,
        raw_key=key,
        upload_ttl_seconds=settings.upload_url_ttl_seconds,
        pending_ttl_seconds=settings.pending_upload_ttl_seconds,
    )
    jobs.create(job)
    upload = presigner.upload(
        bucket=settings.raw_bucket,
        key=key,
        content_type=content_type,
        max_bytes=request.size_bytes,
        ttl_seconds=settings.upload_url_ttl_seconds,
    )
    return UploadResponse(job_id=job_id, status=job.status, upload=upload)
