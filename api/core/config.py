"""API settings: the shared settings plus what only the API needs."""

from functools import lru_cache

from pydantic import Field, SecretStr, field_validator

from smmu.quotas import TenantLimits
from smmu.settings import MIB, Settings


class ApiSettings(Settings):
    #: Browser origins allowed to call the API (CORS). Empty: no cross-origin access.
    cors_origins: list[str] = Field(default_factory=list)
    page_size_default: int = 20
    #: Requests with a larger body are refused with 413 before they are read (an upload request is ~200 bytes).
    max_request_body_bytes: int = Field(default=64 * 1024, gt=0)

    #: OIDC/JWT bearer tokens (e.g. a Cognito user pool): verified against this JWKS URL when set. API keys
    #: keep working alongside.
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    #: The claim that names the caller's tenant.
    jwt_tenant_claim: str = "tenant_id"
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])

    #: Signs the playback tokens of GET /v1/jobs/{id}/playback (HMAC-SHA256): every replica needs the same one.
    #: Required: the API refuses to start without it (``make dev`` and the compose stack generate one per run).
    playback_secret: SecretStr = Field(min_length=32)
    #: How long a playback URL (and the segment URLs its playlists hand out) stays valid.
    playback_ttl_seconds: int = Field(default=3600, gt=0, le=12 * 3600)
    #: The API's address as clients reach it, for the absolute URLs in playlists (default: the request's own).
    public_api_url: str | None = None

    #: Event streams (GET /v1/jobs/{id}/events, GET /v1/events): how often a stream reads the stored events,
    #: how long one stays open at most (the client reconnects with Last-Event-ID), how many one API key may hold
    #: open on one replica, and how old a tenant-wide event must be before it is sent (see smmu/events.py).
    events_poll_seconds: float = Field(default=0.5, gt=0, le=10)
    events_max_stream_seconds: float = Field(default=900, gt=0, le=3600)
    events_max_streams_per_key: int = Field(default=10, gt=0)
    events_lag_seconds: float = Field(default=1.0, ge=0, le=10)

    #: Per tenant, shared by every replica (counted in the usage table). Generous defaults for development.
    rate_limit_requests: int = Field(default=50, gt=0)
    rate_limit_window_seconds: int = Field(default=1, gt=0)
    quota_bytes_per_day: int = Field(default=50 * 1024 * MIB, gt=0)
    quota_active_jobs: int = Field(default=200, gt=0)

    @field_validator("jwt_algorithms")
    @classmethod
    def _asymmetric_only(cls, algorithms: list[str]) -> list[str]:
        # A shared-secret or "none" algorithm would let anyone who knows the public key (or nobody) mint tokens.
        refused = [a for a in algorithms if not a.startswith(("RS", "ES", "PS", "EdDSA"))]
        if refused or not algorithms:
            raise ValueError(f"only asymmetric JWT algorithms are accepted, not {refused or 'none'}")
        return algorithms

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard(cls, origins: list[str]) -> list[str]:
        if "*" in origins:
            raise ValueError("list the allowed origins; '*' would let any web page call the API")
        return origins

    @property
    def limits(self) -> TenantLimits:
        return TenantLimits(
            requests_per_window=self.rate_limit_requests,
            window_seconds=self.rate_limit_window_seconds,
            bytes_per_day=self.quota_bytes_per_day,
            active_jobs=self.quota_active_jobs,
        )


@lru_cache
def get_api_settings() -> ApiSettings:
    return ApiSettings()
