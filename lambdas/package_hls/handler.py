"""PackageHls: after the parallel transcode and transcribe branches, the transcript's captions become a
SUBTITLES rendition of the HLS master playlist (in the spoken language), so players offer them without any
extra wiring.

Files go next to the master (``.../transcode/hls/``): the WebVTT with its timestamp map, and a one-segment
subtitles playlist; the master is rewritten in place. Media without HLS (audio) or without captions (no speech)
passes through unchanged.
"""

import re
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.shared.context import jobs, logger, settings
from lambdas.shared.step import pipeline_step
from smmu import aws
from smmu.contracts import OutputGroup, PackageHls, PackageHlsResult
from smmu.hls import subtitles_playlist, vtt_for_hls, with_subtitles
from smmu.jobs import JobStatus, Output
from smmu.keys import OUTPUT_PREFIX
from smmu.objects import S3Objects

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

M3U8 = "application/vnd.apple.mpegurl"
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


def _find(groups: list[OutputGroup], kind: str) -> Output | None:
    return next((o for g in groups for o in g.outputs if o.kind == kind), None)


@logger.inject_lambda_context
@pipeline_step("PackageHls")
def lambda_handler(event: PackageHls, context: LambdaContext) -> PackageHlsResult:
    groups = event.groups
    summary = next((g.transcript for g in groups if g.transcript is not None), None) or {}
    language = str(summary.get("language") or "")
    if not LANGUAGE_CODE.fullmatch(language):
        language = ""  # only ISO 639 codes go into file names and the playlist
    master, vtt = _find(groups, "hls_master"), _find(groups, "subtitles_vtt")
    if master is None or vtt is None or summary.get("empty", True):
        return PackageHlsResult(output_groups=groups, language=language)

    bucket = settings().processed_bucket
    s3 = aws.client("s3")
    folder = master.key.rsplit("/", 1)[0]
    hls = next((g.hls for g in groups if g.hls is not None), None)
    name = f"subtitles_{language or 'und'}"

    duration = vtt.duration_seconds or master.duration_seconds or 0.0
    current = _read(s3, bucket, master.key)
    if f'URI="{name}.m3u8"' in current:
        # The master names these captions already, so they were written before it: an identical upload's
        # packaging, copied with its files (a duplicate), or this step's own before a retry. Left as they are.
        updated = current.encode()
        playlist_size = s3.head_object(Bucket=bucket, Key=f"{folder}/{name}.m3u8")["ContentLength"]
    else:
        captions = vtt_for_hls(_read(s3, bucket, vtt.key), hls.mpegts_start if hls else None).encode()
        playlist = subtitles_playlist(f"{name}.vtt", duration).encode()
        updated = with_subtitles(current, uri=f"{name}.m3u8", language=language or None).encode()
        s3.put_object(Bucket=bucket, Key=f"{folder}/{name}.vtt", Body=captions, ContentType="text/vtt")
        s3.put_object(Bucket=bucket, Key=f"{folder}/{name}.m3u8", Body=playlist, ContentType=M3U8)
        # The master last: until it names the captions, nothing points at the new files.
        s3.put_object(Bucket=bucket, Key=master.key, Body=updated, ContentType=M3U8)
        playlist_size = len(playlist)
        current_job = jobs().get(event.job_id)
        if current_job is None or current_job.status is JobStatus.CANCELLED:
            # A late run (its invoke outlived the state's timeout) after a cancel or delete, which removed the
            # job's outputs before these were written: nothing of a cancelled or deleted job stays.
            S3Objects(s3).remove_all(bucket, f"{OUTPUT_PREFIX}{event.job_id}/")
            logger.warning("the job was cancelled or deleted meanwhile; its outputs were removed")
            return PackageHlsResult(output_groups=[], language=language)

    subtitles = Output(
        kind="hls_subtitles",
        key=f"{folder}/{name}.m3u8",
        content_type=M3U8,
        size_bytes=playlist_size,
        duration_seconds=duration,
    )
    packaged = []
    for group in groups:
        if not any(o.key == master.key for o in group.outputs):
            packaged.append(group)
            continue
        # A duplicate's branch lists the copied captions already: listed once, not twice.
        outputs = [
            o.model_copy(update={"size_bytes": len(updated)}) if o.key == master.key else o
            for o in group.outputs
            if o.key != subtitles.key
        ]
        packaged.append(group.model_copy(update={"outputs": [*outputs, subtitles]}))
    logger.info("captions added to the HLS master", language=language)
    return PackageHlsResult(output_groups=packaged, language=language)


def _read(s3: "S3Client", bucket: str, key: str) -> str:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
