"""What every function needs: settings, logger and the ports' adapters, built once per execution environment.

Unit tests install in-memory fakes instead (``install``); every deployment uses the AWS adapters.
"""

from dataclasses import dataclass
from functools import cache

from aws_lambda_powertools import Logger

from smmu import aws
from smmu.errors import JobNotFoundError
from smmu.jobs import Job
from smmu.objects import S3Objects
from smmu.ports import JobStore, MediaStore, MultipartUploads, ObjectStore, Workflows
from smmu.repository import JobRepository, MediaRepository
from smmu.settings import Settings, get_settings
from smmu.uploads import S3MultipartUploads
from smmu.workflow import StepFunctionsWorkflows

logger = Logger()


@dataclass(frozen=True)
class Adapters:
    jobs: JobStore
    media: MediaStore
    workflows: Workflows
    uploads: MultipartUploads | None = None
    objects: ObjectStore | None = None


_installed: Adapters | None = None


def settings() -> Settings:
    return get_settings()


@cache
def _aws_adapters() -> Adapters:
    config = get_settings()
    return Adapters(
        jobs=JobRepository(config.jobs_table, aws.client("dynamodb")),
        media=MediaRepository(config.media_table, aws.client("dynamodb")),
        workflows=StepFunctionsWorkflows(config.state_machine_arn, aws.client("stepfunctions")),
        uploads=S3MultipartUploads(config.raw_bucket, aws.client("s3")),
        objects=S3Objects(aws.client("s3")),
    )


def adapters() -> Adapters:
    return _installed or _aws_adapters()


def install(replacement: Adapters | None) -> None:
    """Use ``replacement`` instead of the AWS adapters (None: back to AWS)."""
    global _installed
    _installed = replacement


def jobs() -> JobStore:
    return adapters().jobs


def existing_job(job_id: str) -> Job:
    """The job a step was started for; JobNotFoundError if there is none."""
    job = jobs().get(job_id)
    if job is None:
        raise JobNotFoundError(f"job {job_id} does not exist")
    return job


def media() -> MediaStore:
    return adapters().media


def workflows() -> Workflows:
    return adapters().workflows


def uploads() -> MultipartUploads:
    installed = adapters().uploads
    return installed if installed is not None else _aws_adapters().uploads  # type: ignore[return-value]


def objects() -> ObjectStore:
    installed = adapters().objects
    return installed if installed is not None else _aws_adapters().objects  # type: ignore[return-value]
