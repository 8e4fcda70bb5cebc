import uuid
from typing import Any, get_args

from fastapi import APIRouter, HTTPException, status

from api.deps import CallerDep, JobsDep, MultipartDep, PresignerDep, SettingsDep, UsageDep, admit_upload
from api.schemas import Limits, MultipartUpload, OptionLimits, PartUrl, UploadRequest, UploadResponse
from smmu.jobs import new_job
from smmu.keys import upload_key
from smmu.media_types import ALLOWED_CONTENT_TYPES, canonical, is_allowed
from smmu.multipart import CHECKSUM_ALGORITHM, PartPlan, PartPlanError, is_sha256_b64, plan_parts
from smmu.options import ProcessingOptions, ThumbnailFormat, limit_problems
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
        multipart_threshold_bytes=settings.multipart_threshold_bytes,
        multipart_part_bytes=settings.multipart_part_bytes,
        multipart_min_part_bytes=settings.multipart_min_part_bytes,
        multipart_max_part_bytes=settings.multipart_max_part_bytes,
        multipart_max_parts=settings.multipart_max_parts,
        options=OptionLimits(
            thumbnail_width_min=settings.option_thumbnail_width_min,
            thumbnail_width_max=settings.option_thumbnail_width_max,
            thumbnail_widths_max=settings.option_thumbnail_widths_max,
            thumbnail_formats=list(get_args(ThumbnailFormat)),
            ladder_rungs=sorted(settings.option_ladder_rungs, reverse=True),
        ),
    )


def _options(request: UploadRequest, settings: SettingsDep) -> ProcessingOptions:
    """The upload's options as stored on the job; 422 naming each option outside the limits."""
    options = ProcessingOptions.model_validate(request.options.model_dump()) if request.options else ProcessingOptions()
    problems = limit_problems(options, settings)
    if problems:
        # The shape of FastAPI's own validation errors, so a client reads both the same way.
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {"loc": ["body", "options", p.option], "msg": p.message, "type": "option_out_of_limits"}
                for p in problems
            ],
        )
    return options


@router.post(
    "/uploads",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadResponse,
    responses={
        413: {"description": "File too large (or too large for one POST: ask for a multipart upload)"},
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
    multipart: MultipartDep,
) -> UploadResponse:
    """Create a job and the means to upload its file: one presigned POST, or (above the multipart threshold, or
    when asked) a multipart upload whose parts the client PUTs to S3. Processing starts when the file is
    complete in S3."""
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
    in_parts = (
        request.multipart
        if request.multipart is not None
        else (request.size_bytes > settings.multipart_threshold_bytes)
    )
    plan: PartPlan | None = None
    if in_parts:
        plan = _plan(request, settings)
    elif request.size_bytes > settings.multipart_threshold_bytes:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"size_bytes {request.size_bytes} exceeds {settings.multipart_threshold_bytes} bytes, the most one POST "
            "takes; leave out multipart (or set it to true) for a multipart upload",
        )
    options = _options(request, settings)
    admit_upload(caller.tenant_id, request.size_bytes, jobs=jobs, usage=usage, settings=settings)
    content_type = canonical(request.content_type)
    job_id = str(uuid.uuid4())
    key = upload_key(caller.tenant_id, job_id, request.filename)
    if plan is not None:
        return _create_multipart(
            request, plan, job_id, key, content_type, caller.tenant_id, settings, jobs, multipart, presigner, options
        )
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
        options=options,
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


def _plan(request: UploadRequest, settings: SettingsDep) -> PartPlan:
    """The parts of a multipart upload, or 422 before anything is stored."""
    try:
        plan = plan_parts(request.size_bytes, settings, request.part_size_bytes)
    except PartPlanError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    if len(request.part_checksums) > plan.part_count:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"{len(request.part_checksums)} part checksums for an upload of {plan.part_count} parts",
        )
    bad = [n for n, value in enumerate(request.part_checksums, start=1) if not is_sha256_b64(value)]
    if bad:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"part_checksums of parts {bad[:20]} are not base64 SHA-256 digests (44 characters)",
        )
    return plan


def _create_multipart(
    request: UploadRequest,
    plan: PartPlan,
    job_id: str,
    key: str,
    content_type: str,
    tenant_id: str,
    settings: SettingsDep,
    jobs: JobsDep,
    multipart: MultipartDep,
    presigner: PresignerDep,
    options: ProcessingOptions,
) -> UploadResponse:
    upload_id = multipart.create(key, content_type)
    job = new_job(
        job_id=job_id,
        tenant_id=tenant_id,
        filename=request.filename,
        content_type=content_type,
        size_bytes=request.size_bytes,
        raw_bucket=settings.raw_bucket,
        raw_key=key,
        # A multipart upload stays resumable (new part URLs on request) until the reconciler aborts it.
        upload_ttl_seconds=settings.abandoned_upload_seconds,
        pending_ttl_seconds=max(settings.pending_upload_ttl_seconds, settings.abandoned_upload_seconds + 3600),
        options=options,
    ).model_copy(update={"upload_id": upload_id, "part_size_bytes": plan.part_size})
    jobs.create(job)
    parts = [
        PartUrl(
            **presigner.upload_part(
                bucket=settings.raw_bucket,
                key=key,
                upload_id=upload_id,
                part_number=number,
                checksum_sha256=checksum,
                ttl_seconds=settings.upload_url_ttl_seconds,
            )
        )
        for number, checksum in enumerate(request.part_checksums, start=1)
    ]
    return UploadResponse(
        job_id=job_id,
        status=job.status,
        multipart=MultipartUpload(
            upload_id=upload_id,
            part_size_bytes=plan.part_size,
            part_count=plan.part_count,
            checksum_algorithm=CHECKSUM_ALGORITHM,
            parts=parts,
        ),
    )
