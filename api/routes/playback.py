"""Playable HLS without a public bucket (docs/playback.md).

``GET /v1/jobs/{id}/playback`` (authorised like every /v1 route) answers a URL of the job's master playlist
carrying a short-lived signed token. The playlist routes under ``/v1/playback/{token}/`` need no header: the
token is the authorisation, for one job until it expires. They serve the stored playlists with every URI
rewritten (``smmu.hls``): playlists to these routes, segments and subtitle files to presigned S3 URLs that
expire with the token.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from api import playback
from api.deps import CallerDep, JobsDep, PresignerDep, ProcessedDep, SettingsDep, UsageDep, too_many
from api.schemas import Playback
from smmu.hls_rewrite import PLAYLIST_SUFFIX, PlaylistError, rewrite
from smmu.jobs import Job, JobStatus, isoformat
from smmu.keys import output_key
from smmu.quotas import LimitExceeded

router = APIRouter(tags=["playback"])
HLS_MASTER = "hls_master"
M3U8 = "application/vnd.apple.mpegurl"
_NOT_VALID = "the playback URL is not valid (expired or altered): ask GET /v1/jobs/{job_id}/playback for a new one"


def _base_url(request: Request, public_api_url: str | None) -> str:
    return (public_api_url or str(request.base_url)).rstrip("/")


def _prefix(job_id: str) -> str:
    return output_key(job_id, "")


def _master(job: Job) -> str:
    """The key of the job's master playlist; 404/409 when it has none (yet)."""
    if job.status is not JobStatus.COMPLETED:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"the job is {job.status.value}: it can be played once it is COMPLETED"
        )
    master = next((o.key for o in job.outputs if o.kind == HLS_MASTER), None)
    if master is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this job has no HLS rendition (only video jobs have one)")
    return master


@router.get(
    "/v1/jobs/{job_id}/playback",
    response_model=Playback,
    responses={
        401: {"description": "No credential, or one that is not valid"},
        404: {"description": "No such job, or one without an HLS rendition"},
        409: {"description": "The job has not completed"},
    },
)
def get_playback(
    job_id: uuid.UUID, request: Request, jobs: JobsDep, settings: SettingsDep, caller: CallerDep
) -> Playback:
    """A URL of the job's HLS master playlist that a player opens as it is, without any header, until
    `expires_at`."""
    job = jobs.get(str(job_id))
    if job is None or job.tenant_id != caller.tenant_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no job with id {job_id}")
    master = _master(job)
    token, grant = playback.issue(
        settings.playback_secret.get_secret_value(),
        job_id=job.job_id,
        tenant_id=job.tenant_id,
        ttl_seconds=settings.playback_ttl_seconds,
    )
    path = master[len(_prefix(job.job_id)) :]
    url = f"{_base_url(request, settings.public_api_url)}/v1/playback/{token}/{path}"
    return Playback(hls_url=url, expires_at=isoformat(grant.expires_at))


def playback_grant(token: str, settings: SettingsDep, usage: UsageDep) -> playback.PlaybackGrant:
    """The job a playback token grants, counted against its tenant's request rate."""
    try:
        grant = playback.verify(settings.playback_secret.get_secret_value(), token)
    except playback.InvalidPlaybackToken as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, _NOT_VALID) from exc
    try:
        usage.hit(grant.tenant_id, settings.limits)
    except LimitExceeded as exc:
        raise too_many(exc) from exc
    return grant


_PLAYLIST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The playlist, every URI in it signed", "content": {M3U8: {}}},
    403: {"description": "An expired or altered token"},
    404: {"description": "No such playlist of this job"},
}


@router.get("/v1/playback/{token}/{path:path}", response_class=Response, responses=_PLAYLIST_RESPONSES)
def get_playlist(
    path: str,
    request: Request,
    grant: Annotated[playback.PlaybackGrant, Depends(playback_grant)],
    jobs: JobsDep,
    files: ProcessedDep,
    presigner: PresignerDep,
    settings: SettingsDep,
) -> Response:
    """One of a job's HLS playlists with every URI in it replaced by a signed URL. Authorised by the token in
    the path (from `GET /v1/jobs/{id}/playback`), not by a header."""
    job = jobs.get(grant.job_id)
    if job is None or job.tenant_id != grant.tenant_id or job.status is not JobStatus.COMPLETED:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such playlist")
    prefix = _prefix(job.job_id)
    key = output_key(job.job_id, path)
    known = files.keys(prefix)
    if not path.endswith(PLAYLIST_SUFFIX) or ".." in path.split("/") or key not in known:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no playlist {path!r} in this job")
    token = request.path_params["token"]
    base = f"{_base_url(request, settings.public_api_url)}/v1/playback/{token}/"
    ttl = grant.seconds_left()
    try:
        text = rewrite(
            files.read_text(key),
            base_key=key,
            prefix=prefix,
            known=known,
            playlist_url=lambda name: base + name[len(prefix) :],
            file_url=lambda name: presigner.download(bucket=settings.processed_bucket, key=name, ttl_seconds=ttl),
        )
    except (PlaylistError, UnicodeDecodeError) as exc:
        # The stored playlist is not one this job can serve (the job's files changed, or it names another's).
        raise HTTPException(status.HTTP_409_CONFLICT, f"{path} cannot be played: {exc}") from exc
    # Signed URLs inside: not for shared caches, and not to leak through a Referer.
    headers = {"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}
    return Response(text, media_type=M3U8, headers=headers)
