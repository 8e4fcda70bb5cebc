"""What every function needs: settings, logger, repositories. Built once per execution environment."""

from functools import cache

from aws_lambda_powertools import Logger

from smmu.repository import JobRepository, MediaRepository
from smmu.settings import Settings, get_settings

logger = Logger()


def settings() -> Settings:
    return get_settings()


@cache
def jobs() -> JobRepository:
    return JobRepository(get_settings().jobs_table)


@cache
def media() -> MediaRepository:
    return MediaRepository(get_settings().media_table)
