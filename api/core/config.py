"""API settings: the shared settings plus what only the API needs."""

from functools import lru_cache

from pydantic import Field

from smmu.settings import Settings


class ApiSettings(Settings):
    #: Where clients reach S3 when it differs from the endpoint the API itself uses (in a compose stack the
    #: API talks to http://emulator:4566 but a browser on the host needs http://127.0.0.1:4566).
    public_s3_endpoint_url: str | None = None
    cors_origins: list[str] = Field(default_factory=list)
    page_size_default: int = 20


@lru_cache
def get_api_settings() -> ApiSettings:
    return ApiSettings()
