"""ProcessImage: thumbnails into the processed bucket and image metadata into the media table."""

import tempfile
from pathlib import Path

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.process_image.thumbnails import thumbnails_and_metadata
from lambdas.shared.context import jobs, logger, media, settings
from lambdas.shared.step import pipeline_step
from smmu import aws
from smmu.contracts import ObjectStep, ProcessImageResult
from smmu.jobs import JobStatus, Output
from smmu.keys import output_key
from smmu.objects import S3Objects


@logger.inject_lambda_context
@pipeline_step("ProcessImage")
def lambda_handler(event: ObjectStep, context: LambdaContext) -> ProcessImageResult:
    job_id = event.job_id
    config = settings()
    s3 = aws.client("s3")
    with tempfile.TemporaryDirectory() as workdir:
        source = Path(workdir) / "source"
        s3.download_file(event.bucket, event.key, str(source))
        # The upload's widths when it chose some, else the deployment's.
        widths = tuple(event.options.thumbnail_widths or config.thumbnail_widths)
        metadata, renditions = thumbnails_and_metadata(source, config.max_image_pixels, widths)
    outputs: list[Output] = []
    for rendition in renditions:
        key = output_key(job_id, "thumbnails", f"w{rendition.width}.{rendition.extension}")
        s3.put_object(Bucket=config.processed_bucket, Key=key, Body=rendition.data, ContentType=rendition.content_type)
        output = Output(
            kind="thumbnail",
            key=key,
            content_type=rendition.content_type,
            size_bytes=len(rendition.data),
            width=rendition.width,
            height=rendition.height,
        )
        outputs.append(output)
    media().put(job_id, "image", metadata)
    job = jobs().get(job_id)
    if job is None or job.status is not JobStatus.RUNNING:
        # Cancelled or deleted while this ran: whoever removed the job's outputs may have done so before these
        # were written. (The state machine was stopped; this answer goes nowhere.)
        S3Objects(s3).remove_all(config.processed_bucket, output_key(job_id, "thumbnails") + "/")
        if job is None:
            media().delete(job_id)
        logger.warning("the job was cancelled or deleted meanwhile; its thumbnails were removed")
        return ProcessImageResult(outputs=[])
    logger.info("thumbnails written", count=len(outputs))
    return ProcessImageResult(outputs=outputs)
