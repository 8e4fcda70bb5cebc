"""ProcessImage: thumbnails (JPEG, WebP, AVIF) into the processed bucket, image metadata into the media table, and
the placeholder and perceptual hash on the job. An upload whose bytes a completed job of the same tenant already
had is not processed again: that job's outputs and metadata are copied, and the job says ``duplicate_of``."""

import hashlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from lambdas.process_image.thumbnails import thumbnails_and_metadata
from lambdas.shared.context import existing_job, jobs, logger, media, settings
from lambdas.shared.step import pipeline_step
from smmu import aws
from smmu.contracts import ObjectStep, ProcessImageResult
from smmu.jobs import Job, JobStatus, Output, Placeholder, TimelineEntry, content_key, dump
from smmu.keys import OUTPUT_PREFIX, output_key
from smmu.objects import S3Objects

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@logger.inject_lambda_context
@pipeline_step("ProcessImage")
def lambda_handler(event: ObjectStep, context: LambdaContext) -> ProcessImageResult:
    job = existing_job(event.job_id)
    config = settings()
    s3 = aws.client("s3")
    with tempfile.TemporaryDirectory() as workdir:
        source = Path(workdir) / "source"
        s3.download_file(event.bucket, event.key, str(source))
        # The one read of the upload serves both: its hash, and (unless it is a duplicate) its pixels. S3 keeps no
        # SHA-256 of a whole POST upload, and a multipart upload's is of its parts' checksums.
        with source.open("rb") as stream:
            sha256 = hashlib.file_digest(stream, "sha256").hexdigest()
        jobs().update_fields(job.job_id, {"sha256": sha256, "content_key": content_key(job.tenant_id, sha256)})
        original = jobs().find_completed_by_content(job.tenant_id, sha256, job.options)
        # Reused only when the original was made with the same choices (widths, formats).
        if original is not None and original.job_id != job.job_id and original.options == job.options:
            reused = _reuse(job, original, s3, config.processed_bucket)
            if reused is not None:
                return reused
        processed = thumbnails_and_metadata(
            source,
            config.max_image_pixels,
            # The upload's choices when it made some, else the deployment's.
            tuple(event.options.thumbnail_widths or config.thumbnail_widths),
            tuple(event.options.thumbnail_formats or config.image_formats),
            keep_location=config.expose_image_location,
        )
    outputs: list[Output] = []
    for rendition in processed.renditions:
        key = output_key(job.job_id, "thumbnails", f"w{rendition.width}.{rendition.extension}")
        s3.put_object(Bucket=config.processed_bucket, Key=key, Body=rendition.data, ContentType=rendition.content_type)
        output = Output(
            kind="thumbnail" if rendition.primary else "thumbnail_variant",
            key=key,
            content_type=rendition.content_type,
            size_bytes=len(rendition.data),
            width=rendition.width,
            height=rendition.height,
        )
        outputs.append(output)
    media().put(job.job_id, "image", processed.metadata)
    current = jobs().get(job.job_id)
    if current is None or current.status not in (JobStatus.RUNNING, JobStatus.COMPLETED):
        # Cancelled, deleted, retried or failed while this ran: whoever removed the job's outputs may have done so
        # before these were written, and no such job lists them. (The state machine was stopped or has moved on;
        # this answer goes nowhere.)
        S3Objects(s3).remove_all(config.processed_bucket, output_key(job.job_id, "thumbnails") + "/")
        if current is None:
            media().delete(job.job_id)
        logger.warning("the job was cancelled, deleted or ended meanwhile; its thumbnails were removed")
        return ProcessImageResult(outputs=[])
    if current.status is JobStatus.COMPLETED:
        # A late run: this invoke outlived its state's timeout and the retried one completed the job. It wrote the
        # same keys with the same bytes, which the job lists: removing them would take the job's outputs.
        logger.warning("the job was completed by a retried run meanwhile; its thumbnails were left as they are")
        return ProcessImageResult(outputs=outputs)
    fingerprint = processed.fingerprint
    placeholder = Placeholder(thumbhash=fingerprint.thumbhash, dominant_color=fingerprint.dominant_color)
    jobs().update_fields(job.job_id, {"placeholder": dump(placeholder), "perceptual_hash": fingerprint.perceptual_hash})
    logger.info("thumbnails written", count=len(outputs))
    return ProcessImageResult(outputs=outputs)


def _reuse(job: Job, original: Job, s3: "S3Client", bucket: str) -> ProcessImageResult | None:
    """Copy ``original``'s outputs (server-side: no bytes through here) and metadata to ``job``. Copies, not
    references: each job's outputs live and are deleted with it. Idempotent: a retry copies to the same keys.
    None when the original's outputs are gone (deleted, expired): then the upload is processed after all."""
    root = original.duplicate_of or original.job_id
    source_prefix, target_prefix = f"{OUTPUT_PREFIX}{original.job_id}/", f"{OUTPUT_PREFIX}{job.job_id}/"
    outputs = []
    # Only this step's own files: a GIF's animation is the transcode worker's, which reuses it itself.
    for output in (o for o in original.outputs if o.key.startswith(output_key(original.job_id, "thumbnails") + "/")):
        key = target_prefix + output.key.removeprefix(source_prefix)
        try:
            s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": output.key})
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("NoSuchKey", "404", "NotFound"):
                raise
            logger.info("the duplicate's original outputs are gone; processing it", original=original.job_id)
            return None
        outputs.append(output.model_copy(update={"key": key}))
    record = media().get(original.job_id)
    if record is not None:
        media().put(job.job_id, record["media_type"], record["metadata"])
    fields: dict[str, Any] = {"duplicate_of": root, "perceptual_hash": original.perceptual_hash}
    if original.placeholder is not None:
        fields["placeholder"] = dump(original.placeholder)
    jobs().update_fields(job.job_id, {k: v for k, v in fields.items() if v is not None})
    jobs().record_step(
        job.job_id,
        TimelineEntry(step="DuplicateFound", outcome="info", detail=f"same bytes as job {root}: its outputs reused"),
    )
    logger.info("duplicate upload: outputs reused", duplicate_of=root, count=len(outputs))
    return ProcessImageResult(outputs=outputs)
