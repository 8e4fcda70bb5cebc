"""ValidateInput: the uploaded object exists, is not empty and keeps to the size and type declared."""

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from lambdas.shared.context import existing_job, logger, settings
from lambdas.shared.step import pipeline_step
from smmu import aws
from smmu.contracts import ObjectStep, ValidateInputResult
from smmu.errors import ObjectMissingError, UploadChangedError
from smmu.validation import check_uploaded_object


@logger.inject_lambda_context
@pipeline_step("ValidateInput")
def lambda_handler(event: ObjectStep, context: LambdaContext) -> ValidateInputResult:
    job = existing_job(event.job_id)
    try:
        head = aws.client("s3").head_object(Bucket=event.bucket, Key=event.key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            raise ObjectMissingError("the uploaded file is no longer in the upload bucket") from exc
        raise
    if job.upload_etag and str(head.get("ETag", "")).strip('"') != job.upload_etag:
        raise UploadChangedError("the file under this job's key is not the upload the job accepted")
    size = int(head["ContentLength"])
    check_uploaded_object(
        actual_size=size,
        declared_size=job.size_bytes,
        max_bytes=settings().max_upload_bytes,
        stored_content_type=head.get("ContentType"),
        declared_content_type=job.content_type,
    )
    return ValidateInputResult(size_bytes=size)
