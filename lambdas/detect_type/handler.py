"""DetectType: what the bytes are (magic numbers), checked against what the client declared."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.shared.context import existing_job, jobs, logger
from lambdas.shared.step import pipeline_step
from smmu import aws
from smmu.contracts import DetectTypeResult, ObjectStep
from smmu.media_types import DETECTION_HEAD_BYTES, detect


@logger.inject_lambda_context
@pipeline_step("DetectType")
def lambda_handler(event: ObjectStep, context: LambdaContext) -> DetectTypeResult:
    job = existing_job(event.job_id)
    # Only the head is read: detection never needs the whole object.
    obj = aws.client("s3").get_object(Bucket=event.bucket, Key=event.key, Range=f"bytes=0-{DETECTION_HEAD_BYTES - 1}")
    detection = detect(obj["Body"].read(), job.content_type)
    jobs().update_fields(
        job.job_id,
        {"media_type": detection.media_type.value, "detected_content_type": detection.content_type},
    )
    return DetectTypeResult(media_type=detection.media_type.value, content_type=detection.content_type)
