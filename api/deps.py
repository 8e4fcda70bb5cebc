"""FastAPI dependencies, as ``Annotated`` aliases the routes declare."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from api.core.config import ApiSettings, get_api_settings
from api.storage import Presigner
from smmu import aws
from smmu.ports import JobStore, MediaStore
from smmu.repository import JobRepository, MediaRepository


@lru_cache
def _jobs(table: str) -> JobStore:
    return JobRepository(table, aws.client("dynamodb"))


@lru_cache
def _media(table: str) -> MediaStore:
    return MediaRepository(table, aws.client("dynamodb"))


@lru_cache
def _presigner(endpoint: str | None, region: str) -> Presigner:
    return Presigner(endpoint, region)


SettingsDep = Annotated[ApiSettings, Depends(get_api_settings)]


def get_jobs(settings: SettingsDep) -> JobStore:
    return _jobs(settings.jobs_table)


def get_media(settings: SettingsDep) -> MediaStore:
    return _media(settings.media_table)


def get_presigner(settings: SettingsDep) -> Presigner:
    return _presigner(settings.public_s3_endpoint_url, settings.region)


JobsDep = Annotated[JobStore, Depends(get_jobs)]
MediaDep = Annotated[MediaStore, Depends(get_media)]
PresignerDep = Annotated[Presigner, Depends(get_presigner)]
