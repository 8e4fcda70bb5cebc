"""FastAPI dependencies, as ``Annotated`` aliases the routes declare."""

from datetime import timedelta
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Caller, JwtVerifier, Unauthenticated, authenticate
from api.core.config import ApiSettings, get_api_settings
from api.storage import Presigner, ProcessedFiles
from smmu import aws
from smmu.jobs import isoformat, utcnow
from smmu.lifecycle import JobLifecycle
from smmu.notifications import JobEventPublisher, PublishingJobRepository
from smmu.objects import S3Objects
from smmu.ports import JobStore, MediaStore, MultipartUploads
from smmu.quotas import LimitExceeded, UsageStore
from smmu.repository import MediaRepository
from smmu.tenants import ApiKeyStore
from smmu.uploads import S3MultipartUploads
from smmu.webhook_store import DeliveryRepository, WebhookRepository
from smmu.workflow import StepFunctionsWorkflows


@lru_cache
def _jobs(table: str, queue: str, bus: str) -> JobStore:
    # Every status change the API makes (an aborted upload, a cancel) is announced (EventBridge, webhooks).
    publisher = JobEventPublisher(sqs=aws.client("sqs"), events=aws.client("events"), queue_name=queue, event_bus=bus)
    return PublishingJobRepository(table, aws.client("dynamodb"), publisher)


@lru_cache
def _media(table: str) -> MediaStore:
    return MediaRepository(table, aws.client("dynamodb"))


@lru_cache
def _multipart(bucket: str) -> MultipartUploads:
    return S3MultipartUploads(bucket, aws.client("s3"))


@lru_cache
def _webhooks(table: str) -> WebhookRepository:
    return WebhookRepository(table, aws.client("dynamodb"))


@lru_cache
def _deliveries(table: str) -> DeliveryRepository:
    return DeliveryRepository(table, aws.client("dynamodb"))


@lru_cache
def _presigner(endpoint: str | None, region: str) -> Presigner:
    return Presigner(endpoint, region)


@lru_cache
def _processed(bucket: str) -> ProcessedFiles:
    return ProcessedFiles(bucket, aws.client("s3"))


@lru_cache
def _keys(table: str) -> ApiKeyStore:
    return ApiKeyStore(table, aws.client("dynamodb"))


@lru_cache
def _usage(table: str) -> UsageStore:
    return UsageStore(table, aws.client("dynamodb"))


SettingsDep = Annotated[ApiSettings, Depends(get_api_settings)]


def get_jobs(settings: SettingsDep) -> JobStore:
    return _jobs(settings.jobs_table, settings.webhook_queue, settings.event_bus)


def get_media(settings: SettingsDep) -> MediaStore:
    return _media(settings.media_table)


def get_presigner(settings: SettingsDep) -> Presigner:
    return _presigner(settings.public_s3_endpoint_url, settings.region)


def get_multipart(settings: SettingsDep) -> MultipartUploads:
    return _multipart(settings.raw_bucket)


def get_processed(settings: SettingsDep) -> ProcessedFiles:
    return _processed(settings.processed_bucket)


def get_keys(settings: SettingsDep) -> ApiKeyStore:
    return _keys(settings.api_keys_table)


def get_usage(settings: SettingsDep) -> UsageStore:
    return _usage(settings.usage_table)


def get_webhooks(settings: SettingsDep) -> WebhookRepository:
    return _webhooks(settings.webhooks_table)


def get_deliveries(settings: SettingsDep) -> DeliveryRepository:
    return _deliveries(settings.webhook_deliveries_table)


def get_jwt_verifier(settings: SettingsDep) -> JwtVerifier | None:
    if not settings.jwt_jwks_url:
        return None
    return JwtVerifier(
        jwks_url=settings.jwt_jwks_url,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        tenant_claim=settings.jwt_tenant_claim,
        algorithms=tuple(settings.jwt_algorithms),
    )


@lru_cache
def _workflows(arn: str, name: str) -> StepFunctionsWorkflows:
    sfn = aws.client("stepfunctions")
    # Unset where the account id is only known at run time (a compose stack: each emulator has its own): the
    # pipeline of that name.
    if not arn:
        machines = [m for page in sfn.get_paginator("list_state_machines").paginate() for m in page["stateMachines"]]
        arn = next((m["stateMachineArn"] for m in machines if m["name"] == name), "")
        if not arn:
            raise RuntimeError(f"SMMU_STATE_MACHINE_ARN is not set and there is no state machine named {name}")
    return StepFunctionsWorkflows(arn, sfn)


def get_lifecycle(settings: SettingsDep) -> JobLifecycle:
    return JobLifecycle(
        jobs=_jobs(settings.jobs_table, settings.webhook_queue, settings.event_bus),
        media=_media(settings.media_table),
        workflows=_workflows(settings.state_machine_arn, settings.state_machine_name),
        objects=S3Objects(aws.client("s3")),
        uploads=_multipart(settings.raw_bucket),
        deliveries=_deliveries(settings.webhook_deliveries_table),
        settings=settings,
    )


JobsDep = Annotated[JobStore, Depends(get_jobs)]
LifecycleDep = Annotated[JobLifecycle, Depends(get_lifecycle)]
MediaDep = Annotated[MediaStore, Depends(get_media)]
PresignerDep = Annotated[Presigner, Depends(get_presigner)]
MultipartDep = Annotated[MultipartUploads, Depends(get_multipart)]
ProcessedDep = Annotated[ProcessedFiles, Depends(get_processed)]
KeysDep = Annotated[ApiKeyStore, Depends(get_keys)]
UsageDep = Annotated[UsageStore, Depends(get_usage)]
WebhooksDep = Annotated[WebhookRepository, Depends(get_webhooks)]
DeliveriesDep = Annotated[DeliveryRepository, Depends(get_deliveries)]
JwtDep = Annotated[JwtVerifier | None, Depends(get_jwt_verifier)]

#: Shows an "Authorize" button on /docs; a missing header is our 401, not FastAPI's 403.
bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="API key (smmu_…) or JWT",
    description="An API key (`smmu keys create`; `make dev` prints one) or an OIDC access token.",
)


def too_many(exc: LimitExceeded) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"{exc} [limit: {exc.limit}]",
        headers={"Retry-After": str(exc.retry_after)},
    )


def get_caller(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    keys: KeysDep,
    verifier: JwtDep,
    usage: UsageDep,
    settings: SettingsDep,
) -> Caller:
    """The authenticated caller, counted against its tenant's request rate."""
    try:
        caller = authenticate(credentials.credentials if credentials else None, keys, verifier)
    except Unauthenticated as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": 'Bearer realm="smmu"'}
        ) from exc
    try:
        usage.hit(caller.tenant_id, settings.limits)
    except LimitExceeded as exc:
        raise too_many(exc) from exc
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def admit_upload(tenant_id: str, size_bytes: int, *, jobs: JobStore, usage: UsageStore, settings: ApiSettings) -> None:
    """The tenant's quotas for a new upload: active jobs, then the day's bytes (counted only if admitted)."""
    now = utcnow()
    active = jobs.count_active(tenant_id, now=isoformat(now), since=isoformat(now - timedelta(days=1)))
    if active >= settings.quota_active_jobs:
        raise too_many(
            LimitExceeded(
                "active_jobs",
                f"active job quota reached: at most {settings.quota_active_jobs} jobs waiting for their upload or "
                "being processed for this tenant",
                retry_after=30,
            )
        )
    try:
        usage.reserve_bytes(tenant_id, size_bytes, settings.limits)
    except LimitExceeded as exc:
        raise too_many(exc) from exc
