"""Playback tokens: what lets a player fetch a job's HLS playlists without an Authorization header.

A token names one job (and its tenant) and an expiry, signed with HMAC-SHA256 under the API's playback secret
(a JWT with its own audience, so it is good for nothing else: the bearer-token verifier of api/auth.py accepts
only asymmetric algorithms). PyJWT compares signatures in constant time.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

AUDIENCE = "smmu-playback"
ALGORITHM = "HS256"


class InvalidPlaybackToken(Exception):
    """Expired, altered, or not a playback token."""


@dataclass(frozen=True)
class PlaybackGrant:
    job_id: str
    tenant_id: str
    expires_at: datetime

    def seconds_left(self, now: datetime | None = None) -> int:
        return max(1, int((self.expires_at - (now or datetime.now(UTC))).total_seconds()))


def issue(secret: str, *, job_id: str, tenant_id: str, ttl_seconds: int) -> tuple[str, PlaybackGrant]:
    now = datetime.now(UTC).replace(microsecond=0)
    grant = PlaybackGrant(job_id=job_id, tenant_id=tenant_id, expires_at=now + timedelta(seconds=ttl_seconds))
    claims = {"sub": job_id, "tid": tenant_id, "aud": AUDIENCE, "iat": now, "exp": grant.expires_at}
    return jwt.encode(claims, secret, algorithm=ALGORITHM), grant


def verify(secret: str, token: str) -> PlaybackGrant:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
        )
    except jwt.InvalidTokenError as exc:
        raise InvalidPlaybackToken(str(exc)) from exc
    job_id, tenant_id = claims.get("sub"), claims.get("tid")
    if not isinstance(job_id, str) or not isinstance(tenant_id, str):
        raise InvalidPlaybackToken("the token names no job")
    return PlaybackGrant(job_id=job_id, tenant_id=tenant_id, expires_at=datetime.fromtimestamp(claims["exp"], UTC))
